"""Drawing text and images from the theme: fonts, cached renders, word wrapping, lazy translated texts."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pygame

from kiosk.screens.i18n import Translator
from kiosk.screens.layout import TextBlock, TextRecord, protect
from kiosk.screens.theme import Colour, Theme

log = logging.getLogger(__name__)

ELLIPSIS = "…"


@dataclass(frozen=True, slots=True)
class Msg:
    """A msgid translated when drawn, so a language switch needs no rebuilt widgets (extract with -k Msg)."""

    msgid: str
    values: Mapping[str, Any] = field(default_factory=dict)

    def __init__(self, msgid: str, **values: Any) -> None:
        object.__setattr__(self, "msgid", msgid)
        object.__setattr__(self, "values", values)

    def __hash__(self) -> int:
        return hash((self.msgid, tuple(sorted(self.values.items()))))


#: what a widget may be given to show: literal text, a msgid to translate, or a catalog's {ru, en} table
TextLike = str | Msg | Mapping[str, str]


class _Lru:
    """A small least-recently-used cache: a screen shows a few hundred distinct texts at most."""

    def __init__(self, size: int) -> None:
        self.size, self.items = size, OrderedDict[Hashable, Any]()

    def get(self, key: Hashable) -> Any:
        value = self.items.get(key)
        if value is not None:
            self.items.move_to_end(key)
        return value

    def put(self, key: Hashable, value: Any) -> Any:
        self.items[key] = value
        if len(self.items) > self.size:
            self.items.popitem(last=False)
        return value


class Painter:
    """One theme and one language: fonts, translated and rendered texts, scaled images, all cached."""

    def __init__(self, theme: Theme, translator: Translator, cache_size: int = 512) -> None:
        if not pygame.font.get_init():
            pygame.font.init()
        self.theme, self.t = theme, translator
        self.colours = theme.colours
        self._fonts: dict[tuple[int, bool], pygame.font.Font] = {}
        self._texts = _Lru(cache_size)
        self._wraps = _Lru(cache_size)
        self._images = _Lru(64)
        #: while set, every text drawn is recorded (and, with recorder.blit False, only measured)
        self.recorder: TextRecord | None = None

    def px(self, size: str | int) -> int:
        """A text size in pixels from a role ('base', 'title', 'button', 'numbers') or a number."""
        return size if isinstance(size, int) else getattr(self.theme.sizes, size)

    def font(self, size: str | int, bold: bool = False) -> pygame.font.Font:
        """The theme's regular or bold font at a size."""
        key = (self.px(size), bold)
        if key not in self._fonts:
            path = self.theme.bold_font if bold else self.theme.regular_font
            self._fonts[key] = pygame.font.Font(str(path), key[0])
        return self._fonts[key]

    def resolve(self, text: TextLike) -> str:
        """The string to show for a TextLike in this painter's language."""
        if isinstance(text, str):
            return text
        if isinstance(text, Msg):
            return self.t.gettext(text.msgid, **text.values)
        return self.t.pick(text)

    def text(self, text: str, size: str | int, colour: Colour, bold: bool = False) -> pygame.Surface:
        """A rendered line of text; the same text is rendered once and then reused."""
        key = (text, self.px(size), bold, tuple(colour))
        surface = self._texts.get(key)
        if surface is None:
            surface = self._texts.put(key, self.font(size, bold).render(text, True, colour))
        return surface

    def put(self, surface: pygame.Surface, line: str, size: str | int, colour: Colour, bold: bool,
            pos: tuple[int, int]) -> pygame.Rect:
        """Draw one line at pos (its top left); returns the box it takes."""
        font = self.font(size, bold)
        box = pygame.Rect(pos, (font.size(line)[0], font.get_height()))
        if self.recorder is None or self.recorder.blit:
            surface.blit(self.text(line, size, colour, bold), pos)
        return box

    def note(self, source: str, lines: list[str], boxes: list[pygame.Rect], region: pygame.Rect, size: str | int,
             owner: object) -> None:
        """Tell the recorder (if any) that lines of source were drawn in boxes and had to stay inside region."""
        if self.recorder is not None:
            self.recorder.blocks.append(TextBlock(source, lines, boxes, pygame.Rect(region), self.px(size), id(owner)))

    def wrap(self, text: str, size: str | int, width: int, bold: bool = False) -> list[str]:
        """Lines of text no wider than width, broken at spaces (and inside a word only if it must)."""
        key = (text, self.px(size), bold, width)
        lines = self._wraps.get(key)
        if lines is None:
            lines = self._wraps.put(key, wrap(text, self.font(size, bold), width))
        return lines

    def image(self, path: str | Path | None, size: tuple[int, int]) -> pygame.Surface | None:
        """An image scaled to fit inside size keeping its shape, or None if it cannot be read."""
        if not path or (self.recorder is not None and not self.recorder.blit):
            return None  # measuring text only: pictures take no text's place
        key = (str(path), size)
        cached = self._images.get(key)
        if cached is None:
            try:
                source = pygame.image.load(str(path))
            except (pygame.error, OSError, FileNotFoundError) as exc:
                # a missing icon is drawn as a letter tile; the kiosk keeps working
                log.warning("cannot load image %s: %s", path, exc)
                cached = False
            else:
                cached = pygame.transform.smoothscale(_true_colour(source), _fit_size(source.get_size(), size))
            self._images.put(key, cached)
        return cached or None


def _fit_size(source: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    scale = min(box[0] / source[0], box[1] / source[1])
    return max(1, round(source[0] * scale)), max(1, round(source[1] * scale))


def _true_colour(image: pygame.Surface) -> pygame.Surface:
    """image as 32-bit with alpha: smoothscale needs it, and small palette PNGs are not."""
    if pygame.display.get_surface() is not None:
        return image.convert_alpha()  # also matches the screen's pixel format, so blits are fast
    if image.get_bitsize() >= 24:
        return image
    out = pygame.Surface(image.get_size(), pygame.SRCALPHA, 32)
    out.blit(image, (0, 0))
    return out


def wrap(text: str, font: pygame.font.Font, width: int) -> list[str]:
    """Greedy word wrapping of text to width pixels at spaces only; explicit newlines are kept.

    Phone numbers, amounts and numbers are glued first (layout.protect). A word wider than the line stays
    whole and runs over: the layout check in the tests finds it, a payer never reads half a number.
    """
    lines: list[str] = []
    for paragraph in protect(text).split("\n"):
        line = ""
        # split at plain spaces only: a no-break space keeps "7 s" or "500 ₽" on one line
        for word in filter(None, paragraph.split(" ")):
            candidate = f"{line} {word}" if line else word
            if font.size(candidate)[0] <= width or not line:
                line = candidate
                continue
            lines.append(line)
            line = word
        lines.append(line)
    return lines


def _fit(word: str, font: pygame.font.Font, width: int, suffix: str = "") -> int:
    """How many leading characters of word (followed by suffix) fit in width; at least one."""
    low, high = 1, len(word)
    while low < high:
        mid = (low + high + 1) // 2
        if font.size(word[:mid] + suffix)[0] <= width:
            low = mid
        else:
            high = mid - 1
    return low


def ellipsize(text: str, font: pygame.font.Font, width: int) -> str:
    """text cut to width with a trailing ellipsis when it does not fit."""
    if font.size(text)[0] <= width:
        return text
    return text[: _fit(text, font, width, ELLIPSIS)].rstrip() + ELLIPSIS
