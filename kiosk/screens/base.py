"""The Screen base: a screen draws one session state from its SessionView and turns taps into session events.

Screens never decide anything about money: they show what `Session.view()` says and post the payer's
choices as events. What a screen keeps for itself is only the look of the moment (a search text, a page of
tiles, an open PIN pad); the UI loop rebuilds the widgets whenever the view or that local state changes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pygame

from kiosk import events as ev
from kiosk.money import Money
from kiosk.screens.text import Msg, Painter, TextLike
from kiosk.screens.theme import Theme
from kiosk.screens.widgets import Countdown, Group, Label, Widget, arc_points
from kiosk.session import SessionView
from kiosk.session_model import MORE_TIME_STATES, TIMEOUTS

if TYPE_CHECKING:
    from kiosk.session_view import ScreenPort

#: a language's own name, shown on the switch in that language whatever language is on screen now
LANGUAGE_NAMES = {"ru": "Русский", "en": "English"}
LANG, BACK, HOME = "lang", "back", "home"
MORE_TIME = "more-time"
#: from this many seconds left the offer shows: long enough to read the question and reach the button
MORE_TIME_SECONDS = 15


@dataclass
class ScreenContext:
    """What every screen may read: the terminal's screen port, the finger size in pixels, the language, the mode."""

    terminal: ScreenPort
    min_px: int
    lang: str
    demo: bool = False
    #: the UI's own monotonic clock (touch timing, local timers); the session keeps its own
    clock: Callable[[], float] = field(default=lambda: 0.0)
    themes: Sequence[str] = ()
    theme: str = "default"
    #: asks the UI for things beyond the session: 'language', 'theme:<name>', 'restart'
    request: Callable[[str], None] = field(default=lambda what: None)
    #: the hard floor for a target (15 mm), for layouts that cannot give every key the theme's roomier size
    finger_px: int = 0

    def money(self, minor: int) -> str:
        """An amount in the screen's language, e.g. '1 234,50 ₽', never broken across lines."""
        return Money(minor, self.terminal.config.currency).format(self.lang).replace(" ", "\u00a0")

    def other_language(self) -> str:
        """The language the switch leads to."""
        langs = list(self.terminal.config.languages) or [self.lang]
        return langs[(langs.index(self.lang) + 1) % len(langs)] if self.lang in langs else langs[0]

    def asset(self, name: str) -> Path | None:
        """A catalog image (logo, icon) next to the catalog file, if it is there."""
        if not name:
            return None
        path = self.terminal.config.catalog_path.parent / name
        return path if path.is_file() else None


class SessionCountdown(Countdown):
    """The session's own countdown: shows view.seconds_left; the session's clock, not this widget, runs it."""

    def __init__(self, rect: pygame.Rect, seconds: int, total: float, text: TextLike | None = None) -> None:
        super().__init__(rect, 0.0, total, text)
        self.seconds = seconds

    def show(self, seconds: int) -> None:
        """Show the seconds the session has left."""
        if seconds != self.seconds:
            self.seconds, self.dirty = seconds, True

    def tick(self, now: float) -> None:
        """Nothing: the UI's once-a-second Tick brings new seconds from the session."""

    def wake_at(self) -> float | None:
        """Never by itself."""
        return None

    def draw(self, surface: pygame.Surface, painter: Painter) -> None:
        """Countdown's ring and text, with the number sized to fit the hole (a 120 s timeout has three digits)."""
        c, side = painter.colours, self.rect.height
        ring = pygame.Rect(self.rect.x, self.rect.y, side, side)
        thickness = max(4, side // 9)
        pygame.draw.circle(surface, c.surface, ring.center, side // 2)
        pygame.draw.circle(surface, c.muted_text, ring.center, side // 2, width=2)
        share = min(1.0, self.seconds / self.total)
        if share > 0:
            colour = c.danger if self.seconds <= 5 else c.accent
            pygame.draw.polygon(surface, colour, arc_points(ring.center, side // 2 - 1, side // 2 - thickness, share))
        text = str(self.seconds)
        px, floor = max(painter.theme.sizes.minimum, side * 4 // 10), painter.theme.sizes.minimum
        while px > floor and painter.font(px, True).size(text)[0] > side - 2 * thickness - 6:
            px -= 1
        font = painter.font(px, True)
        at = (ring.centerx - font.size(text)[0] // 2, ring.centery - font.get_height() // 2)
        painter.note(text, [text], [painter.put(surface, text, px, c.text, True, at)], ring, px, self)
        if self.text and self.rect.width > side * 2:
            words = (Msg(self.text.msgid, **{**self.text.values, "seconds": self.seconds})
                     if isinstance(self.text, Msg) else self.text)
            area = pygame.Rect(ring.right + painter.theme.spacing, self.rect.y, self.rect.right - ring.right, side)
            Label(area.inflate(-painter.theme.spacing, 0), words, colour="text", valign="middle").draw(surface, painter)
        self.dirty = False


class Screen:
    """One session state on screen. Subclasses implement build() and extend handle()."""

    #: the session state(s) this screen draws
    states: tuple[str, ...] = ()
    #: a short name for screenshots and tests
    name = "screen"

    def __init__(self, ctx: ScreenContext) -> None:
        self.ctx = ctx
        self.stale = False  # local state changed: the UI rebuilds the widgets
        self.countdown: SessionCountdown | None = None
        self.offering_more_time = False  # whether the widgets built last hold the "more time?" offer

    # -- building ---------------------------------------------------------------------------------
    def build(self, view: SessionView, painter: Painter, theme: Theme, rect: pygame.Rect) -> Group:
        """The widgets of this moment, filling rect."""
        raise NotImplementedError

    def key(self, view: SessionView) -> Any:
        """What of the view the widgets depend on; a change rebuilds them (the countdown updates by itself)."""
        return dataclasses.replace(view, seconds_left=None)

    def offers_more_time(self, view: SessionView) -> bool:
        """Whether the payer's time is nearly up in a state where they may ask for more."""
        return (view.state in MORE_TIME_STATES and view.seconds_left is not None
                and view.seconds_left <= MORE_TIME_SECONDS)

    def countdown_widget(self, view: SessionView, rect: pygame.Rect, text: TextLike | None = None) -> Widget | None:
        """The session's countdown for this state, if the state has a timeout."""
        self.offering_more_time = self.offers_more_time(view)
        key = TIMEOUTS.get(view.state)
        if key is None or view.seconds_left is None:
            self.countdown = None
            return None
        total = self.ctx.terminal.config.timeouts[key]
        self.countdown = SessionCountdown(rect, view.seconds_left, total, text)
        return self.countdown

    def update(self, view: SessionView) -> None:
        """A new view with the same key: only the seconds moved on (past the offer of more time: rebuild)."""
        if self.countdown is not None and view.seconds_left is not None:
            self.countdown.show(view.seconds_left)
        if self.countdown is not None and self.offers_more_time(view) != self.offering_more_time:
            self.stale = True

    def wake_at(self) -> float | None:
        """When local state (an open PIN pad, say) changes by itself."""
        return None

    def tick(self, now: float) -> None:
        """Move local timers on; set stale when the look changes."""

    # -- acting -----------------------------------------------------------------------------------
    def handle(self, action: str, view: SessionView) -> list[Any]:
        """The session events an activated widget stands for (local changes set self.stale)."""
        if action == LANG:
            self.ctx.request("language")
            return []
        if action == BACK:
            return [ev.Back()]
        if action == HOME:
            return [ev.Cancel()]
        if action == MORE_TIME:
            return [ev.MoreTime()]
        return []

    def key_down(self, key: int, unicode: str, view: SessionView) -> list[Any]:
        """A hardware key (a service keyboard); screens with text input take digits and letters."""
        return []


def phone(number: str) -> str:
    """A phone number that is never broken across lines (no-break spaces: '8 800 000-00-00')."""
    return number.replace(" ", "\u00a0")


def provider_name(ctx: ScreenContext, provider_id: str | None) -> TextLike:
    """A provider's name as a {ru, en} table, or the id if the catalog does not know it."""
    provider = ctx.terminal.catalog.providers.get(provider_id or "")
    return provider.name if provider is not None else (provider_id or "")


def problem_text(key: str) -> Msg | None:
    """What an account problem means to the payer: a validation key, or a refusal from the provider."""
    if not key:
        return None
    from kiosk.screens.i18n import PROBLEMS

    if key in PROBLEMS:
        return Msg(PROBLEMS[key])
    return Msg("The provider did not confirm this number. Check it and try again")
