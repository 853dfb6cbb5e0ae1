"""Declined or failed: the payment did not go through; says plainly where the money is and what to do."""

from __future__ import annotations

from typing import Any

import pygame

from kiosk import events as ev
from kiosk.screens.base import phone
from kiosk.screens.done import FINISH, PagedScreen, last_outcome, notes_and_rows, receipt_note, receipt_rows
from kiosk.screens.frame import Nav, heading, standard
from kiosk.screens.text import Msg, Painter
from kiosk.screens.theme import Theme
from kiosk.screens.widgets import Group
from kiosk.session import SessionView


class FailedScreen(PagedScreen):
    """The operation needs attention: the money is recorded under its number; support sorts it out."""

    states = ("receipt",)
    name = "failed"

    def build(self, view: SessionView, painter: Painter, theme: Theme, rect: pygame.Rect) -> Group:
        """Heading, why, where the money is, whom to call and with which numbers."""
        config = self.ctx.terminal.config
        widgets, body = standard(self, view, painter, rect, Msg("Payment not completed"),
                                 [Nav(Msg("To the start"), FINISH, "primary")])
        declined = last_outcome(self, view) == "declined"
        why = Msg("The provider declined the payment") if declined else Msg("The payment could not be delivered")
        title, rest = heading(painter, body, why, colour="danger")
        widgets.append(title)
        notes = [
            (Msg("Your money is not lost: it is recorded in the terminal under this operation number"), "focus"),
            (Msg("Payment not completed: keep the receipt and call support {phone}", phone=phone(config.support_phone)),
             "danger"),
            (Msg("Give support the terminal number {terminal} and the operation number {operation}",
                 terminal=config.terminal, operation=view.operation or ""), "focus"),
        ]
        text, tone = receipt_note(view)
        if tone == "danger":
            notes.append((text, tone))
        # payee, account and cash: the terminal and operation numbers are in the banner above, whole
        widgets += notes_and_rows(painter, rest, notes, receipt_rows(self, view)[2:5], self)
        return Group(widgets)

    def handle(self, action: str, view: SessionView) -> list[Any]:
        """The payer is done."""
        if action == FINISH:
            return [ev.ReceiptTaken()]
        return super().handle(action, view)
