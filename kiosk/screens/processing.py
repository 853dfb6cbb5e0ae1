"""Processing: the operation is committed and is being delivered while the payer waits a little."""

from __future__ import annotations

import pygame

from kiosk.screens.base import Screen, phone, provider_name
from kiosk.screens.frame import heading, standard, take_top
from kiosk.screens.panels import Table
from kiosk.screens.text import Msg, Painter
from kiosk.screens.theme import Theme
from kiosk.screens.widgets import Group, Label
from kiosk.session import SessionView


class ProcessingScreen(Screen):
    """'Processing the payment…': the money is already recorded; there is nothing to press."""

    states = ("commit", "delivery")
    name = "processing"

    def build(self, view: SessionView, painter: Painter, theme: Theme, rect: pygame.Rect) -> Group:
        """Heading, reassurance, what is being paid."""
        widgets, body = standard(self, view, painter, rect, provider_name(self.ctx, view.provider), [],
                                 Msg("Waiting for the provider: {seconds} s"))
        title, rest = heading(painter, body, Msg("Processing the payment…"))
        widgets.append(title)
        note, rest = take_top(rest, painter.font("base").get_linesize() * 2, theme.spacing)
        widgets.append(Label(note, Msg("Please wait for your receipt"), "base", "muted_text", max_lines=2))
        rows = [(Msg("Payee"), provider_name(self.ctx, view.provider)), (Msg("Account"), phone(view.account_display)),
                (Msg("Inserted"), self.ctx.money(view.cash)), (Msg("To be credited"), self.ctx.money(view.credited))]
        table, _ = take_top(rest, (painter.font("base", True).get_linesize() + theme.spacing) * len(rows),
                            theme.spacing)
        widgets.append(Table(table, rows))
        return Group(widgets)
