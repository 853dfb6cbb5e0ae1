"""Confirmation, before any money is taken: payee from the check, fee rule, limits, agent, provider, support."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pygame

from kiosk import events as ev
from kiosk.screens.base import BACK, HOME, Screen, ScreenContext, phone, provider_name
from kiosk.screens.frame import Nav, standard, take_top
from kiosk.screens.panels import Banner, Table, banner_fit
from kiosk.screens.text import Msg, Painter, TextLike
from kiosk.screens.theme import Theme
from kiosk.screens.widgets import Group, Label
from kiosk.session import SessionView

CONFIRM = "confirm"
#: what a check's detail names mean to the payer (OSMP <fields>, CyberPlat ADDINFO), by name in lower case;
#: names not here are shown as the gateway spells them
DETAIL_LABELS: dict[str, Msg] = {
    "fio": Msg("Name"),
    "name": Msg("Name"),
    "balance": Msg("Balance"),
    "debt": Msg("Debt"),
    "address": Msg("Address"),
}
#: numbered free-text lines some gateways send (disp1, disp2 …)
DISPLAY_LINE = re.compile(r"disp\d+")
#: a value that is an amount in roubles as gateways write them: '2216.44', '-15.5', '2216,44'
DECIMAL = re.compile(r"[-+]?\d{1,12}[.,]\d{1,2}")


def detail_label(name: str) -> TextLike:
    """The label of a check's detail: a translated one for the names gateways agree on, else the name."""
    key = name.strip().casefold()
    if DISPLAY_LINE.fullmatch(key):
        return Msg("Details")
    return DETAIL_LABELS.get(key, name)


def detail_value(ctx: ScreenContext, value: str) -> str:
    """A detail's value; a decimal amount is written as money in the screen's language."""
    text = value.strip()
    if DECIMAL.fullmatch(text):
        return ctx.money(int(Decimal(text.replace(",", ".")) * 100))
    return text


class ConfirmationScreen(Screen):
    """Everything the payer agrees to, then Confirm opens the validator."""

    states = ("confirmation",)
    name = "confirmation"

    def rows(self, view: SessionView) -> list[tuple[TextLike, TextLike]]:
        """The label/value rows, in the order a payer reads them."""
        ctx, config = self.ctx, self.ctx.terminal.config
        provider = ctx.terminal.catalog.providers.get(view.provider or "")
        rows: list[tuple[TextLike, TextLike]] = [(Msg("Payee"), provider_name(ctx, view.provider))]
        rows += [(detail_label(k), detail_value(ctx, str(v))) for k, v in view.details.items() if str(v).strip()]
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
        # how to file a claim is part of what must be shown before money is taken (receipts.md)
        claims = Msg("Claims: call support at {phone}", phone=phone(self.ctx.terminal.config.support_phone))
        claims_h = painter.font("base").get_linesize() * min(2, len(painter.wrap(painter.resolve(claims), "base",
                                                                                  body.width)))
        area, rest = take_top(body, body.height - claims_h - gap - sum(h + gap for h in heights), gap)
        _, rest = take_top(rest, claims_h, gap)  # room kept for the claims line, which sits right under the rows
        table = Table(area, self.rows(view), size="button")
        table.rect.height = table.used_height(painter)
        widgets.append(table)
        # the claims line reads as the table's last word; the warnings stay at the bottom, above the buttons
        widgets.append(Label((area.x, table.rect.bottom + gap // 2, area.width, claims_h), claims, "base", "text",
                             max_lines=2))
        for (text, tone), height in zip(notes, heights, strict=True):
            strip, rest = take_top(rest, height, gap)
            widgets.append(Banner(strip, text, tone))
        return Group(widgets)

    def handle(self, action: str, view: SessionView) -> list[Any]:
        """Confirm lets money in; Change goes back to the number."""
        if action == CONFIRM:
            return [ev.Confirm()]
        return super().handle(action, view)
