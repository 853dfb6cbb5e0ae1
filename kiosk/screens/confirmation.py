"""Confirmation, before any money is taken: payee from the check, fee rule, limits, agent, provider, support."""

from __future__ import annotations

from typing import Any

import pygame

from kiosk import events as ev
from kiosk.screens.base import BACK, HOME, Screen, phone, provider_name
from kiosk.screens.frame import Nav, standard, take_top
from kiosk.screens.panels import Banner, Table, banner_fit
from kiosk.screens.text import Msg, Painter, TextLike
from kiosk.screens.theme import Theme
from kiosk.screens.widgets import Group
from kiosk.session import SessionView

CONFIRM = "confirm"
#: what the check's detail keys mean to the payer; other keys are shown as the gateway names them
DETAIL_LABELS: dict[str, Msg] = {
    "name": Msg("Account holder"),
    "address": Msg("Address"),
    "balance": Msg("Balance"),
    "debt": Msg("Amount due"),
}


class ConfirmationScreen(Screen):
    """Everything the payer agrees to, then Confirm opens the validator."""

    states = ("confirmation",)
    name = "confirmation"

    def rows(self, view: SessionView) -> list[tuple[TextLike, TextLike]]:
        """The label/value rows, in the order a payer reads them."""
        ctx, config = self.ctx, self.ctx.terminal.config
        provider = ctx.terminal.catalog.providers.get(view.provider or "")
        rows: list[tuple[TextLike, TextLike]] = [(Msg("Payee"), provider_name(ctx, view.provider))]
        rows += [(DETAIL_LABELS.get(k, k), str(v)) for k, v in view.details.items() if str(v)]
        rows.append((Msg("Account"), phone(view.account_display)))
        if provider is not None:
            rows.append((Msg("Fee"), provider.fee.describe(ctx.lang)))
        rows.append((Msg("Limits"), Msg("from {min} to {max}", min=ctx.money(view.min_amount),
                                        max=ctx.money(view.max_amount))))
        if provider is not None:
            rows.append((Msg("Payee INN"), provider.inn))
            rows.append((Msg("Payee phone"), phone(provider.phone)))
        rows.append((Msg("Payment agent"), config.agent.name))
        rows.append((Msg("Agent INN"), config.agent.inn))
        rows.append((Msg("Agent address"), config.agent.address))
        rows.append((Msg("Support phone"), phone(config.support_phone)))
        return rows

    def build(self, view: SessionView, painter: Painter, theme: Theme, rect: pygame.Rect) -> Group:
        """The details table with the warnings under it; Change, Cancel and Confirm."""
        gap = theme.spacing
        buttons = [Nav(Msg("Change"), BACK), Nav(Msg("Cancel"), HOME), Nav(Msg("Confirm"), CONFIRM, "primary")]
        widgets, body = standard(self, view, painter, rect, Msg("Check the payment details"), buttons)
        notes: list[tuple[Msg, str]] = []
        if view.no_receipt:
            notes.append((Msg("The receipt printer is not working: payments are accepted without a paper receipt"),
                          "danger"))
        if view.offline:
            notes.append((Msg("The terminal is offline: the payment will be delivered when the connection is back"),
                          "focus"))
        notes.append((Msg("Once a banknote is inserted, the payment cannot be cancelled"), "focus"))
        heights = [banner_fit(painter, text, body.width) for text, _ in notes]
        table, rest = take_top(body, body.height - sum(h + gap for h in heights), gap)
        widgets.append(Table(table, self.rows(view), size="button"))
        for (text, tone), height in zip(notes, heights, strict=True):
            strip, rest = take_top(rest, height, gap)
            widgets.append(Banner(strip, text, tone))
        return Group(widgets)

    def handle(self, action: str, view: SessionView) -> list[Any]:
        """Confirm lets money in; Change goes back to the number."""
        if action == CONFIRM:
            return [ev.Confirm()]
        return super().handle(action, view)
