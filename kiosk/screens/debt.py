"""The debt by service a utility provider's check answered: what is owed for what, then Next (issue 17)."""

from __future__ import annotations

from typing import Any

import pygame

from kiosk import events as ev
from kiosk.screens.base import BACK, HOME, Screen, provider_name
from kiosk.screens.categories import NEXT as PAGE_NEXT
from kiosk.screens.categories import PREV, page_row
from kiosk.screens.frame import Nav, standard
from kiosk.screens.panels import Table
from kiosk.screens.text import Msg, Painter, TextLike
from kiosk.screens.theme import Theme
from kiosk.screens.widgets import Group, Label, Widget
from kiosk.session import SessionView

NEXT = "debt-next"
#: how the payment will be split, in the payer's words
SPLIT_WORDS = {
    "proportional": Msg("You may pay all of it, part of it or more: the payment is split across the services in "
                        "proportion to their debts"),
    "in_order": Msg("You may pay all of it, part of it or more: the services are paid off in the order listed"),
}


def period_text(period: str) -> str:
    """MMYYYY as the bill writes it: 10.2026."""
    return f"{period[:2]}.{period[2:]}" if len(period) == 6 else period


class DebtScreen(Screen):
    """Services and amounts owed, the total, the period and the payer; how a payment will be split."""

    states = ("debt",)
    name = "debt"

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.page = 0

    def key(self, view: SessionView) -> Any:
        """The view and the page of services shown (a new debt starts at the first page)."""
        if view.state != "debt":
            self.page = 0
        return super().key(view), self.page

    def rows(self, view: SessionView) -> list[tuple[TextLike, TextLike]]:
        """The payer, the period, each service with its debt, the total."""
        debt = view.debt
        if debt is None:
            return []
        rows: list[tuple[TextLike, TextLike]] = []
        if debt.payer:
            rows.append((Msg("Payer"), debt.payer))
        if debt.period:
            rows.append((Msg("Period"), period_text(debt.period)))
        rows += [(service.name, self.ctx.money(service.amount)) for service in debt.services]
        rows.append((Msg("Total due"), self.ctx.money(debt.total)))
        return rows

    def build(self, view: SessionView, painter: Painter, theme: Theme, rect: pygame.Rect) -> Group:
        """The table of services, the note on the split under it, Back / Cancel / Next.

        A small display in large text drops what the payer can do without first (the payer and period rows,
        then the note), and only then pages the services, a few at a time, with the total on every page.
        """
        buttons = [Nav(Msg("Back"), BACK), Nav(Msg("Cancel"), HOME), Nav(Msg("Next"), NEXT, "primary")]
        title = Msg("Debt: {provider}", provider=painter.resolve(provider_name(self.ctx, view.provider)))
        widgets, body = standard(self, view, painter, rect, title, buttons)
        debt = view.debt
        if debt is None:
            return Group(widgets)
        note = SPLIT_WORDS.get(debt.split, SPLIT_WORDS["proportional"])
        rows = self.rows(view)
        services: list[tuple[TextLike, TextLike]] = [(s.name, self.ctx.money(s.amount)) for s in debt.services]
        total: tuple[TextLike, TextLike] = (Msg("Total due"), self.ctx.money(debt.total))
        for shown, with_note in ((rows, True), ([*services, total], True), ([*services, total], False)):
            laid = self._table(painter, body, shown, note if with_note else None)
            if laid is not None:
                return Group(widgets + laid)
        # page the services: as many a page as fit above the page buttons, the total on every page
        m, gap = self.ctx.min_px, theme.spacing
        area = pygame.Rect(body.x, body.y, body.width, body.height - m - gap)
        per_page = len(services)
        while per_page > 1 and self._table(painter, area, [*services[:per_page], total], None) is None:
            per_page -= 1
        pages = -(-len(services) // per_page)
        self.page = min(self.page, pages - 1)
        start = self.page * per_page
        table = Table(area, [*services[start:start + per_page], total], size="title", alerts=(per_page,))
        row = pygame.Rect(body.x, area.bottom + gap, body.width, m)
        return Group(widgets + [table, *page_row(painter, row, self.page, pages, m)])

    def _table(self, painter: Painter, body: pygame.Rect, rows: list[tuple[TextLike, TextLike]],
               note: TextLike | None) -> list[Widget] | None:
        """The rows (the last one, the total, stands out) and the note under them, or None if they do not fit."""
        gap = painter.theme.spacing
        note_h = 0
        if note is not None:
            lines = len(painter.wrap(painter.resolve(note), "base", body.width))
            note_h = painter.font("base").get_linesize() * min(3, lines) + gap // 2
        area = pygame.Rect(body.x, body.y, body.width, body.height - (note_h + gap if note_h else 0))
        table = Table(area, rows, size="title", alerts=(len(rows) - 1,))
        if area.height <= 0 or not table.fit(painter)[2]:
            return None
        out: list[Widget] = [table]
        if note is not None:
            top = area.y + table.used_height(painter) + gap
            out.append(Label((body.x, top, body.width, note_h), note, "base", "muted_text", max_lines=3))
        return out

    def handle(self, action: str, view: SessionView) -> list[Any]:
        """Next goes on to the meters or the confirmation; the page buttons turn pages of services."""
        if action == NEXT:
            return [ev.DebtNext()]
        if action in (PREV, PAGE_NEXT):
            self.page = max(0, self.page + (1 if action == PAGE_NEXT else -1))
            self.stale = True
            return []
        return super().handle(action, view)
