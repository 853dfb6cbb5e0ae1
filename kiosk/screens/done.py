"""Done: the payment is accepted (delivered now, or safely queued to be delivered later); take the receipt."""

from __future__ import annotations

from typing import Any

import pygame

from kiosk import events as ev
from kiosk.screens.base import Screen, phone, provider_name
from kiosk.screens.frame import Nav, heading, standard, take_top
from kiosk.screens.panels import Banner, banner_fit, tables
from kiosk.screens.text import Msg, Painter, TextLike
from kiosk.screens.theme import Theme
from kiosk.screens.widgets import Group
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


class DoneScreen(Screen):
    """Payment accepted; says plainly whether it reached the provider or waits to be delivered."""

    states = ("receipt",)
    name = "done"

    def build(self, view: SessionView, painter: Painter, theme: Theme, rect: pygame.Rect) -> Group:
        """Heading, what happens next, the receipt note and the details."""
        gap = theme.spacing
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
        for text, tone in notes:
            strip, rest = take_top(rest, banner_fit(painter, text, rest.width), gap)
            widgets.append(Banner(strip, text, tone))
        widgets += tables(rest, receipt_rows(self, view), gap, painter=painter)
        return Group(widgets)

    def handle(self, action: str, view: SessionView) -> list[Any]:
        """The payer is done."""
        if action == FINISH:
            return [ev.ReceiptTaken()]
        return super().handle(action, view)
