"""The debt by service a utility provider's check answered: what is owed for what, then Next (issue 17)."""

from __future__ import annotations

from typing import Any

import pygame

from kiosk import events as ev
from kiosk.screens.base import BACK, HOME, Screen, provider_name
from kiosk.screens.frame import Nav, standard, take_top
from kiosk.screens.panels import Banner, Table, banner_fit
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


def scan_banner(ctx: Any, view: SessionView, painter: Painter, body: pygame.Rect) -> tuple[list[Widget], pygame.Rect]:
    """Why a scanned code cannot be paid, in the parser's own words, above what the screen shows."""
    if view.scan_problem is None:
        return [], body
    text = view.scan_problem.text(ctx.lang)
    strip, rest = take_top(body, banner_fit(painter, text, body.width), painter.theme.spacing)
    return [Banner(strip, text, "danger")], rest


class DebtScreen(Screen):
    """Services and amounts owed, the total, the period and the payer; how a payment will be split."""

    states = ("debt",)
    name = "debt"

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
        """The table of services, the note on the split under it, Back / Cancel / Next."""
        gap = theme.spacing
        buttons = [Nav(Msg("Back"), BACK), Nav(Msg("Cancel"), HOME), Nav(Msg("Next"), NEXT, "primary")]
        title = Msg("Debt: {provider}", provider=painter.resolve(provider_name(self.ctx, view.provider)))
        widgets, body = standard(self, view, painter, rect, title, buttons)
        if view.debt is None:
            return Group(widgets)
        note = SPLIT_WORDS.get(view.debt.split, SPLIT_WORDS["proportional"])
        note_h = painter.font("base").get_linesize() * min(3, len(painter.wrap(painter.resolve(note), "base",
                                                                               body.width))) + gap // 2
        area = pygame.Rect(body.x, body.y, body.width, body.height - note_h - gap)
        table = Table(area, self.rows(view), size="title", alerts=(len(self.rows(view)) - 1,))
        widgets.append(table)
        used = table.used_height(painter) if table.fit(painter)[2] else area.height
        widgets.append(Label((body.x, min(area.bottom, area.y + used) + gap, body.width, note_h), note, "base",
                             "muted_text", max_lines=3))
        return Group(widgets)

    def handle(self, action: str, view: SessionView) -> list[Any]:
        """Next goes on to the meters or the confirmation."""
        if action == NEXT:
            return [ev.DebtNext()]
        return super().handle(action, view)
