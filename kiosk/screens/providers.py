"""The provider grid of a category, and a search by name across every provider with an on-screen keyboard."""

from __future__ import annotations

from typing import Any

import pygame

from kiosk import events as ev
from kiosk.catalog import Provider
from kiosk.screens.base import BACK
from kiosk.screens.categories import NEXT, PREV, paged_grid
from kiosk.screens.entry import TEXT_LAYOUTS, Keypad
from kiosk.screens.frame import Nav, standard, take_top
from kiosk.screens.grid import Tile
from kiosk.screens.panels import Banner, banner_fit, banner_height
from kiosk.screens.phone import MOBILE, PhoneScreen, phone_tile
from kiosk.screens.text import Msg, Painter, TextLike
from kiosk.screens.theme import Theme
from kiosk.screens.widgets import BACKSPACE, CLEAR, SPACE, Button, Group, Label, Widget, fit_size
from kiosk.session import SessionView

PROVIDER = "provider:"
SEARCH, SEARCH_CLOSE = "search", "search-close"
MAX_QUERY = 24


def _fold(text: str) -> str:
    # people type "е" for "ё" and do not care about case
    return text.casefold().replace("ё", "е")


def matches(providers: list[Provider], query: str) -> list[Provider]:
    """Providers whose name in any language contains the query (case and ё/е ignored)."""
    words = _fold(query).split()
    if not words:
        return []
    return [p for p in providers
            if all(any(w in _fold(name) for name in p.name.values()) for w in words)]


class SearchBox(Widget):
    """What was typed, with a caret; a faint hint while empty."""

    def __init__(self, rect: pygame.Rect, query: str) -> None:
        super().__init__(rect)
        self.query = query

    def draw(self, surface: pygame.Surface, painter: Painter) -> None:
        """Draw the box, the text and the caret."""
        c, gap = painter.colours, painter.theme.spacing
        pygame.draw.rect(surface, c.surface, self.rect, border_radius=8)
        pygame.draw.rect(surface, c.accent, self.rect, width=3, border_radius=8)
        inner = self.rect.inflate(-2 * gap, 0)
        text = self.query or painter.resolve(Msg("Type the name of the provider"))
        size: str | int = "numbers" if painter.font("numbers", True).get_height() <= self.rect.height else "base"
        if self.query:
            font = painter.font(size, True)
            # the end of a long query is what the payer is typing: keep it in view
            shown = text
            while len(shown) > 1 and font.size("…" + shown)[0] > inner.width - 8:
                shown = shown[1:]
            text = shown if shown == self.query else "…" + shown
        else:
            size = fit_size(painter, text, "base", inner, False, 1)  # the hint shrinks, never loses its end
            font = painter.font(size)
        y = self.rect.centery - font.get_height() // 2
        box = painter.put(surface, text, size, c.text if self.query else c.muted_text, bool(self.query), (inner.x, y))
        painter.note(text, [text], [box], self.rect, size, self)
        caret_x = inner.x + (box.width + 2 if self.query else 0)
        pygame.draw.rect(surface, c.accent, (caret_x, y + 4, 3, font.get_height() - 8))
        self.dirty = False


class ProvidersScreen(PhoneScreen):
    """Choose a provider from the category, find one by name, or (for mobile) pay by phone number."""

    states = ("provider",)
    name = "providers"

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.page = 0
        self.searching = False
        self.query = ""
        self.layout = ctx.lang if ctx.lang in TEXT_LAYOUTS else next(iter(TEXT_LAYOUTS))
        self.keypad: Keypad | None = None

    def key(self, view: SessionView) -> Any:
        """The category and a message decide the look."""
        return view.state, view.category, view.message

    def _tile(self, provider: Provider) -> Tile:
        available = self.ctx.terminal.reachable(provider)
        return Tile(PROVIDER + provider.id, provider.name, self.ctx.asset(provider.logo), available,
                    Msg("Unavailable now"))

    def build(self, view: SessionView, painter: Painter, theme: Theme, rect: pygame.Rect) -> Group:
        """The grid, the search keyboard with the first matches above it, or the phone entry."""
        if self.searching:
            return self._build_search(view, painter, rect)
        if self.phone is not None:
            return self.phone.build(self, view, painter, rect)
        catalog = self.ctx.terminal.catalog
        category = next((c for c in catalog.categories if c.id == view.category), None)
        title: TextLike = category.name if category is not None else Msg("Choose a provider")
        widgets, body = standard(self, view, painter, rect, title,
                                 [Nav(Msg("Back"), BACK), Nav(Msg("Search by name"), SEARCH)])
        if view.message == "provider_unavailable":
            strip, body = take_top(body, banner_height(painter), theme.spacing)
            widgets.append(Banner(strip, Msg("The provider cannot be reached now. Please try again later")))
        elif view.message == "choose_operator":
            text = Msg("We could not tell the operator of this number: please choose it")
            strip, body = take_top(body, banner_fit(painter, text, body.width), theme.spacing)
            widgets.append(Banner(strip, text, "focus"))
        tiles = [phone_tile()] if view.category == MOBILE else []
        tiles += [self._tile(p) for p in catalog.in_category(view.category or "")]
        grid, self.page = paged_grid(self, painter, body, tiles, self.page)
        return Group(widgets + grid)

    def _build_search(self, view: SessionView, painter: Painter, rect: pygame.Rect) -> Group:
        gap, m = painter.theme.spacing, self.ctx.min_px
        if self.keypad is not None:
            self.layout = self.keypad.kind  # the keyboard may have switched its own layout
        widgets, body = standard(self, view, painter, rect, Msg("Search by name"), [Nav(Msg("Back"), SEARCH_CLOSE)])
        box_h = painter.font("numbers", True).get_linesize() + gap
        finger = self.ctx.finger_px or m
        # on a short display the keyboard comes first: the hint line goes, the box and results shrink
        short = body.height < box_h + painter.font("base").get_linesize() + m + 5 * (finger + gap // 2) + 3 * gap
        if short:
            box_h = painter.font("base", True).get_linesize() + gap
        box, rest = take_top(body, box_h, gap // 2 if short else gap)
        info, rest = take_top(rest, 0 if short else painter.font("base").get_linesize(), 0 if short else gap // 2)
        found = matches(self.ctx.terminal.catalog.listed(), self.query)
        row, keys = take_top(rest, m, gap // 2 if short else gap)
        if short and keys.height < 5 * (finger + 4):
            # still too short for the keys: the results share the search box's row, at its right
            box.height, box.width = finger, body.width * 2 // 5
            row = pygame.Rect(box.right + gap // 2, box.y, body.right - box.right - gap // 2, finger)
            keys = pygame.Rect(body.x, box.bottom + gap // 2, body.width, body.bottom - box.bottom - gap // 2)
        widgets.append(SearchBox(box, self.query))
        # as many result buttons as fit one row at two finger widths each
        columns = max(1, min(4, (row.width + gap) // (3 * m + gap)))
        keys.height = min(keys.height, 5 * (m + gap) + 2 * m)
        if self.query and not found:
            info_text: TextLike = Msg("Nothing found. Check the spelling or choose from the list")
        elif self.query:
            info_text = painter.t.ngettext("{count} provider found", "{count} providers found", len(found))
        else:
            info_text = Msg("Type the name of the provider")
        if info.height:
            widgets.append(Label(info, info_text, "base", "muted_text", max_lines=1))
        width = (row.width - gap * (columns - 1)) // columns
        for index, provider in enumerate(found[:columns]):
            tile = self._tile(provider)
            widgets.append(Button((row.x + index * (width + gap), row.y, width, row.height), provider.name, tile.id,
                                  "primary", tile.enabled, size="base"))
        # twelve letters a row: keys at the 15 mm floor with half gaps, where the theme's roomier size does not fit
        self.keypad = Keypad(keys, finger, 4 if short else max(4, gap // 2), self.layout)
        widgets.append(self.keypad)
        return Group(widgets)

    def handle(self, action: str, view: SessionView) -> list[Any]:
        """A tile or result chooses the provider; keys edit the search; page buttons turn pages."""
        if self.keypad is not None:
            self.layout = self.keypad.kind
        events = self.phone_action(action)
        if events is not None:
            return events
        if action.startswith(PROVIDER):
            return [ev.ChooseProvider(action[len(PROVIDER):])]
        if action in (PREV, NEXT):
            self.page += 1 if action == NEXT else -1
        elif action == SEARCH:
            self.searching, self.query = True, ""
        elif action == SEARCH_CLOSE:
            self.searching, self.keypad = False, None
        elif self.searching and (action in (BACKSPACE, CLEAR, SPACE) or len(action) == 1):
            self.query = self._edit(self.query, action)
            self.stale = True
            return [ev.MoreTime()]  # someone typing a name must not be sent back to the start
        else:
            return super().handle(action, view)
        self.stale = True
        return []

    def key_down(self, key: int, unicode: str, view: SessionView) -> list[Any]:
        """Letters from a hardware keyboard type into the search, digits into the phone entry."""
        events = self.phone_key(key, unicode)
        if events is not None:
            return events
        if self.searching:
            if key == pygame.K_BACKSPACE:
                self.query = self._edit(self.query, BACKSPACE)
            elif unicode and unicode.isprintable():
                self.query = self._edit(self.query, unicode.upper())
            self.stale = True
        return []

    @staticmethod
    def _edit(query: str, key: str) -> str:
        if key == BACKSPACE:
            return query[:-1]
        if key == CLEAR:
            return ""
        if key == SPACE:
            return (query + " ")[:MAX_QUERY] if query and not query.endswith(" ") else query
        return (query + key)[:MAX_QUERY]
