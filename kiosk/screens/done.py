"""Done: the payment is accepted (delivered now, or safely queued to be delivered later); take the receipt."""

from __future__ import annotations

from typing import Any

import pygame

from kiosk import events as ev
from kiosk.screens.base import Screen, phone, provider_name
from kiosk.screens.frame import Nav, heading, standard, take_top
from kiosk.screens.panels import Banner, Table, banner_fit, tables
from kiosk.screens.text import Msg, Painter, TextLike
from kiosk.screens.theme import Theme
from kiosk.screens.widgets import Group, Widget
from kiosk.session import SessionView

FINISH = "finish"
PRINTED = ("printed",)


def last_outcome(screen: Screen, view: SessionView) -> str | None:
    """What the last delivery attempt of the operation on screen came to, through the screen port."""
    return screen.ctx.terminal.last_outcome(view.operation)


def receipt_rows(screen: Screen, view: SessionView) -> list[tuple[TextLike, TextLike]]:
    """What support will ask for and what the payer paid, as table rows."""
    ctx = screen.ctx
    return [(Msg("Operation number"), str(view.operation or "")),
            (Msg("Terminal number"), ctx.terminal.config.terminal),
            (Msg("Payee"), provider_name(ctx, view.provider)),
            (Msg("Account"), phone(view.account_display)),
            (Msg("Inserted"), ctx.money(view.cash)),
            (Msg("Fee"), ctx.money(view.fee)),
            (Msg("To be credited"), ctx.money(view.credited))]


def receipt_note(view: SessionView) -> tuple[Msg, str]:
    """Whether the payer has a receipt to take, as a banner text and tone."""
    if view.receipt == "printing":
        return Msg("Printing your receipt…"), "focus"
    if view.receipt in PRINTED:
        return Msg("Take your receipt"), "success"
    return Msg("The receipt could not be printed. Write down the terminal and operation numbers"), "danger"


def notes_and_rows(painter: Painter, area: pygame.Rect, notes: list[tuple[Msg, str]],
                   rows: list[tuple[TextLike, TextLike]], screen: PagedScreen | None = None) -> list[Widget]:
    """Banners above the table; where they do not all fit (large text on a short display), side by side,
    and where that does not fit either, in pages."""
    gap = painter.theme.spacing

    def stacked(rect: pygame.Rect) -> tuple[list[Widget], bool, pygame.Rect]:
        """The banners from the top of rect; whether they all fit whole; what is left under them."""
        out: list[Widget] = []
        rest, need = rect, 0
        for text, tone in notes:
            height = banner_fit(painter, text, rect.width)
            need += height + gap
            strip, rest = take_top(rest, height, gap)
            out.append(Banner(strip, text, tone))
        return out, need < rect.height, rest

    widgets, fits, rest = stacked(area)
    table = tables(rest, rows, gap, painter=painter) if fits else []
    if fits and all(t.fit(painter)[2] for t in table):  # type: ignore[attr-defined]
        return widgets + table
    if area.width >= area.height * 1.2:
        # a wide, short display: the messages at the left, what was paid at the right
        left = pygame.Rect(area.x, area.y, (area.width - gap) // 2, area.height)
        right = pygame.Rect(left.right + gap, area.y, area.right - left.right - gap, area.height)
        widgets, fits, _ = stacked(left)
        beside = Table(right, rows)
        if fits and beside.fit(painter)[2]:
            return widgets + [beside]
    if screen is not None:
        return screen.pages(painter, area, notes, rows)
    return widgets + tables(rest, rows, gap, painter=painter)


class PagedScreen(Screen):
    """A screen whose messages and table may not fit at once (large text on a small display): then they are
    shown a page at a time, whole, with page buttons under them, and nothing is left out."""

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.page = 0
        self.paged_for: int | None = None  # the operation the page is of

    def pages(self, painter: Painter, area: pygame.Rect, notes: list[tuple[Msg, str]],
              rows: list[tuple[TextLike, TextLike]]) -> list[Widget]:
        """The banners, then the table's rows, spread over pages of area; the page shown and its buttons."""
        gap, finger = painter.theme.spacing, self.ctx.finger_px or self.ctx.min_px
        room = area.height - finger - gap
        items: list[tuple[int, bool, Any]] = [(banner_fit(painter, text, area.width), True, (text, tone))
                                              for text, tone in notes]
        items += [(Table((0, 0, area.width, room), [row]).used_height(painter), False, row) for row in rows]
        pages: list[list[tuple[int, bool, Any]]] = [[]]
        used = 0
        for item in items:
            if pages[-1] and used + item[0] > room:
                pages.append([])
                used = 0
            pages[-1].append(item)
            used += item[0] + (gap if item[1] else 0)
        self.page = max(0, min(self.page, len(pages) - 1))
        widgets: list[Widget] = []
        top, table_rows, table_top = area.y, [], area.y
        for height, banner, item in pages[self.page]:
            if banner:
                widgets.append(Banner((area.x, top, area.width, height), *item))
                top += height + gap
                table_top = top
            else:
                table_rows.append(item)
                top += height
        if table_rows:
            widgets.append(Table((area.x, table_top, area.width, top - table_top), table_rows))
        if len(pages) > 1:
            from kiosk.screens.categories import page_row

            row = pygame.Rect(area.x, area.bottom - finger, area.width, finger)
            widgets += page_row(painter, row, self.page, len(pages), finger)
        return widgets

    def key(self, view: SessionView) -> Any:
        """The view and the page; a new operation starts on the first page."""
        if view.operation != self.paged_for:
            self.page, self.paged_for = 0, view.operation
        return super().key(view), self.page

    def handle(self, action: str, view: SessionView) -> list[Any]:
        """The page buttons turn pages."""
        from kiosk.screens.categories import NEXT, PREV

        if action in (PREV, NEXT):
            self.page += 1 if action == NEXT else -1
            self.stale = True
            return []
        return super().handle(action, view)


class DoneScreen(PagedScreen):
    """Payment accepted; says plainly whether it reached the provider or waits to be delivered."""

    states = ("receipt",)
    name = "done"

    def build(self, view: SessionView, painter: Painter, theme: Theme, rect: pygame.Rect) -> Group:
        """Heading, what happens next, the receipt note and the details."""
        widgets, body = standard(self, view, painter, rect, Msg("Thank you!"),
                                 [Nav(Msg("To the start"), FINISH, "primary")])
        delivered = view.outcome == "delivered"
        title, rest = heading(painter, body, Msg("Payment accepted"), colour="success")
        widgets.append(title)
        notes = [receipt_note(view)]
        if delivered:
            notes.append((Msg("Keep the receipt until the money arrives"), "focus"))
        else:
            notes.append((Msg("Your money is safe: the payment will be delivered later"), "focus"))
            if last_outcome(self, view) == "unknown":
                notes.append((Msg("We are finding out whether the payment went through. Your money is safe"),
                              "focus"))
            else:
                notes.append((Msg("The provider is not answering now. The terminal will keep trying; "
                                  "you do not need to do anything"), "focus"))
        widgets += notes_and_rows(painter, rest, notes, receipt_rows(self, view), self)
        return Group(widgets)

    def handle(self, action: str, view: SessionView) -> list[Any]:
        """The payer is done."""
        if action == FINISH:
            return [ev.ReceiptTaken()]
        return super().handle(action, view)
