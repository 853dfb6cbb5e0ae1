"""The layout system's rules: how sizes scale with the display, which tokens never break, and a record of text.

Every screen is laid out from the theme's sizes at a reference display (1280×1024) scaled to the display it is
on; text never goes below the theme's minimum. Text is wrapped only at plain spaces, and tokens a payer reads
aloud to support (phone numbers, amounts, account, terminal and operation numbers) are glued with no-break
spaces first, so they are never split. Where text still cannot fit, the widgets draw it over the edge rather
than cut it; `TextRecord` lets a test see every line drawn and say so (tests/screens/test_layout.py).
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field

import pygame

from kiosk.screens.theme import Sizes, Theme

#: the display the theme's sizes are written for
REFERENCE_SIZE = (1280, 1024)
NBSP = "\u00a0"
#: phone numbers ('+7 (916) 555-44-33', '8 800 000-00-00'), '№ 10001', amounts ('1 234,50 ₽', 'RUB 15,000.00'),
#: percentages ('1,5 %'): tokens read aloud or compared by the payer, never split across lines
TOKEN = re.compile(
    r"\+?\d[\d ()\-\u00a0]{5,}\d"           # phone numbers and long grouped numbers
    r"|№[ \u00a0]?\d+"                        # terminal / operation / encashment numbers
    r"|RUB[ \u00a0]\d[\d,.]*"                 # English amounts
    r"|\d[\d \u00a0]*(?:[.,]\d+)?[ \u00a0]?[₽%]"  # Russian amounts and percentages
)


def protect(text: str) -> str:
    """text with the spaces inside unbreakable tokens made no-break, so wrapping cannot split them."""
    return TOKEN.sub(lambda m: m.group(0).replace(" ", NBSP), text)


def tokens(text: str) -> list[str]:
    """The unbreakable tokens in text, with plain spaces (as the checker compares them)."""
    return [m.group(0).replace(NBSP, " ").strip() for m in TOKEN.finditer(text)]


def display_scale(size: tuple[int, int]) -> float:
    """How much larger than at the reference display text and spacing are drawn on a display of this size.

    By area (a 1920×1080 screen is seen from the same distance as a 1280×1024 one, and has 1.6× the pixels),
    but never more than 1.25× what the narrower side allows, so a portrait or a wide screen keeps its rows.
    """
    width, height = size
    by_area = math.sqrt(width * height / (REFERENCE_SIZE[0] * REFERENCE_SIZE[1]))
    by_side = min(width / REFERENCE_SIZE[0], height / REFERENCE_SIZE[1]) * 1.25
    return min(by_area, by_side)


def fit_window(size: tuple[int, int], display: tuple[int, int], margin: float = 0.9) -> tuple[int, int]:
    """size shrunk (its shape kept) to fit inside margin of the display, leaving room for the desktop's panels."""
    factor = min(1.0, display[0] * margin / size[0], display[1] * margin / size[1])
    return max(1, math.floor(size[0] * factor)), max(1, math.floor(size[1] * factor))


def scaled_theme(theme: Theme, factor: float) -> Theme:
    """The theme with its text sizes scaled by factor, none under its minimum."""
    s = theme.sizes

    def px(value: int) -> int:
        return max(s.minimum, round(value * factor))

    sizes = Sizes(base=px(s.base), title=px(s.title), button=px(s.button), numbers=px(s.numbers), minimum=s.minimum)
    return dataclasses.replace(theme, sizes=sizes)


def scaled_target(min_px: int, factor: float) -> int:
    """The finger size in pixels: at least the physical minimum, larger as the whole layout grows."""
    return max(min_px, round(min_px * factor))


@dataclass
class TextBlock:
    """One piece of text as drawn: its lines, where each is, the box it had to stay in, at which size."""

    source: str
    lines: list[str]
    boxes: list[pygame.Rect]
    region: pygame.Rect
    px: int
    owner: int  # id() of the widget that drew it: its own button is not an overlap


@dataclass
class TextRecord:
    """Collects every text block drawn while it is the painter's recorder (blit=False: measure only)."""

    blit: bool = False
    blocks: list[TextBlock] = field(default_factory=list)
