"""Account entry: the provider's field with its live mask (+7 (912) 345-67-89) and an on-screen keypad."""

from __future__ import annotations

from typing import Any

import pygame

from kiosk import events as ev
from kiosk.catalog import InputField
from kiosk.screens.base import BACK, Screen, problem_text, provider_name
from kiosk.screens.entry import TEXT_LAYOUTS, Keypad, TextField
from kiosk.screens.frame import Nav, standard, take_top
from kiosk.screens.i18n import PROBLEMS
from kiosk.screens.panels import Banner, banner_fit, banner_height
from kiosk.screens.text import Msg, Painter, TextLike
from kiosk.screens.theme import Theme
from kiosk.screens.widgets import BACKSPACE, CLEAR, SPACE, Group, Label, Widget
from kiosk.session import SessionView

SUBMIT = "submit"


def entry_widgets(painter: Painter, body: pygame.Rect, min_px: int, field: InputField, value: str, kind: str,
                  keypad: Keypad | None, problem: str = "", note: tuple[TextLike, str] = ("", ""),
                  label: TextLike | None = None) -> tuple[list[Widget], Keypad]:
    """A masked field, a note under it (a hint, or a banner in a tone) and a keypad, laid out in body.

    A validation problem (a PROBLEMS key) is shown by the field itself instead of the note. The keypad given
    is kept when it still fits, so a key's press feedback survives the rebuild that shows the typed digit.
    """
    gap, m = painter.theme.spacing, min_px
    if body.width >= body.height * 1.5:
        # a landscape screen: field and messages at the left, the keypad at the right
        left = pygame.Rect(body.x, body.y, (body.width - gap) // 2, body.height)
        pad_area: pygame.Rect | None = pygame.Rect(left.right + gap, body.y, body.width - left.width - gap,
                                                   body.height)
    else:
        left, pad_area = body, None
    label_h = painter.font("base").get_linesize()
    field_h = label_h + gap // 2 + painter.font("numbers", True).get_linesize() + gap
    line_h = banner_height(painter)
    widgets: list[Widget] = []
    if problem in PROBLEMS:
        # the field shows a validation problem itself: a red border and the words under the box
        box, rest = take_top(left, field_h + line_h, gap)
        text_field = TextField(box, field, label, value=value)
        text_field.problem = problem
        widgets.append(text_field)
    else:
        box, rest = take_top(left, field_h, gap)
        widgets.append(TextField(box, field, label, value=value))
        text, tone = note
        if text and not tone:
            # a hint takes the lines it needs (up to three) rather than lose its end to an ellipsis
            lines = len(painter.wrap(painter.resolve(text), "base", left.width))
            line_h = max(line_h, painter.font("base").get_linesize() * min(3, lines))
        elif text and tone:
            line_h = max(line_h, banner_fit(painter, text, left.width))  # a longer warning keeps all its words
        strip, rest = take_top(rest, line_h, gap)
        if text and tone:
            widgets.append(Banner(strip, text, tone))
        elif text:
            widgets.append(Label(strip, text, "base", "muted_text", valign="middle", max_lines=2))
    if pad_area is None:
        pad_area = rest
    digits = kind in ("digits", "decimal")
    rows = 4 if digits else 5
    key_h = int(m * (1.6 if digits else 1.2))  # a little over the minimum when there is room
    height = max(rows * m + (rows - 1) * gap, min(pad_area.height, rows * key_h + (rows - 1) * gap))
    width = min(pad_area.width, 3 * int(2.4 * m) + 2 * gap) if digits else pad_area.width
    pad = pygame.Rect(0, 0, width, height)
    pad.midtop = pad_area.midtop
    if keypad is None or keypad.rect != pad or keypad.kind != kind:
        keypad = Keypad(pad, m, gap, kind)
    widgets.append(keypad)
    return widgets, keypad


class AccountScreen(Screen):
    """Type the number the money goes to; Next checks it."""

    states = ("account_entry",)
    name = "account"

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.keypad: Keypad | None = None
        self.layout = ""

    def _field(self, view: SessionView) -> InputField | None:
        provider = self.ctx.terminal.catalog.providers.get(view.provider or "")
        return provider.account_field if provider is not None else None

    def build(self, view: SessionView, painter: Painter, theme: Theme, rect: pygame.Rect) -> Group:
        """Field, hint or problem, keypad; Back and Next in the footer."""
        field = self._field(view)
        # Next only for a number the field accepts: a press that can only fail is a trap for a hurried payer
        valid = field is not None and bool(view.account) and not field.problem(view.account)
        widgets, body = standard(self, view, painter, rect, provider_name(self.ctx, view.provider),
                                 [Nav(Msg("Back"), BACK), Nav(Msg("Next"), SUBMIT, "primary", valid)])
        if field is None:
            return Group(widgets)
        if self.keypad is not None:
            self.layout = self.keypad.kind
        kind = "digits" if field.keyboard == "digits" else (self.layout or self._text_layout())
        problem = view.account_error
        note: tuple[TextLike, str] = (Msg("Check the number and press Next"), "")
        if view.scan_problem is not None:  # a bill scanned here that cannot be paid: the parser's words
            note = (view.scan_problem.text(self.ctx.lang), "danger")
        elif problem and problem not in PROBLEMS:
            note = (problem_text(problem) or "", "danger")
        elif view.message == "provider_unavailable":
            note = (Msg("The provider cannot be reached now. Please try again later"), "danger")
        elif not problem and len(view.account) >= field.min_length and field.problem(view.account):
            # typed in full but not a valid number (a checksum, a pattern): say why Next stays grey
            problem = field.problem(view.account)
        entry, self.keypad = entry_widgets(painter, body, self.ctx.min_px, field, view.account, kind, self.keypad,
                                           problem=problem, note=note)
        return Group(widgets + entry)

    def _text_layout(self) -> str:
        return self.ctx.lang if self.ctx.lang in TEXT_LAYOUTS else next(iter(TEXT_LAYOUTS))

    def handle(self, action: str, view: SessionView) -> list[Any]:
        """Keys edit the account (the session holds it); Next submits it."""
        if self.keypad is not None:
            self.layout = self.keypad.kind
        if action == SUBMIT:
            return [ev.SubmitAccount()]
        if action in (BACKSPACE, CLEAR, SPACE) or len(action) == 1:
            return self._press(action, view)
        return super().handle(action, view)

    def key_down(self, key: int, unicode: str, view: SessionView) -> list[Any]:
        """A hardware keyboard types too (service staff testing, or a kiosk with a keypad)."""
        if key in (pygame.K_RETURN, pygame.K_KP_ENTER):
            return [ev.SubmitAccount()]
        if key == pygame.K_BACKSPACE:
            return self._press(BACKSPACE, view)
        if unicode and unicode.isprintable():
            return self._press(unicode.upper(), view)
        return []

    def _press(self, key: str, view: SessionView) -> list[Any]:
        field = self._field(view)
        if field is None:
            return []
        editor = TextField((0, 0, 1, 1), field, value=view.account)
        return [ev.EditAccount(editor.value)] if editor.press(key) else []
