"""The attract screen's slides, built from the catalog in the screen's language: what can be paid and its fee.

A baked advertising bitmap says what was true when it was drawn and in one language; these slides say what
the catalog says now ("T2 — 1 %", "Yota — 10,00 ₽"), in the language on screen. The theme's ad pictures are
only pictures beside the words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pygame

from kiosk.screens.panels import Panel
from kiosk.screens.text import Painter, TextLike
from kiosk.screens.widgets import Label, Picture, Slideshow, fit_size, text_fits

#: providers listed on one slide; more are summed up as "and N more"
MOST_PROVIDERS = 4


@dataclass(frozen=True, slots=True)
class Slide:
    """One slide: a picture, a heading and lines of text (already in the screen's language)."""

    picture: str | Path | None
    heading: TextLike
    lines: tuple[str, ...]


class CatalogSlideshow(Slideshow):
    """Slides turning every `seconds`, each drawn from its words and picture; a press anywhere starts."""

    def __init__(self, rect: pygame.Rect, slides: Sequence[Slide], seconds: float, start: float,
                 action: str = "start") -> None:
        super().__init__(rect, [s.picture or "" for s in slides], seconds, start, action)
        self.slides = list(slides)

    def draw(self, surface: pygame.Surface, painter: Painter) -> None:
        """The current slide: words at the left (above on a portrait display), the picture beside them."""
        surface.fill(painter.colours.background, self.rect)
        if not self.slides:
            self.dirty = False
            return
        slide, gap = self.slides[self.index % len(self.slides)], painter.theme.spacing
        area = self.rect.inflate(-2 * gap, -2 * gap)
        Panel(area, "surface").draw(surface, painter)
        inner = area.inflate(-2 * gap, -2 * gap)
        portrait = inner.height > inner.width
        if portrait:
            words = pygame.Rect(inner.x, inner.y, inner.width, inner.height * 3 // 5)
            picture = pygame.Rect(inner.x, words.bottom + gap, inner.width, inner.bottom - words.bottom - gap)
        else:
            words = pygame.Rect(inner.x, inner.y, inner.width * 3 // 5, inner.height)
            picture = pygame.Rect(words.right + gap, inner.y, inner.right - words.right - gap, inner.height)
        text = "\n".join(slide.lines)

        def parts(words: pygame.Rect) -> tuple[pygame.Rect, pygame.Rect]:
            # the heading takes the lines it needs (up to two), the providers the rest
            said = painter.resolve(slide.heading)
            px = fit_size(painter, said, "numbers", pygame.Rect(0, 0, words.width, words.height // 3))
            lines = min(2, len(painter.wrap(said, px, words.width, True)))
            title_h = min(words.height // 3, lines * painter.font("numbers", True).get_linesize())
            heading = pygame.Rect(words.x, words.y, words.width, title_h)
            return heading, pygame.Rect(words.x, words.y + title_h + gap, words.width, words.height - title_h - gap)

        def fits(words: pygame.Rect) -> bool:
            heading, body = parts(words)
            return (text_fits(painter, painter.resolve(slide.heading), "numbers", heading, True)
                    and text_fits(painter, text, "title", body, False))

        if not portrait and not fits(words):
            # large text on a small display: the words take the whole slide, the picture gives way
            words, picture = inner, pygame.Rect(inner.right, inner.y, 0, 0)
        heading, body = parts(words)
        Label(heading, slide.heading, "numbers", bold=True, valign="middle").draw(surface, painter)
        Label(body, text, "title", "text").draw(surface, painter)
        if slide.picture and picture.width > 2 * gap:
            Picture(picture.inflate(-gap, -gap), slide.picture).draw(surface, painter)
        self.dirty = False
