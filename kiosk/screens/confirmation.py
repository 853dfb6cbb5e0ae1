"""Confirmation, before any money is taken: payee from the check, fee rule, limits, agent, provider, support."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pygame

from kiosk import events as ev
from kiosk.screens.base import BACK, HOME, Screen, ScreenContext, phone, provider_name
from kiosk.screens.frame import Nav, button_width, standard, take_top
from kiosk.screens.panels import Banner, Panel, Table, banner_fit
from kiosk.screens.text import Msg, Painter, TextLike
from kiosk.screens.theme import Theme
from kiosk.screens.widgets import Button, Group, Label, Widget
from kiosk.session import SessionView

CONFIRM = "confirm"
LEGAL = "legal-details"
#: what a check's detail names mean to the payer (OSMP <fields>, CyberPlat ADDINFO), by name in lower case;
#: names not here are shown as the gateway spells them
DETAIL_LABELS: dict[str, Msg] = {
    "fio": Msg("Name"),
    "name": Msg("Name"),
    "subscriber": Msg("Name"),
    "balance": Msg("Balance"),
    "debt": Msg("Debt"),
    "address": Msg("Address"),
    # a payment by bank details: whom the bill names, as the processing confirmed it
    "payee": Msg("Payee on the bill"),
    "payee_inn": Msg("Payee INN on the bill"),
    "purpose": Msg("Purpose of payment"),
}
#: details that are data to be worded by the screen, not words: the virtual gateway (demo, tests) names its
#: subscriber by the account's last digits, which the payer reads in the screen's language
DETAIL_WORDING: dict[str, Msg] = {
    "subscriber": Msg("Subscriber {number}"),
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


def detail_value(ctx: ScreenContext, value: str, name: str = "") -> TextLike:
    """A detail's value; a decimal amount is written as money in the screen's language, and a detail that is
    data for the screen to word (DETAIL_WORDING) is worded in it."""
    text = value.strip()
    wording = DETAIL_WORDING.get(name.strip().casefold())
    if wording is not None:
        return Msg(wording.msgid, number=text)
    if DECIMAL.fullmatch(text):
        return ctx.money(int(Decimal(text.replace(",", ".")) * 100))
    return text


class ConfirmationScreen(Screen):
    """Everything the payer agrees to, then Confirm opens the validator."""

    states = ("confirmation",)
    name = "confirmation"

    def __init__(self, ctx: ScreenContext) -> None:
        super().__init__(ctx)
        self.legal_open = False  # on a small display the legal details are shown instead of the table

    def rows(self, view: SessionView) -> list[tuple[TextLike, TextLike]]:
        """What the payer must check first, in the order they read it: payee, account, fee, limits."""
        ctx = self.ctx
        provider = ctx.terminal.catalog.providers.get(view.provider or "")
        rows: list[tuple[TextLike, TextLike]] = [(Msg("Payee"), provider_name(ctx, view.provider))]
        rows += [(detail_label(k), detail_value(ctx, str(v), k)) for k, v in view.details.items() if str(v).strip()]
        rows.append((Msg("Account"), phone(view.account_display)))
        if provider is not None:
            rows.append((Msg("Fee"), provider.fee.describe(ctx.lang)))
        rows.append((Msg("Limits"), Msg("from {min} to {max}", min=ctx.money(view.min_amount),
                                        max=ctx.money(view.max_amount))))
        return rows

    def legal(self, view: SessionView) -> list[Msg]:
        """The legal details a receipt also carries (receipts.md), as short sentences for the secondary block."""
        config = self.ctx.terminal.config
        provider = self.ctx.terminal.catalog.providers.get(view.provider or "")
        out = []
        if provider is not None:
            out.append(Msg("Payee INN {inn}, phone {phone}.", inn=provider.inn, phone=phone(provider.phone)))
        out.append(Msg("Payment agent {name}, INN {inn}, {address}.", name=config.agent.name, inn=config.agent.inn,
                       address=config.agent.address))
        # how to file a claim is part of what must be shown before money is taken (receipts.md)
        out.append(Msg("Claims: call support at {phone}", phone=phone(config.support_phone)))
        return out

    def build(self, view: SessionView, painter: Painter, theme: Theme, rect: pygame.Rect) -> Group:
        """What to check, large; the legal details in a smaller block under it; the warnings; the buttons."""
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
        legal = " ".join(painter.resolve(m) for m in self.legal(view))
        # the secondary block: as much room as its words need at the theme's smallest readable size
        inner_w = body.width - 2 * gap
        small = painter.theme.sizes.minimum
        px = max(small, min(painter.px("base"), painter.px("base") * 4 // 5))
        legal_h = painter.font(px).get_linesize() * len(painter.wrap(legal, px, inner_w)) + gap
        area, rest = take_top(body, body.height - legal_h - gap - sum(h + gap for h in heights), gap)
        table = Table(area, self.rows(view), size="title")
        if not table.fit(painter)[2]:
            # a small display in large text: the legal details move behind a button of their own, so what
            # the payer must check first keeps its size; they are one press away, before any money is taken
            return self._paged(view, painter, body, widgets, legal, px, notes, heights)
        table.rect.height = table.used_height(painter)
        widgets.append(table)
        box = pygame.Rect(body.x, table.rect.bottom + gap, body.width, legal_h)
        widgets.append(Panel(box, "surface"))
        widgets.append(Label(box.inflate(-2 * gap, -gap // 2), legal, px, "muted_text", valign="middle"))
        _, rest = take_top(rest, legal_h, gap)
        for (text, tone), height in zip(notes, heights, strict=True):
            strip, rest = take_top(rest, height, gap)
            widgets.append(Banner(strip, text, tone))
        return Group(widgets)

    def _paged(self, view: SessionView, painter: Painter, body: pygame.Rect, widgets: list[Widget], legal: str,
               px: int, notes: list[tuple[Msg, str]], heights: list[int]) -> Group:
        """The body in two views: the payment (table and warnings) or the legal details, a button between."""
        gap, finger = painter.theme.spacing, self.ctx.finger_px or self.ctx.min_px
        label = Msg("Back to the payment") if self.legal_open else Msg("Agent, INN and claims")
        # the warnings keep their place at the bottom (the offer of more time covers them whole, as elsewhere)
        bottom = body.bottom
        for (text, tone), height in reversed(list(zip(notes, heights, strict=True))):
            widgets.append(Banner((body.x, bottom - height, body.width, height), text, tone))
            bottom -= height + gap
        switch = pygame.Rect(body.x, bottom - finger, button_width(painter, label, finger), finger)
        widgets.append(Button(switch, label, LEGAL, "secondary"))
        rest = pygame.Rect(body.x, body.y, body.width, switch.top - gap - body.y)
        if self.legal_open:
            widgets.append(Panel(rest, "surface"))
            widgets.append(Label(rest.inflate(-2 * gap, -gap // 2), legal, px, "muted_text", valign="middle"))
        else:
            widgets.append(Table(rest, self.rows(view), size="title"))
        return Group(widgets)

    def key(self, view: SessionView) -> Any:
        """The view and whether the legal details are open (a new payment starts with them closed)."""
        if view.state != "confirmation":
            self.legal_open = False
        return super().key(view), self.legal_open

    def handle(self, action: str, view: SessionView) -> list[Any]:
        """Confirm lets money in; Change goes back to the number; the legal details open and close."""
        if action == LEGAL:
            self.legal_open, self.stale = not self.legal_open, True
            return []
        if action == CONFIRM:
            return [ev.Confirm()]
        return super().handle(action, view)
