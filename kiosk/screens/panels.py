"""Drawing-only pieces the screens share: a panel, a message banner, a label/value table, big amounts."""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence

import pygame

from kiosk.screens.text import Painter, TextLike
from kiosk.screens.widgets import Label, RectLike, Widget, fit_lines

log = logging.getLogger(__name__)


class Panel(Widget):
    """A rounded rectangle in a colour role, with an optional border in another."""

    def __init__(self, rect: RectLike, fill: str = "surface", border: str | None = None, width: int = 3) -> None:
        super().__init__(rect)
        self.fill, self.border, self.width = fill, border, width

    def draw(self, surface: pygame.Surface, painter: Painter) -> None:
        """Draw the panel."""
        radius = max(6, painter.theme.spacing // 2)
        pygame.draw.rect(surface, getattr(painter.colours, self.fill), self.rect, border_radius=radius)
        if self.border:
            pygame.draw.rect(surface, getattr(painter.colours, self.border), self.rect, width=self.width,
                             border_radius=radius)
        self.dirty = False


class Banner(Widget):
    """A message that must be seen: a surface panel with a thick bar in the message's colour role."""

    def __init__(self, rect: RectLike, text: TextLike, tone: str = "danger", size: str | int = "base") -> None:
        super().__init__(rect)
        self.text, self.tone, self.size = text, tone, size

    def draw(self, surface: pygame.Surface, painter: Painter) -> None:
        """Draw the bar, the panel and the wrapped text."""
        gap = painter.theme.spacing
        Panel(self.rect, "surface", self.tone, width=2).draw(surface, painter)
        bar = pygame.Rect(self.rect.x, self.rect.y, max(8, gap // 2), self.rect.height)
        pygame.draw.rect(surface, getattr(painter.colours, self.tone), bar, border_radius=4)
        inner = pygame.Rect(bar.right + gap, self.rect.y + gap // 3, self.rect.right - bar.right - 2 * gap,
                            self.rect.height - 2 * (gap // 3))
        colour = "text" if self.tone in ("accent", "focus") else self.tone
        Label(inner, self.text, self.size, colour, bold=True, valign="middle").draw(surface, painter)
        self.dirty = False


def banner_height(painter: Painter, lines: int = 2, size: str = "base") -> int:
    """The height of a banner holding this many lines of text."""
    return painter.font(size, True).get_linesize() * lines + painter.theme.spacing


def banner_fit(painter: Painter, text: TextLike, width: int, size: str = "base", most: int = 6) -> int:
    """The height of a banner as wide as width that shows text whole (up to `most` lines)."""
    gap = painter.theme.spacing
    inner = width - max(8, gap // 2) - 2 * gap
    lines = len(painter.wrap(painter.resolve(text), size, inner, bold=True))
    return banner_height(painter, max(1, min(most, lines)), size)


def tables(rect: RectLike, rows: Sequence[tuple[TextLike, TextLike]], gap: int, wide: int = 960,
           size: str | int = "base", painter: Painter | None = None) -> list[Widget]:
    """One table, or two side by side on a wide screen (half the rows each, so both fit in less height).

    Given the painter, the shape that fits is chosen: two narrow tables may not hold a phone number whole.
    """
    rect = pygame.Rect(rect)
    one: list[Widget] = [Table(rect, rows, size)]
    if rect.width < wide or len(rows) < 4:
        return one
    half = (len(rows) + 1) // 2
    width = (rect.width - 2 * gap) // 2
    two: list[Widget] = [Table((rect.x, rect.y, width, rect.height), rows[:half], size, label_share=0.45),
                         Table((rect.right - width, rect.y, width, rect.height), rows[half:], size, label_share=0.45)]
    if painter is None:
        return two
    px, _, fits = one[0].fit(painter)  # type: ignore[attr-defined]
    if fits and px == painter.px(size):
        return one  # a tall (portrait) display: one table at full size reads best
    if all(t.fit(painter)[2] for t in two):  # type: ignore[attr-defined]
        # side by side at one size: the smaller of what each needs
        px = min(t.fit(painter)[0] for t in two)  # type: ignore[attr-defined]
        for table in two:
            table.size = px  # type: ignore[attr-defined]
        return two
    return one if one[0].fit(painter)[2] else two  # type: ignore[attr-defined]


class Table(Widget):
    """Rows of label and value; values wrap, and the text shrinks (to near the base size) to fit the height."""

    def __init__(self, rect: RectLike, rows: Sequence[tuple[TextLike, TextLike]], size: str | int = "base",
                 label_share: float = 0.36, alerts: Collection[int] = ()) -> None:
        super().__init__(rect)
        self.rows, self.size, self.label_share = list(rows), size, label_share
        self.alerts = frozenset(alerts)  # indexes of rows whose value is drawn in the danger colour
        #: how rows are laid out: "columns" (label beside value), "tight" (labels wrapped to their longest
        #: word, so a long value fits beside them), "stacked" (each label above its value, full width)
        self.mode = "columns"

    def _columns(self, painter: Painter, px: int) -> tuple[int, int]:
        """(label width, value width): the labels take what their longest word needs, up to label_share."""
        gap = painter.theme.spacing
        if self.mode == "stacked":
            return self.rect.width, self.rect.width
        font = painter.font(px)
        widest = max((font.size(word)[0] for label, _ in self.rows
                      for word in painter.resolve(label).split()), default=0)
        natural = max((font.size(painter.resolve(label))[0] for label, _ in self.rows), default=0)
        label_w = min(int(self.rect.width * self.label_share), natural) if self.mode == "columns" else widest
        label_w = max(label_w, min(widest, self.rect.width // 2))
        return label_w, self.rect.width - label_w - gap

    def _layout(self, painter: Painter, px: int, spacing: int,
                force: bool = False) -> list[tuple[list[str], list[str], int]] | None:
        label_w, value_w = self._columns(painter, px)
        line = painter.font(px).get_linesize()
        bold = painter.font(px, True)
        out, height = [], 0
        for label, value in self.rows:
            left = painter.wrap(painter.resolve(label), px, label_w)
            right = painter.wrap(painter.resolve(value), px, value_w, bold=True)
            if not force and any(bold.size(v)[0] > value_w for v in right):
                return None  # an unbreakable token wider than the column: try smaller text
            if not force and any(painter.font(px).size(v)[0] > label_w for v in left):
                return None
            rows_h = (len(left) + len(right) if self.mode == "stacked" else max(len(left), len(right))) * line + spacing
            out.append((left, right, rows_h))
            height += rows_h
        return out if force or height <= self.rect.height else None

    def fit(self, painter: Painter) -> tuple[int, int, bool]:
        """(text size, space between rows, whether every row fits): roomy spacing first, then smaller text,
        then tight spacing."""
        gap = painter.theme.spacing
        start = painter.px(self.size)
        floor = min(start, painter.theme.sizes.minimum)
        for mode in ("columns", "tight", "stacked"):
            self.mode = mode
            for spacing in dict.fromkeys((gap, max(4, gap // 3), 4)):
                for px in range(start, floor - 1, -1):
                    if self._layout(painter, px, spacing) is not None:
                        return px, spacing, True
        self.mode = "columns"
        return floor, max(4, gap // 3), False

    def used_height(self, painter: Painter) -> int:
        """How much of the rect the rows take at the size they are drawn at (to put something right under them)."""
        px, spacing, _ = self.fit(painter)
        return min(self.rect.height, sum(h for _, _, h in self._layout(painter, px, spacing, force=True) or []))

    def draw(self, surface: pygame.Surface, painter: Painter) -> None:
        """Draw the rows with a thin rule between them."""
        c, gap = painter.colours, painter.theme.spacing
        px, spacing, fits = self.fit(painter)
        if not fits:
            log.warning("table of %d rows does not fit %s even at %d px", len(self.rows), self.rect.size, px)
        # rows that do not fit run past the bottom rather than vanish (the test suite keeps this from happening)
        rows = self._layout(painter, px, spacing, force=True) or []
        label_x = self.rect.x
        label_w = self._columns(painter, px)[0]
        value_x = self.rect.x if self.mode == "stacked" else self.rect.x + label_w + gap
        line = painter.font(px).get_linesize()
        y = self.rect.y
        for index, (left, right, rows_h) in enumerate(rows):
            top = y + spacing // 2  # the rule sits halfway between two rows
            value_top = top + len(left) * line if self.mode == "stacked" else top
            for lines, x, at, width, ink, bold in (
                    (left, label_x, top, label_w, c.muted_text, False),
                    (right, value_x, value_top, self.rect.right - value_x,
                     c.danger if index in self.alerts else c.text, True)):
                boxes = [painter.put(surface, text, px, ink, bold, (x, at + n * line)) for n, text in enumerate(lines)]
                if lines and any(lines):
                    region = pygame.Rect(x, self.rect.y, width, self.rect.height)
                    painter.note(" ".join(lines), lines, boxes, region, px, self)
            y += rows_h
            if index < len(rows) - 1:
                pygame.draw.line(surface, c.muted_text, (self.rect.x, y), (self.rect.right, y), 1)
        self.dirty = False


class Amount(Widget):
    """A caption and a large amount under it (the cash screen's figures)."""

    def __init__(self, rect: RectLike, caption: TextLike, amount: str, size: str | int = "numbers",
                 colour: str = "text") -> None:
        super().__init__(rect)
        self.caption, self.amount, self.size, self.colour = caption, amount, size, colour

    def draw(self, surface: pygame.Surface, painter: Painter) -> None:
        """Draw the caption and the amount, the amount shrunk to the width if it must be."""
        c = painter.colours
        caption_h = painter.font("base").get_linesize()
        lines = fit_lines(painter, painter.resolve(self.caption), "base", pygame.Rect(self.rect.x, self.rect.y,
                                                                                        self.rect.width, caption_h))
        caption = painter.put(surface, lines[0], "base", c.muted_text, False, self.rect.topleft)
        painter.note(" ".join(lines), lines[:1], [caption], self.rect, "base", self)
        px = painter.px(self.size)
        while px > painter.px("base") and painter.font(px, True).size(self.amount)[0] > self.rect.width:
            px -= 2
        box = painter.put(surface, self.amount, px, getattr(c, self.colour), True, (self.rect.x, self.rect.y + caption_h))
        painter.note(self.amount, [self.amount], [box], self.rect, px, self)
        self.dirty = False


def amount_height(painter: Painter, size: str = "numbers") -> int:
    """The height an Amount needs."""
    return painter.font("base").get_linesize() + painter.font(size, True).get_linesize()
