"""The tile grid of categories and providers, paged when there are more than fit."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pygame

from kiosk.screens.text import Painter, TextLike
from kiosk.screens.touch import cells, fit_grid
from kiosk.screens.widgets import Button, Group, LayoutError, RectLike, blit_lines, fit_lines, fit_size


@dataclass(frozen=True, slots=True)
class Tile:
    """One grid entry: a category or a provider."""

    id: str
    label: TextLike
    icon: str | Path | None = None
    enabled: bool = True
    note: TextLike | None = None  # why it is disabled ("Unavailable now")
    badge: str = ""  # drawn in the round badge when there is no icon (else the label's first letter)


class TileButton(Button):
    """A button with an icon above its label; a missing icon becomes the label's first letter."""

    def __init__(self, rect: RectLike, tile: Tile) -> None:
        super().__init__(rect, tile.label, tile.id, "secondary", tile.enabled, size="base")
        self.tile = tile

    def draw_content(self, surface: pygame.Surface, painter: Painter, area: pygame.Rect, ink: tuple) -> None:
        """Icon on top, label (and note) below."""
        # keep clear of the thick border a large-density theme draws: a long label would otherwise touch it
        border = max(3, painter.theme.spacing // 3)
        area = area.inflate(-2 * border, -2 * border)
        note = not self.enabled and self.tile.note is not None
        text = painter.resolve(self.label)
        if note and self.tile.note is not None:
            text = f"{text}\n{painter.resolve(self.tile.note)}"
        # the label takes the lines it needs (the icon what is left), up to all of the tile but a strip
        px = fit_size(painter, text, "base", pygame.Rect(0, 0, area.width, area.height * 2 // 3))
        text_h = painter.font(px, True).get_linesize() * max(2, len(painter.wrap(text, px, area.width, True)))
        text_h = min(text_h, area.height)
        icon_box = pygame.Rect(area.x, area.y, area.width, max(0, area.height - text_h)).inflate(0, -6).move(0, 3)
        # an icon filling its whole box crowds the tile's edge and its label: leave it some air
        centre, side = icon_box.center, min(icon_box.size) * 4 // 5
        icon_box = pygame.Rect(0, 0, side, side) if icon_box.height >= 20 else icon_box
        icon_box.center = centre
        image = painter.image(self.tile.icon, icon_box.size) if icon_box.height >= 16 else None
        if image is not None:
            if not self.enabled:
                # a brand's full colours would say "press me" louder than the note says it cannot be pressed
                image = image.copy()
                image.set_alpha(90)
            surface.blit(image, image.get_rect(center=icon_box.center))
        elif icon_box.height >= 16:
            self._badge(surface, painter, icon_box)
        below = pygame.Rect(area.x, area.bottom - text_h, area.width, text_h)
        size = fit_size(painter, text, "base", below)
        blit_lines(surface, painter, fit_lines(painter, text, size, below, True, 3 if note else 2), below, size, ink,
                   True, "center", "middle", self, text)


    def _badge(self, surface: pygame.Surface, painter: Painter, icon_box: pygame.Rect) -> None:
        """A round badge with the label's first letter (or the tile's badge text) where the icon would be.

        Never with letters under the theme's minimum: a badge too small for them is left out, the label
        under it says the same.
        """
        side = min(icon_box.size)
        letter = self.tile.badge or painter.resolve(self.label)[:1].upper()
        floor = painter.theme.sizes.minimum
        px = max(floor, side * 6 // 10)
        while px > floor and painter.font(px, True).size(letter)[0] > side * 3 // 4:
            px = max(floor, px - 2)
        font = painter.font(px, True)
        if font.size(letter)[0] > side * 7 // 8 or font.get_height() > side:
            return
        badge = pygame.Rect(0, 0, side, side)
        badge.center = icon_box.center
        pygame.draw.ellipse(surface, painter.colours.accent if self.enabled else painter.colours.muted_text, badge)
        at = (badge.centerx - font.size(letter)[0] // 2, badge.centery - font.get_height() // 2)
        box = painter.put(surface, letter, px, painter.colours.accent_text, True, at)
        painter.note(letter, [letter], [box], badge, px, self)


class Grid(Group):
    """Tiles in pages, each tile at least min_size (and never under min_px a side), shaped near aspect."""

    def __init__(self, rect: RectLike, tiles: Sequence[Tile], min_px: int, gap: int, min_size: tuple[int, int] | None = None,
                 max_columns: int = 4, aspect: float = 1.4) -> None:
        super().__init__()
        self.rect, self.tiles, self.gap = pygame.Rect(rect), list(tiles), gap
        width, height = min_size or (3 * min_px, 2 * min_px)
        width, height = max(width, min_px), max(height, min_px)
        columns, rows = fit_grid(self.rect, width, height, gap)
        columns = min(columns, max_columns)
        if not columns or not rows:
            raise LayoutError(f"a {self.rect.size} grid has no room for one {width}×{height} px tile")
        self.per_page = columns * rows
        self.pages = max(1, math.ceil(len(self.tiles) / self.per_page))
        self.columns, self.rows = columns, rows
        if len(self.tiles) < self.per_page:
            # few tiles: make them big rather than leave most of the grid empty
            self.columns, self.rows = self._shape(len(self.tiles), columns, rows, aspect)
        self.page = 0
        self.show(0)

    def _shape(self, count: int, columns: int, rows: int, aspect: float) -> tuple[int, int]:
        options = [(c, math.ceil(count / c)) for c in range(1, columns + 1) if math.ceil(count / c) <= rows]

        def badness(option: tuple[int, int]) -> tuple[float, int]:
            c, r = option
            cell_w = (self.rect.width - self.gap * (c - 1)) / c
            cell_h = (self.rect.height - self.gap * (r - 1)) / r
            # shape first, but an empty cell costs about as much as a tenth off the wanted shape
            return abs(math.log(cell_w / cell_h / aspect)) + 0.1 * (c * r - count), c * r - count

        return min(options, key=badness) if options else (columns, rows)

    def show(self, page: int) -> None:
        """Lay out the tiles of one page (clamped to the pages there are)."""
        self.page = max(0, min(page, self.pages - 1))
        first = self.page * self.per_page
        shown = self.tiles[first:first + self.per_page]
        rects = cells(self.rect, self.columns, self.rows, self.gap)
        self.children = [TileButton(r, tile) for r, tile in zip(rects, shown, strict=False)]
        self.dirty = True
