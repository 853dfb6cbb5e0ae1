"""A meter's reading on a large decimal keypad: the previous reading shown, an unlikely value asked about."""

from __future__ import annotations

import re
from typing import Any

import pygame

from kiosk import events as ev
from kiosk.catalog import InputField
from kiosk.screens.account import entry_widgets
from kiosk.screens.base import BACK, Screen
from kiosk.screens.entry import DECIMAL_POINT, Keypad
from kiosk.screens.frame import Nav, standard
from kiosk.screens.text import Msg, Painter, TextLike
from kiosk.screens.theme import Theme
from kiosk.screens.widgets import BACKSPACE, CLEAR, Group
from kiosk.session import SessionView

NEXT, CONFIRM, SKIP = "reading-next", "reading-confirm", "reading-skip"
UNITS: dict[str, TextLike] = {"m3": Msg("m³"), "kWh": Msg("kWh")}
MAX_DIGITS = 12
VALUE = re.compile(r"\d{1,12}(,\d{1,6})?")  # a reading Next can take (kiosk.utility.parse_decimal decides)
#: the field the reading is typed into (the label, naming the unit, is given when it is drawn)
READING = InputField("reading", {}, re.compile(r"[0-9,]*"), max_length=MAX_DIGITS + 7, keyboard="text")


def typed(text: str, key: str) -> str:
    """The reading after one key: digits, one decimal comma (at most six decimals), backspace, clear."""
    if key == BACKSPACE:
        return text[:-1]
    if key == CLEAR:
        return ""
    if key == DECIMAL_POINT:
        return text if "," in text else (text or "0") + ","
    if key.isdigit() and len(key) == 1:
        whole, _, fraction = text.partition(",")
        if ("," in text and len(fraction) >= 6) or ("," not in text and len(whole) >= MAX_DIGITS):
            return text
        return text + key
    return text


class ReadingsScreen(Screen):
    """One meter: its name and number, the previous reading, the field, the keypad; Next, Skip, Back."""

    states = ("readings",)
    name = "readings"

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.keypad: Keypad | None = None

    def note(self, view: SessionView) -> tuple[TextLike, str]:
        """The previous reading as a hint, or the question about an unlikely value."""
        meter = view.meter
        previous = f"{meter.previous:f}".replace(".", ",") if meter is not None and meter.previous is not None else ""
        if view.reading_problem == "wrong_format":
            return Msg("Type the reading as digits, with a comma before the decimals"), "danger"
        if view.reading_problem == "lower":
            return Msg("The reading is lower than the previous one ({previous}). Correct it, or confirm it if the "
                       "meter was replaced", previous=previous), "danger"
        if view.reading_problem == "too_high":
            return Msg("The reading is much higher than the previous one ({previous}). Correct it, or confirm it "
                       "if it is right", previous=previous), "danger"
        if previous:
            when = meter.previous_date if meter is not None else ""
            if when:
                return Msg("Previous reading {previous} on {date}", previous=previous,
                           date=".".join(reversed(when.split("-")))), ""
            return Msg("Previous reading {previous}", previous=previous), ""
        return Msg("Type the reading from the meter"), ""

    def build(self, view: SessionView, painter: Painter, theme: Theme, rect: pygame.Rect) -> Group:
        """Title with the meter, the field with the hint or the question, the keypad, the footer."""
        meter = view.meter
        asked = view.reading_problem in ("lower", "too_high")
        ready = VALUE.fullmatch(view.reading_text.replace(".", ",")) is not None  # the session checks it again
        buttons = [Nav(Msg("Back"), BACK)]
        if view.skip_allowed:
            buttons.append(Nav(Msg("Skip"), SKIP))
        # a short word: three buttons share the footer of a small display
        buttons.append(Nav(Msg("Yes, right"), CONFIRM, "primary") if asked else Nav(Msg("Next"), NEXT, "primary", ready))
        total = len(view.debt.meters) if view.debt is not None else 0
        title = Msg("Meter {name} № {meter} ({index} of {total})", name=meter.name if meter else "",
                    meter=meter.meter if meter else "", index=view.meter_index + 1, total=total)
        widgets, body = standard(self, view, painter, rect, title, buttons)
        if meter is None:
            return Group(widgets)
        label = Msg("Reading, {unit}", unit=painter.resolve(UNITS.get(meter.unit, meter.unit)))
        entry, self.keypad = entry_widgets(painter, body, self.ctx.min_px, READING, view.reading_text.replace(
            ".", ","), "decimal", self.keypad, note=self.note(view), label=label)
        return Group(widgets + entry)

    def handle(self, action: str, view: SessionView) -> list[Any]:
        """Keys edit the reading (the session holds it); Next, Confirm and Skip go on."""
        if action == NEXT:
            return [ev.SubmitReading()]
        if action == CONFIRM:
            return [ev.SubmitReading(confirmed=True)]
        if action == SKIP:
            return [ev.SkipReading()]
        if action in (BACKSPACE, CLEAR) or (len(action) == 1 and (action.isdigit() or action == DECIMAL_POINT)):
            text = typed(view.reading_text.replace(".", ","), action)
            return [ev.EditReading(text)] if text != view.reading_text else []
        return super().handle(action, view)

    def key_down(self, key: int, unicode: str, view: SessionView) -> list[Any]:
        """A hardware keyboard types digits and a comma or point; Enter is Next."""
        if unicode in ("\r", "\n"):
            return [ev.SubmitReading()]
        if unicode == "\b":
            return self.handle(BACKSPACE, view)
        if unicode in (".", ","):
            return self.handle(DECIMAL_POINT, view)
        return self.handle(unicode, view) if unicode.isdigit() else []
