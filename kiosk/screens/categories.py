"""The categories screen: big tiles (mobile, utilities, internet …), paged if the dealer has many."""

from __future__ import annotations

from typing import Any

import pygame

from kiosk import events as ev
from kiosk.screens.base import BACK, Screen
from kiosk.screens.frame import Nav, button_width, standard
from kiosk.screens.grid import Grid, Tile
from kiosk.screens.phone import MOBILE, PhoneScreen, phone_tile
from kiosk.screens.scan import scan_banner
from kiosk.screens.text import Msg, Painter, TextLike
from kiosk.screens.theme import Theme
from kiosk.screens.widgets import Button, Group, Label, Widget
from kiosk.session import SessionView

CATEGORY = "category:"
PREV, NEXT = "page-prev", "page-next"


def paged_grid(screen: Screen, painter: Painter, body: pygame.Rect, tiles: list[Tile], page: int,
               min_size: tuple[int, int] | None = None) -> tuple[list[Widget], int]:
    """A grid of tiles with page buttons under it when they do not all fit; returns widgets and the page shown."""
    gap, m = painter.theme.spacing, screen.ctx.min_px
    grid = Grid(body, tiles, m, gap, min_size=min_size)
    if grid.pages == 1:
        return [grid], 0
    # not all fit: give the page buttons a row of their own and lay the grid out again above it
    area = pygame.Rect(body.x, body.y, body.width, body.height - m - gap)
    grid = Grid(area, tiles, m, gap, min_size=min_size)
    grid.show(page)
    return [grid, *page_row(painter, pygame.Rect(body.x, area.bottom + gap, body.width, m), grid.page,
                            grid.pages, m)], grid.page


def page_row(painter: Painter, row: pygame.Rect, page: int, pages: int, m: int) -> list[Widget]:
    """Previous and Next at the ends of row and 'Page i of n' between them.

    On a narrow display in large text the words do not fit beside each other: the buttons then show
    arrows, which need no reading, and the page number stays between them.
    """
    gap = painter.theme.spacing
    prev: TextLike = Msg("Previous page")
    after: TextLike = Msg("Next page")
    where = Msg("Page {page} of {pages}", page=page + 1, pages=pages)
    prev_w, next_w = button_width(painter, prev, m), button_width(painter, after, m)
    middle = painter.font("base").size(painter.resolve(where))[0]
    if prev_w + next_w + middle + 2 * gap > row.width:
        prev, after = "◀", "▶"
        prev_w = next_w = button_width(painter, prev, m)
    return [
        Button((row.x, row.y, prev_w, m), prev, PREV, "secondary", page > 0),
        Button((row.right - next_w, row.y, next_w, m), after, NEXT, "secondary", page < pages - 1),
        Label((row.x + prev_w + gap, row.y, row.width - prev_w - next_w - 2 * gap, m), where, "base", "muted_text",
              align="center", valign="middle", max_lines=2),
    ]


class CategoriesScreen(PhoneScreen):
    """Choose a service, or pay a phone number straight away."""

    states = ("category",)
    name = "categories"

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.page = 0

    def build(self, view: SessionView, painter: Painter, theme: Theme, rect: pygame.Rect) -> Group:
        """Header, the phone tile and the category tiles, Back and the countdown (or the phone entry)."""
        if self.phone is not None:
            return self.phone.build(self, view, painter, rect)
        widgets, body = standard(self, view, painter, rect, Msg("Choose a service"), [Nav(Msg("Back"), BACK)])
        banner, body = scan_banner(self.ctx, view, painter, body)  # a scanned bill that cannot be paid here
        widgets += banner
        categories = self.ctx.terminal.catalog.categories
        # most people at a street terminal top up a phone: that goes first, without choosing an operator
        tiles = [phone_tile()] if any(c.id == MOBILE for c in categories) else []
        tiles += [Tile(CATEGORY + c.id, c.name, self.ctx.asset(c.icon)) for c in categories]
        grid, self.page = paged_grid(self, painter, body, tiles, self.page)
        return Group(widgets + grid)

    def handle(self, action: str, view: SessionView) -> list[Any]:
        """A tile chooses its category; the page buttons turn pages; the phone tile opens the phone entry."""
        events = self.phone_action(action)
        if events is not None:
            return events
        if action.startswith(CATEGORY):
            return [ev.ChooseCategory(action[len(CATEGORY):])]
        if action in (PREV, NEXT):
            self.page += 1 if action == NEXT else -1
            self.stale = True
            return []
        return super().handle(action, view)

    def key_down(self, key: int, unicode: str, view: SessionView) -> list[Any]:
        """Digits from a hardware keyboard type into the phone entry when it is open."""
        return self.phone_key(key, unicode) or []
