"""The attract screen (idle): the dealer's advertising slideshow; a touch anywhere starts a payment."""

from __future__ import annotations

from typing import Any

import pygame

from kiosk import events as ev
from kiosk.screens.ads import MOST_PROVIDERS, CatalogSlideshow, Slide
from kiosk.screens.base import Screen, phone
from kiosk.screens.frame import header
from kiosk.screens.panels import Panel
from kiosk.screens.pin import SERVICE_TAP, PinEntry, PinPadScreen
from kiosk.screens.text import Msg, Painter
from kiosk.screens.theme import Theme
from kiosk.screens.widgets import Group, Label, Widget
from kiosk.session import SessionView

START = "start"


class TapArea(Widget):
    """An invisible target: a press and release inside it returns its action."""

    def __init__(self, rect: pygame.Rect | tuple[int, int, int, int], action: str) -> None:
        super().__init__(rect)
        self.action, self._down = action, False
        self.dirty = False

    def touch(self, touch: Any) -> str | None:
        """Activate on release inside, like a button."""
        inside = self.rect.collidepoint(touch.pos)
        if touch.kind == "down":
            self._down = inside
        elif touch.kind == "up" and self._down:
            self._down = False
            return self.action if inside else None
        elif touch.kind == "cancel":
            self._down = False
        return None

    def targets(self) -> list[pygame.Rect]:
        """The area itself."""
        return [self.rect]


def corner_width(screen: Screen, painter: Painter) -> int:
    """How wide the terminal number at the bottom right is."""
    text = Msg("Terminal {terminal}", terminal=screen.ctx.terminal.config.terminal)
    return max(2 * screen.ctx.min_px, painter.font("base").size(painter.resolve(text))[0] + painter.theme.spacing)


def service_corner(screen: Screen, painter: Painter, rect: pygame.Rect) -> list[Widget]:
    """The terminal number at the bottom right, which is also the hidden service entry."""
    gap, m = painter.theme.spacing, screen.ctx.min_px
    text = Msg("Terminal {terminal}", terminal=screen.ctx.terminal.config.terminal)
    width = corner_width(screen, painter)
    area = pygame.Rect(rect.right - width - gap, rect.bottom - m - gap // 2, width, m)
    return [Label(area, text, "base", "muted_text", align="right", valign="middle", max_lines=1),
            TapArea(area, SERVICE_TAP)]


class AttractScreen(PinPadScreen):
    """Ads, an invitation to touch, the terminal number and the support phone."""

    states = ("idle",)
    name = "attract"

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.pin = PinEntry(self)
        self.started = ctx.clock()  # the slideshow restarts from its first picture on each return here

    def build(self, view: SessionView, painter: Painter, theme: Theme, rect: pygame.Rect) -> Group:
        """Header, slideshow, an accent band with the invitation, then a line of small print."""
        gap, m = theme.spacing, self.ctx.min_px
        config = self.ctx.terminal.config
        widgets, head_h = header(self, painter, rect, Msg("Pay in cash: mobile, utilities, internet and more"))
        notes = Msg("The terminal gives no change")
        support = Msg("Support: {phone}", phone=phone(config.support_phone))
        # the small print shares the bottom line with the terminal number, each as wide as its words need
        room = rect.width - 4 * gap - corner_width(self, painter) - gap
        natural = [painter.font("base").size(painter.resolve(t))[0] for t in (notes, support)]
        line = painter.font("base").get_linesize()
        one_row = sum(natural) + gap <= room
        small_h = m + gap if one_row else max(m + gap, 2 * line + gap)
        invite = Msg("Touch the screen to pay")
        band_lines = len(painter.wrap(painter.resolve(invite), "title", rect.width - 2 * gap, True))
        band_h = painter.font("title", True).get_linesize() * min(2, band_lines) + 2 * gap
        band = pygame.Rect(rect.x, rect.bottom - small_h - band_h, rect.width, band_h)
        show = pygame.Rect(rect.x, rect.y + head_h, rect.width, band.y - rect.y - head_h)
        small = pygame.Rect(rect.x + gap, band.bottom, room, small_h)
        # the slideshow first: the tap area and the service corner drawn later win the touch
        # with the PIN pad open, a tap beside its keys must not start a payment
        start = "" if self.pin.open else START
        widgets.insert(0, CatalogSlideshow(show, self.slides(painter), theme.ad_seconds, self.started, start))
        widgets.append(Panel(band, "accent"))
        widgets.append(Label(band.inflate(-2 * gap, -gap), invite, "title", "accent_text",
                             bold=True, align="center", valign="middle", max_lines=2))
        # stacked, each line may run up to a gap from the terminal number's box
        stacked_w = rect.width - 3 * gap - corner_width(self, painter)
        if one_row or max(natural) > stacked_w:
            first = natural[0] if one_row else (small.width - gap) * natural[0] // sum(natural)
            widgets.append(Label((small.x, small.y, first, small.height), notes, "base", "muted_text",
                                 valign="middle", max_lines=2))
            widgets.append(Label((small.x + first + gap, small.y, small.width - first - gap, small.height), support,
                                 "base", "muted_text", valign="middle", max_lines=2))
        else:
            # each fits a line of its own, one above the other: neither is broken
            top = small.y + (small.height - 2 * line) // 2
            for n, text in enumerate((notes, support)):
                widgets.append(Label((small.x, top + n * line, stacked_w, line), text, "base", "muted_text",
                                     max_lines=1))
        if self.pin.open:
            widgets += self.pin.widgets(view, painter, rect)
        else:
            widgets.append(TapArea(pygame.Rect(rect.x, show.y, rect.width, rect.bottom - show.y), START))
            widgets += service_corner(self, painter, rect)
        return Group(widgets)

    def slides(self, painter: Painter) -> list[Slide]:
        """One slide per category that has providers: its name, its providers with their fees, a picture."""
        ctx, out = self.ctx, []
        catalog = ctx.terminal.catalog
        # the theme's picture for a category is named after it (ad-mobile.png); else the catalog's icon
        pictures = {path.stem.removeprefix("ad-"): path for path in painter.theme.ads}
        for category in catalog.categories:
            providers = catalog.in_category(category.id)
            if not providers:
                continue
            lines = [f"{painter.resolve(p.name)} — {p.fee.describe(ctx.lang)}" for p in providers[:MOST_PROVIDERS]]
            if len(providers) > MOST_PROVIDERS:
                lines.append(painter.t.ngettext("and {count} more", "and {count} more",
                                                len(providers) - MOST_PROVIDERS))
            picture = pictures.get(category.id) or ctx.asset(category.icon)
            out.append(Slide(picture, category.name, tuple(lines)))
        return out

    def key(self, view: SessionView) -> Any:
        """The PIN pad shows the wrong-PIN message; nothing else of the view matters here."""
        return view.state, view.message

    def handle(self, action: str, view: SessionView) -> list[Any]:
        """A touch starts the payment; the pad's keys go to the pad."""
        pad = self.pin.handle(action, view)
        if pad is not None:
            return pad
        if action == START:
            return [ev.Touch()]
        return super().handle(action, view)
