"""The online check in progress: the payee's processing system is asked whether the account exists."""

from __future__ import annotations

import pygame

from kiosk.screens.base import HOME, Screen, phone, provider_name
from kiosk.screens.frame import Nav, heading, standard, take_top
from kiosk.screens.panels import Table
from kiosk.screens.text import Msg, Painter
from kiosk.screens.theme import Theme
from kiosk.screens.widgets import Group, Label
from kiosk.session import SessionView


class CheckingScreen(Screen):
    """'Checking the number…' with what is being checked; Cancel is still possible (no money yet)."""

    states = ("online_check",)
    name = "checking"

    def build(self, view: SessionView, painter: Painter, theme: Theme, rect: pygame.Rect) -> Group:
        """Heading, a line of reassurance, the provider and the number."""
        widgets, body = standard(self, view, painter, rect, provider_name(self.ctx, view.provider),
                                 [Nav(Msg("Cancel"), HOME)], Msg("Waiting for an answer: {seconds} s"))
        title, rest = heading(painter, body, Msg("Checking the number…"))
        widgets.append(title)
        note, rest = take_top(rest, painter.font("base").get_linesize() * 2, theme.spacing)
        widgets.append(Label(note, Msg("This usually takes a few seconds"), "base", "muted_text", max_lines=2))
        table_h = (painter.font("base", True).get_linesize() + theme.spacing) * 2
        table, _ = take_top(rest, table_h, theme.spacing)
        widgets.append(Table(table, [(Msg("Payee"), provider_name(self.ctx, view.provider)),
                                     (Msg("Account"), phone(view.account_display))]))
        return Group(widgets)
