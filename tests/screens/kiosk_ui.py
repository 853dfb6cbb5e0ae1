"""Helpers for driving the real UI headless: a UI clock the test moves, and taps as real pygame events."""

from __future__ import annotations

import os

os.environ["SDL_VIDEODRIVER"] = "dummy"

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pygame

from kiosk import events as ev
from kiosk.demo_stack import in_process_bills
from kiosk.screens.screenshots import settle, terminal_in
from kiosk.screens.ui import SCREEN_GUARD_SECONDS, KioskUI


class UiClock:
    """Monotonic time for the UI's touch handling, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Driver:
    """A KioskUI over a real Terminal, with taps injected through pygame's event queue."""

    def __init__(self, ui: KioskUI, terminal, clock, ui_clock: UiClock) -> None:  # noqa: ANN001
        self.ui, self.terminal, self.clock, self.ui_clock = ui, terminal, clock, ui_clock

    @property
    def state(self) -> str:
        return self.terminal.session.state

    def settle(self) -> None:
        """Let deliveries finish and the UI catch up."""
        settle(self.terminal)
        self.ui.step(pygame.event.get())

    def where(self, action: str) -> tuple[int, int]:
        targets = self.ui.targets()
        assert action in targets, f"no {action!r} on the {self.ui.screen.name} screen: {sorted(targets)}"
        return targets[action].center

    def tap(self, action: str, finger: bool = False, wait: float = SCREEN_GUARD_SECONDS + 0.1) -> None:
        """Press and release on the widget with this action, as a mouse or as a finger."""
        self.ui_clock.advance(wait)
        self.tap_at(self.where(action), finger)

    def tap_at(self, pos: tuple[int, int], finger: bool = False) -> None:
        """Press and release at a point."""
        width, height = self.ui.size
        if finger:
            for kind in (pygame.FINGERDOWN, pygame.FINGERUP):
                pygame.event.post(pygame.event.Event(kind, touch_id=7, finger_id=0, x=pos[0] / width,
                                                     y=pos[1] / height, dx=0.0, dy=0.0, pressure=1.0))
        else:
            for kind in (pygame.MOUSEBUTTONDOWN, pygame.MOUSEBUTTONUP):
                pygame.event.post(pygame.event.Event(kind, pos=pos, button=1, touch=False))
        self.ui.step(pygame.event.get())
        self.settle()

    def type(self, text: str) -> None:
        """Tap keypad keys one by one (a person's pace: past the bounce filter, not past the screen guard)."""
        for index, char in enumerate(text):
            self.tap(char, wait=SCREEN_GUARD_SECONDS + 0.1 if index == 0 else 0.2)

    def key(self, key: int, unicode: str = "") -> None:
        """A hardware key press."""
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, unicode=unicode, mod=0, scancode=0))
        self.ui.step(pygame.event.get())
        self.settle()

    def wait(self, seconds: int) -> None:
        """Let session time pass, with the UI ticking once a second as it does in production."""
        for _ in range(seconds):
            self.clock.advance(1)
            self.ui_clock.advance(1)
            self.ui.step()
        self.settle()

    def insert(self, roubles: int) -> None:
        """A payer pushes a banknote into the in-process validator."""
        self.terminal.validator.insert(roubles * 100)
        self.settle()

    def to_cash(self, account: str = "9123456789") -> None:
        """Walk from the attract screen to the cash screen for MTS by touch."""
        for action in ("start", "category:mobile", "provider:mts"):
            self.tap(action)
        self.type(account)
        self.tap("submit")
        assert self.state == "confirmation"
        self.tap("confirm")
        assert self.state == "cash_collection"

    def login(self, pin: str = "1234") -> None:
        """The hidden service entry: five taps on the terminal number, then the PIN."""
        for index in range(5):
            self.tap("service-tap", wait=SCREEN_GUARD_SECONDS + 0.1 if index == 0 else 0.3)
        self.type(pin)
        self.tap("pin-ok")

    def post(self, *events: object) -> None:
        """Session events from outside the screen (device faults, say)."""
        for event in events:
            self.terminal.post(event)
        self.settle()


@contextmanager
def driven_ui(folder: Path, *, demo: bool = False, theme: str = "default", lang: str = "ru",
              size: tuple[int, int] | None = None, gateway_mode: str = "ok") -> Iterator[Driver]:
    """A real terminal (ManualClock, virtual validator and gateways, file printer) under a headless UI."""
    pygame.display.init()
    pygame.event.clear()
    with terminal_in(folder, gateway_mode=gateway_mode) as (terminal, clock):
        ui_clock = UiClock()
        ui = KioskUI(terminal, demo=demo, theme=theme, lang=lang, size=size, clock=ui_clock,
                     insert_bill=in_process_bills(terminal) if demo else None)
        driver = Driver(ui, terminal, clock, ui_clock)
        driver.settle()
        yield driver
    pygame.event.clear()


__all__ = ["Driver", "UiClock", "driven_ui", "ev"]
