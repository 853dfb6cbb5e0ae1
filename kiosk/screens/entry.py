"""Typing widgets: the account field with its live mask, and the on-screen keypads (digits, ru and en)."""

from __future__ import annotations

from dataclasses import dataclass

import pygame

from kiosk.catalog import InputField
from kiosk.screens.text import Msg, Painter, TextLike
from kiosk.screens.touch import Touch
from kiosk.screens.widgets import (
    BACKSPACE,
    CLEAR,
    LAYOUT,
    SPACE,
    Button,
    Group,
    Label,
    LayoutError,
    RectLike,
    Widget,
)


class TextField(Widget):
    """What the payer typed, laid into the field's mask as they type; the rest of the mask shown faintly."""

    def __init__(self, rect: RectLike, field: InputField, label: TextLike | None = None, value: str = "") -> None:
        super().__init__(rect)
        self.field, self.label = field, field.label if label is None else label
        self.value, self.problem = value, ""

    def press(self, key: str) -> bool:
        """Apply a keypad key (a character, BACKSPACE, CLEAR or SPACE); returns whether the value changed."""
        before = self.value
        if key == BACKSPACE:
            self.value = self.value[:-1]
        elif key == CLEAR:
            self.value = ""
        elif len(self.value) < self.field.max_length:
            char = " " if key == SPACE else key
            if len(char) == 1 and (char.isdigit() or self.field.keyboard == "text"):
                self.value += char
        if self.value != before:
            self.problem, self.dirty = "", True
        return self.value != before

    def validate(self) -> str:
        """Check the value; the problem key ('' if none) is kept and shown under the field."""
        self.problem, self.dirty = self.field.problem(self.value), True
        return self.problem

    def display(self) -> tuple[str, str]:
        """(typed part with the mask's literals, the mask still to fill)."""
        shown = self.field.masked(self.value)
        return shown, self.field.mask[len(shown):] if self.field.mask else ""

    def draw(self, surface: pygame.Surface, painter: Painter) -> None:
        """Draw label, box, masked value, caret and any problem."""
        c, gap = painter.colours, painter.theme.spacing
        label_h = painter.font("base").get_linesize()
        box_h = painter.font("numbers", True).get_linesize() + gap
        box = pygame.Rect(self.rect.x, self.rect.y + label_h + gap // 2, self.rect.width, box_h)
        label = painter.resolve(self.label)
        label_box = painter.put(surface, label, "base", c.muted_text, False, self.rect.topleft)
        painter.note(label, [label], [label_box], self.rect, "base", self)
        pygame.draw.rect(surface, c.surface, box, border_radius=8)
        pygame.draw.rect(surface, c.danger if self.problem else c.accent, box, width=3, border_radius=8)
        typed, rest = self.display()
        inner = box.inflate(-gap, 0)
        size = painter.px("numbers")
        # shrink towards the base size so the whole mask stays in view; only then cut the start off
        while size > painter.px("base") and painter.font(size, True).size(typed + rest)[0] > inner.width:
            size -= 2
        font = painter.font(size, True)
        if font.size(typed + rest)[0] > inner.width:
            rest = ""
            if font.size(typed)[0] > inner.width:
                while len(typed) > 1 and font.size("…" + typed)[0] > inner.width:
                    typed = typed[1:]
                typed = "…" + typed
        y = box.centery - font.get_height() // 2
        first = painter.put(surface, typed, size, c.text, True, (inner.x, y))
        caret_x = inner.x + first.width + 1
        pygame.draw.rect(surface, c.accent, (caret_x, y + 4, 3, font.get_height() - 8))
        boxes = [first]
        if rest:
            boxes.append(painter.put(surface, rest, size, c.muted_text, True, (caret_x + 4, y)))
        # one line as the payer reads it: what they typed continued by the mask still to fill
        painter.note(typed + rest, [typed + rest], [first.union(boxes[-1])], box, size, self)
        if self.problem:
            below = pygame.Rect(self.rect.x, box.bottom + gap // 2, self.rect.width, self.rect.bottom - box.bottom)
            Label(below, painter.t.problem(self.problem), colour="danger", max_lines=2).draw(surface, painter)
        self.dirty = False


DIGIT_ROWS = ("123", "456", "789")
#: the decimal separator key of the "decimal" keypad (meter readings); sent as "," and read as a point
DECIMAL_POINT = ","
TEXT_LAYOUTS = {
    "ru": ("1234567890", "ЙЦУКЕНГШЩЗХЪ", "ФЫВАПРОЛДЖЭ", "ЯЧСМИТЬБЮЁ"),
    "en": ("1234567890", "QWERTYUIOP", "ASDFGHJKL", "ZXCVBNM"),
}
#: what the layout key says: the layout it switches to, named in that layout's own letters
LAYOUT_NAMES = {"ru": "АБВ", "en": "ABC"}


@dataclass(frozen=True, slots=True)
class Key:
    """One key: what it sends, what it shows and how many units wide it is."""

    id: str
    label: TextLike
    units: int = 1


def keypad_rows(kind: str) -> list[list[Key]]:
    """The key rows of a keypad: 'digits', 'decimal' (a comma for Clear), or a text layout 'ru' / 'en'."""
    if kind == "decimal":
        rows = [[Key(ch, ch) for ch in row] for row in DIGIT_ROWS]
        return rows + [[Key(DECIMAL_POINT, DECIMAL_POINT), Key("0", "0"), Key(BACKSPACE, "⌫")]]
    if kind == "digits":
        rows = [[Key(ch, ch) for ch in row] for row in DIGIT_ROWS]
        return rows + [[Key(CLEAR, Msg("Clear")), Key("0", "0"), Key(BACKSPACE, "⌫")]]
    letters = TEXT_LAYOUTS[kind]
    other = next(lang for lang in TEXT_LAYOUTS if lang != kind)
    rows = [[Key(ch, ch) for ch in row] for row in letters]
    width = max(len(row) for row in letters)
    space = width - 6
    return rows + [[Key(LAYOUT, LAYOUT_NAMES[other], 2), Key(SPACE, Msg("Space"), space), Key(BACKSPACE, "⌫", 2),
                    Key(CLEAR, Msg("Clear"), 2)]]


class Keypad(Group):
    """A digit pad or a Russian/English text keyboard filling rect; keys are never under min_px."""

    def __init__(self, rect: RectLike, min_px: int, gap: int, kind: str = "digits") -> None:
        super().__init__()
        self.rect, self.min_px, self.gap = pygame.Rect(rect), min_px, gap
        self.layout(kind)

    def layout(self, kind: str) -> None:
        """Build the keys of a layout ('digits', 'ru', 'en') inside the rect."""
        if kind not in ("digits", "decimal") and kind not in TEXT_LAYOUTS:
            raise ValueError(f"unknown keypad kind {kind!r}; expected 'digits' or one of {sorted(TEXT_LAYOUTS)}")
        self.kind, rows = kind, keypad_rows(kind)
        units = max(sum(k.units for k in row) for row in rows)
        unit = (self.rect.width - self.gap * (units - 1)) // units
        height = (self.rect.height - self.gap * (len(rows) - 1)) // len(rows)
        if min(unit, height) < self.min_px:
            raise LayoutError(f"{kind} keypad in {self.rect.size} gives {unit}×{height} px keys; "
                              f"at least {self.min_px} px needed: give it more room")
        self.children = []
        for r, row in enumerate(rows):
            row_width = sum(k.units for k in row) * (unit + self.gap) - self.gap
            x = self.rect.x + (self.rect.width - row_width) // 2  # shorter rows are centred, as on a keyboard
            y = self.rect.y + r * (height + self.gap)
            for key in row:
                width = key.units * (unit + self.gap) - self.gap
                style = "secondary" if key.id in (BACKSPACE, CLEAR, LAYOUT) else "primary"
                size = "numbers" if kind in ("digits", "decimal") and key.id.isdigit() else "button"
                self.children.append(Button((x, y, width, height), key.label, key.id, style, size=size))
                x += width + self.gap
        self.dirty = True

    def touch(self, touch: Touch) -> str | None:
        """The key pressed; the layout key switches between Russian and English here."""
        key = super().touch(touch)
        if key == LAYOUT:
            self.layout(next(lang for lang in TEXT_LAYOUTS if lang != self.kind))
            return None
        return key
