"""Out of service: no money is taken while a device is faulty; says so, with the support phone."""

from __future__ import annotations

from typing import Any

import pygame

from kiosk.screens.attract import service_corner
from kiosk.screens.base import phone
from kiosk.screens.frame import header, heading, take_top
from kiosk.screens.panels import Banner, banner_fit, banner_height
from kiosk.screens.pin import PinEntry, PinPadScreen
from kiosk.screens.text import Msg, Painter
from kiosk.screens.theme import Theme
from kiosk.screens.widgets import Group, Label
from kiosk.session import SessionView

PRINTER_FAULTS = ("printer",)


def fault_text(fault: str | None) -> Msg:
    """What a fault means for the payer."""
    if fault in PRINTER_FAULTS:
        return Msg("Receipts cannot be printed at the moment, so payments are not accepted")
    if fault == "journal":
        return Msg("Payments cannot be recorded at the moment, so they are not accepted")
    return Msg("Banknotes are not accepted at the moment")


class OutOfServiceScreen(PinPadScreen):
    """Temporarily out of service; the hidden service entry stays (engineers fix it from here)."""

    states = ("out_of_service",)
    name = "out_of_service"

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.pin = PinEntry(self)

    def build(self, view: SessionView, painter: Painter, theme: Theme, rect: pygame.Rect) -> Group:
        """Heading, apology, what does not work, the support phone."""
        gap = theme.spacing
        config = self.ctx.terminal.config
        widgets, head_h = header(self, painter, rect, "")  # the heading below says it, large
        body = pygame.Rect(rect.x + gap, rect.y + head_h + 2 * gap, rect.width - 2 * gap,
                           rect.height - head_h - 3 * gap - self.ctx.min_px)
        title, rest = heading(painter, body, Msg("Temporarily out of service"), colour="danger")
        widgets.append(title)
        note, rest = take_top(rest, painter.font("base").get_linesize() * 2, gap)
        widgets.append(Label(note, Msg("Sorry for the inconvenience"), "base", "muted_text", max_lines=2))
        strip, rest = take_top(rest, banner_height(painter), gap)
        if view.locked is not None:
            widgets.append(Banner(strip, Msg("Payments are not accepted: the terminal is closed by its owner"),
                                  "danger"))
            if view.locked:  # the dealer's own words, shown as written
                strip, rest = take_top(rest, banner_fit(painter, view.locked, strip.width), gap)
                widgets.append(Banner(strip, view.locked, "focus"))
        else:
            widgets.append(Banner(strip, fault_text(view.fault), "danger"))
        if view.waiting:
            strip, rest = take_top(rest, banner_height(painter), gap)
            widgets.append(Banner(strip, Msg("Payments already made are safe and will be delivered"), "focus"))
        strip, rest = take_top(rest, painter.font("title", True).get_linesize() * 2, gap)
        widgets.append(Label(strip, Msg("Support: {phone}", phone=phone(config.support_phone)), "title", bold=True,
                             max_lines=2))
        if self.pin.open:
            widgets += self.pin.widgets(view, painter, rect)
        else:
            widgets += service_corner(self, painter, rect)
        return Group(widgets)

    def key(self, view: SessionView) -> Any:
        """The fault, the dealer's lock, the queue and the PIN message decide the look."""
        return view.state, view.fault, view.locked, bool(view.waiting), view.message

    def handle(self, action: str, view: SessionView) -> list[Any]:
        """Only the language and the hidden service entry answer here."""
        pad = self.pin.handle(action, view)
        return pad if pad is not None else super().handle(action, view)
