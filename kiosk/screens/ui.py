"""The pygame loop: one thread, event-driven, sleeping until something can change.

Each turn: take the window's events (touches become Touch values, then widget actions, then session events),
post a Tick about once a second, pump the terminal's queue, rebuild the screen if the session's view changed,
and draw only if something looks different. The loop sleeps until the next Tick, the next widget change, or
(in states where devices and gateways report from other threads) a short poll interval.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pygame

from kiosk import events as ev
from kiosk.screens.base import Screen, ScreenContext
from kiosk.screens.frame import more_time_prompt
from kiosk.screens.i18n import translations
from kiosk.screens.layout import display_scale, fit_window, scaled_target, scaled_theme
from kiosk.screens.registry import screen_for
from kiosk.screens.text import Msg, Painter
from kiosk.screens.theme import THEMES_DIR, Theme, ThemeManager, theme_names
from kiosk.screens.touch import DOWN, MIN_TARGET_MM, TouchInput, min_target_px
from kiosk.screens.widgets import Group, Label, Widget
from kiosk.session import SessionView

if TYPE_CHECKING:
    from kiosk.session_view import DemoPort, HasScreenPort, ScreenPort

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0
#: states in which bills, check results and deliveries arrive from other threads: look at the queue often
BUSY_STATES = ("online_check", "cash_collection", "commit", "delivery")
BUSY_POLL_SECONDS = 0.05
#: how often an idle loop looks at SDL's queue. pygame.event.wait polls every millisecond inside (measured:
#: about 2 % of a core doing nothing, under X11 and the dummy driver alike); 20 ms slices cost about 0.2 %
#: and still show a press well inside the 50 ms target. Posts from other threads wake the loop at once.
INPUT_POLL_SECONDS = 0.02
#: after a screen changes, a second tap of a hurried double tap must not press what appeared under the finger
SCREEN_GUARD_SECONDS = 0.4
#: where the demo's S key scans a bill: where the session takes a scanned code (kiosk.session_model "scan")
SCAN_STATES = ("idle", "category", "provider", "account_entry")
#: the demo's scan keys and the sample each puts under the scanner (kiosk.utility_demo.DEMO_SAMPLES): S the
#: demo provider's ЕПД, D a bill of a payee no provider lists (payment by bank details)
DEMO_SCANS = {pygame.K_s: "epd", pygame.K_d: "by_details"}
RESTART_EXIT = 75  # EX_TEMPFAIL: systemd (Restart=always) or the demo starts the terminal afresh
#: demo keys 1 … 8: the banknotes a payer could push in, in kopecks
DEMO_BILLS = {pygame.K_1 + i: value for i, value in enumerate(
    (1000, 5000, 10000, 20000, 50000, 100000, 200000, 500000))}
DEMO_BILLS.update({pygame.K_KP1 + i: value for i, value in enumerate(DEMO_BILLS.values())})
ALLOWED_EVENTS = (pygame.QUIT, pygame.WINDOWCLOSE, pygame.KEYDOWN, pygame.MOUSEBUTTONDOWN, pygame.MOUSEBUTTONUP,
                  pygame.MOUSEMOTION, pygame.FINGERDOWN, pygame.FINGERUP, pygame.FINGERMOTION,
                  pygame.WINDOWFOCUSLOST, pygame.WINDOWLEAVE, pygame.WINDOWEXPOSED, pygame.WINDOWRESTORED,
                  pygame.VIDEOEXPOSE, pygame.USEREVENT)


def window_size(wanted: tuple[int, int]) -> tuple[int, int]:
    """The window for a wanted size on this display: shrunk with its shape kept when the display is smaller
    (a 1280×1024 demo on a 1366×768 laptop would open with its header and footer off screen)."""
    if pygame.display.get_driver() in ("dummy", "offscreen"):
        return wanted  # no display to fit (the dummy driver makes up a 1024×768 desktop)
    try:
        desktops = pygame.display.get_desktop_sizes()
    except pygame.error:
        desktops = []
    if not desktops:
        return wanted
    fitted = fit_window(wanted, desktops[0])
    if fitted != wanted:
        log.info("window %dx%d does not fit the %dx%d display: opening at %dx%d", *wanted, *desktops[0], *fitted)
    return fitted


def dirty_area(widget: Widget) -> pygame.Rect | None:
    """The rectangle covering every widget that needs drawing again (None: redraw everything)."""
    rects: list[pygame.Rect] = []

    def walk(w: Widget) -> bool:
        if not w.visible:
            return True
        children = w.children if isinstance(w, Group) else []
        if w.dirty:
            if w.rect.width <= 0 or w.rect.height <= 0:
                return False  # a group without a rect of its own: its extent is unknown
            rects.append(w.rect)
        return all(walk(c) for c in children)

    if not walk(widget) or not rects:
        return None
    return rects[0].unionall(rects[1:])


def changed(widget: Widget) -> bool:
    """Whether a widget or anything inside it needs drawing again."""
    if widget.dirty:
        return True
    return isinstance(widget, Group) and any(changed(c) for c in widget.children if c.visible)


class KioskUI:
    """The terminal's face: draws the session's screens and turns touches into session events."""

    def __init__(self, terminal: HasScreenPort | ScreenPort, *, demo: bool = False, size: tuple[int, int] | None = None,
                 fullscreen: bool = False, theme: str | None = None, lang: str | None = None,
                 themes_dir: str | Path | None = None, clock: Callable[[], float] = time.monotonic,
                 insert_bill: DemoPort | None = None, scan_sample: Callable[[str], None] | None = None) -> None:
        # the screens see the terminal through its screen port only (kiosk/session_view.py)
        port = terminal.screen_port() if hasattr(terminal, "screen_port") else terminal
        config = port.config
        self.terminal, self.demo, self.clock = port, demo, clock
        self.on_turn: Callable[[], object] | None = None  # each turn of the loop (systemd's watchdog)
        # Demo keys push banknotes through the demo's port: an emulator process, or the in-process validator.
        self.insert_bill = insert_bill
        self.scan_sample = scan_sample  # the demo's S and D keys: a sample utility bill under the scanner
        # SDL's accelerated window framebuffer loads a GL stack (Mesa's llvmpipe on a terminal without a GPU
        # driver): about 100 MB more resident memory for nothing a 2D kiosk draws (measured, bench/ui_xvfb.py)
        os.environ.setdefault("SDL_FRAMEBUFFER_ACCELERATION", "0")
        pygame.display.init()
        pygame.font.init()
        size = size or (config.screen.width, config.screen.height)
        if not fullscreen:
            size = window_size(size)
        flags = pygame.FULLSCREEN if fullscreen else 0
        self.surface = pygame.display.set_mode((0, 0) if fullscreen else size, flags)
        pygame.display.set_caption("kiosk" + (" (demo)" if demo else ""))
        pygame.event.set_blocked(None)
        pygame.event.set_allowed(list(ALLOWED_EVENTS))
        if not demo:
            pygame.mouse.set_visible(False)  # a touchscreen shows no pointer; a demo on a desktop does
        self.size = self.surface.get_size()
        # the theme the dealer delivered (kiosk/theme_choice.py) unless one is asked for here
        choice = getattr(port, "theme", None)
        wanted = theme or (choice.wanted() if choice is not None else config.screen.theme)
        self.themes = ThemeManager(themes_dir or config.screen.themes_dir or THEMES_DIR, wanted,
                                   (choice.folder,) if choice is not None else ())
        self.themes.subscribe(lambda _theme: self._restyle())
        if choice is not None:
            choice.attach(self.themes.switch, self.themes.current.id)
            self.themes.subscribe(lambda current: setattr(choice, "shown", current.id))  # the service menu's too
        self._configured_theme = config.screen.theme  # a pushed configuration may name another: see step()
        self.default_lang: str = lang if lang is not None and lang in config.languages else config.screen.language
        self.lang = self.default_lang
        self.touch = TouchInput(self.size, clock=clock)
        self.exit_code: int | None = None
        self.screen: Screen | None = None
        self.view: SessionView | None = None
        self.widgets = Group()
        self._key: Any = None
        self._painters: dict[tuple[str, str, tuple[int, int]], Painter] = {}
        self._needs_draw = True
        self._guard_until = 0.0
        now = clock()
        self.next_tick = now + TICK_SECONDS
        self.ctx = ScreenContext(port, self._min_px(), self.lang, demo, clock,
                                 theme_names(self.themes.themes_dir), self.themes.current.id, self._request)
        self.ctx.finger_px = self._min_px(mm=MIN_TARGET_MM)
        self._set_receipt_language()
        # Events posted by other threads (the validator, checks, deliveries) wake the loop at once.
        self._woken = threading.Event()
        port.on_post(self._woken.set)
        self.refresh()

    # -- look -----------------------------------------------------------------------------------
    @property
    def style(self) -> Theme:
        """The current theme with its sizes scaled to this display."""
        return self.painter.theme

    @property
    def painter(self) -> Painter:
        """The painter of the current theme and language at this display's size."""
        key = (self.themes.current.id, self.lang, self.size)
        if key not in self._painters:
            # only the current one is kept: each holds its rendered texts and scaled ads (~15 MB at 1080p),
            # and re-rendering after a switch costs one slower frame
            theme = scaled_theme(self.themes.current, display_scale(self.size))
            self._painters = {key: Painter(theme, translations(self.lang))}
        return self._painters[key]

    def _min_px(self, theme: Theme | None = None, size: tuple[int, int] | None = None, mm: float = 0.0) -> int:
        theme, size = theme or self.themes.current, size or self.size
        mm = mm or theme.target_mm
        return scaled_target(min_target_px(self.terminal.config.screen.dpi, mm), display_scale(size))

    def _restyle(self) -> None:
        self.ctx.min_px, self.ctx.theme, self.ctx.lang = self._min_px(), self.themes.current.id, self.lang
        self.ctx.finger_px = self._min_px(mm=MIN_TARGET_MM)
        self._rebuild()

    def _set_receipt_language(self) -> None:
        # the payer reads the receipt in the language they chose on screen
        self.terminal.set_receipt_language(self.lang)

    def set_language(self, lang: str) -> None:
        """Show every text in another language."""
        if lang != self.lang and lang in self.terminal.config.languages:
            self.lang = lang
            self._set_receipt_language()
            self._restyle()

    def _request(self, what: str) -> None:
        if what == "language":
            self.set_language(self.ctx.other_language())
        elif what.startswith("theme:"):
            self.themes.switch(what.split(":", 1)[1])
        elif what == "restart":
            self.exit_code = RESTART_EXIT

    def request_exit(self, code: int) -> None:
        """End the loop with this exit code after the current turn (called on the UI thread)."""
        self.exit_code = code

    # -- the session's view ---------------------------------------------------------------------
    def refresh(self) -> None:
        """Read the session's view; change or rebuild the screen if it changed, else move the countdown on."""
        view = self.terminal.view()
        cls = screen_for(view)
        if self.screen is None or type(self.screen) is not cls:
            if view.state == "idle" and self.view is not None and self.view.state != "idle":
                self.set_language(self.default_lang)  # the next payer starts in the terminal's language
            self.touch.cancel()
            self._guard_until = self.clock() + SCREEN_GUARD_SECONDS if self.screen is not None else 0.0
            self.screen = cls(self.ctx)
            self.view = view
            self._rebuild()
            return
        self.view = view
        if self.screen.stale or self.screen.key(view) != self._key:
            self._rebuild()
        else:
            self.screen.update(view)
            if self.screen.stale:  # the seconds crossed a line the look depends on (the offer of more time)
                self._rebuild()

    def _rebuild(self) -> None:
        if self.screen is None or self.view is None:
            return
        self.screen.stale = False
        self._key = self.screen.key(self.view)
        rect = pygame.Rect((0, 0), self.size)
        try:
            self.widgets = self.compose(self.painter, rect)
        except Exception:
            # a screen that cannot lay itself out must not stop the terminal: the session goes on underneath
            log.exception("screen %s cannot be built", type(self.screen).__name__)
            self.widgets = Group([Label(rect.inflate(-40, -40), Msg("Temporarily out of service"), "title",
                                        bold=True, align="center", valign="middle")])
        self.widgets.tick(self.clock())
        self._needs_draw = True

    def compose(self, painter: Painter, rect: pygame.Rect) -> Group:
        """The current screen's widgets (and the offer of more time over them) laid out in rect."""
        assert self.screen is not None and self.view is not None
        widgets = self.screen.build(self.view, painter, painter.theme, rect)
        prompt = more_time_prompt(self.screen, self.view, painter, rect, widgets.children)
        if prompt is not None:
            widgets.children.append(prompt)  # last: drawn over the screen, first to take its presses
        return widgets

    def layout_at(self, size: tuple[int, int], theme: Theme) -> tuple[Group, Painter, int]:
        """The current screen laid out for another display and theme, without touching the window.

        Returns the widgets, the painter they draw with, and the finger size they were laid out for; the
        screen's own state is what it is now. The window's own layout is rebuilt afterwards.
        """
        painter = Painter(scaled_theme(theme, display_scale(size)), translations(self.lang))
        saved = self.ctx.min_px, self.ctx.finger_px
        self.ctx.min_px, self.ctx.finger_px = self._min_px(theme, size), self._min_px(theme, size, MIN_TARGET_MM)
        try:
            widgets = self.compose(painter, pygame.Rect((0, 0), size))
            return widgets, painter, self.ctx.min_px
        finally:
            self.ctx.min_px, self.ctx.finger_px = saved
            self._rebuild()

    # -- input ----------------------------------------------------------------------------------
    def handle_events(self, events: Iterable[pygame.event.Event]) -> None:
        """Turn window events into actions and session events."""
        for event in events:
            if event.type in (pygame.QUIT, pygame.WINDOWCLOSE):
                if self.demo:
                    self.exit_code = 0  # production ignores it: there is no way out of the kiosk from the UI
            elif event.type in (pygame.WINDOWEXPOSED, pygame.WINDOWRESTORED, pygame.VIDEOEXPOSE):
                self._needs_draw = True
            elif event.type == pygame.KEYDOWN:
                self._key_down(event)
            for touch in self.touch.feed(event, self.clock()):
                if touch.kind == DOWN and touch.time < self._guard_until:
                    continue
                action = self.widgets.touch(touch)
                if action:
                    self.act(action)

    def _key_down(self, event: pygame.event.Event) -> None:
        if not self.demo:
            events = (self.screen.key_down(event.key, event.unicode, self.view)
                      if self.screen is not None and self.view is not None else [])
            self._post(events)
            return
        if event.key == pygame.K_ESCAPE:
            self.exit_code = 0
        elif event.key in DEMO_BILLS and self.view is not None and self.view.state == "cash_collection":
            if self.insert_bill is not None:
                self.insert_bill(DEMO_BILLS[event.key])
                self.terminal.pump()
                self.refresh()
        elif event.key in DEMO_SCANS and self.scan_sample is not None and self.view is not None and \
                self.view.state in SCAN_STATES:
            self.scan_sample(DEMO_SCANS[event.key])  # the code arrives on the session's queue, from the scanner's thread or at once
        elif self.screen is not None and self.view is not None:
            self._post(self.screen.key_down(event.key, event.unicode, self.view))

    def act(self, action: str) -> None:
        """Carry out a widget's action: the screen says which session events it stands for."""
        if self.screen is None or self.view is None:
            return
        self._post(self.screen.handle(action, self.view))
        if self.screen.stale:
            self._rebuild()

    def _post(self, events: list[Any]) -> None:
        if not events:
            return
        for event in events:
            self.terminal.post(event)
        self.terminal.pump()
        self.refresh()

    # -- time and drawing -----------------------------------------------------------------------
    def wait_ms(self) -> int:
        """How long the loop may sleep before anything can change by itself."""
        now = self.clock()
        wakes = [self.next_tick, self.widgets.wake_at(), self.screen.wake_at() if self.screen else None]
        if self.view is not None and self.view.state in BUSY_STATES:
            wakes.append(now + BUSY_POLL_SECONDS)
        soonest = min(w for w in wakes if w is not None)
        return max(1, min(1000, math.ceil((soonest - now) * 1000)))

    def step(self, events: Iterable[pygame.event.Event] = ()) -> None:
        """One turn of the loop without waiting: input, time, the session's queue, drawing."""
        self.handle_events(events)
        now = self.clock()
        if now >= self.next_tick:
            self.terminal.post(ev.Tick())
            self.next_tick = max(self.next_tick + TICK_SECONDS, now + TICK_SECONDS / 2)
        self.terminal.pump()
        if self.terminal.config.screen.theme != self._configured_theme:  # pushed, and applied between payments
            self._configured_theme = self.terminal.config.screen.theme
            self.themes.switch(self._configured_theme)
        self.refresh()
        if self.screen is not None:
            self.screen.tick(now)
            if self.screen.stale:
                self._rebuild()
        self.widgets.tick(now)
        self.draw()

    def draw(self, force: bool = False) -> bool:
        """Redraw what changed (a pressed button, a countdown) or the whole screen; returns whether it drew."""
        if not (force or self._needs_draw or changed(self.widgets)):
            return False
        area = None if force or self._needs_draw else dirty_area(self.widgets)
        screen = self.surface.get_rect()
        if area is not None and area.width * area.height * 3 < screen.width * screen.height:
            # only the changed part is drawn and sent to the display: a press shows a frame sooner, and a
            # countdown ticking on an idle screen costs little (everything is drawn, clipped to the area)
            self.surface.set_clip(area)
            self.surface.fill(self.themes.current.colours.background, area)
            self.widgets.draw(self.surface, self.painter)
            self.surface.set_clip(None)
            pygame.display.update(area)
            return True
        self.surface.fill(self.themes.current.colours.background)
        self.widgets.draw(self.surface, self.painter)
        self._needs_draw = False
        pygame.display.flip()
        return True

    def run(self) -> int:
        """Serve the payer until asked to stop; returns the exit code (RESTART_EXIT to be started again)."""
        self.draw(force=True)
        while self.exit_code is None:
            if self.on_turn is not None:
                self.on_turn()
            self.step(self._wait_for_events(self.wait_ms()))
        return self.exit_code

    def _wait_for_events(self, wait_ms: int) -> list[pygame.event.Event]:
        """Sleep until input arrives, another thread posts to the terminal, or wait_ms has passed."""
        deadline = self.clock() + wait_ms / 1000
        while True:
            events = pygame.event.get()
            now = self.clock()
            if events or self._woken.is_set() or now >= deadline:
                self._woken.clear()
                return events
            self._woken.wait(min(INPUT_POLL_SECONDS, deadline - now))

    # -- for tests and screenshots --------------------------------------------------------------
    def targets(self) -> dict[str, pygame.Rect]:
        """Every enabled action on screen and where it is."""
        found: dict[str, pygame.Rect] = {}

        def walk(widget: Widget) -> None:
            if not widget.visible:
                return
            if isinstance(widget, Group):
                for child in widget.children:
                    walk(child)
            action = getattr(widget, "action", None)
            if action and widget.targets():
                found.setdefault(action, widget.rect)

        walk(self.widgets)
        return found

    def save(self, path: str | Path) -> Path:
        """Draw the current screen and write it as a PNG."""
        self.draw(force=True)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        pygame.image.save(self.surface, str(path))
        return path
