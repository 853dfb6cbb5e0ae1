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
                   rows: list[tuple[TextLike, TextLike]]) -> list[Widget]:
    """Banners above the table; where they do not all fit (large text on a short display), side by side."""
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
        widgets, _, _ = stacked(left)
        return widgets + [Table(right, rows)]
    return widgets + tables(rest, rows, gap, painter=painter)


class DoneScreen(Screen):
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
        widgets += notes_and_rows(painter, rest, notes, receipt_rows(self, view))
        return Group(widgets)

    def handle(self, action: str, view: SessionView) -> list[Any]:
        """The payer is done."""
        if action == FINISH:
            return [ev.ReceiptTaken()]
        return super().handle(action, view)
