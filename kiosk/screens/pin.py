"""The hidden way into the service menu: five quick taps on the terminal number, then a PIN pad."""

from __future__ import annotations

from typing import Any

import pygame

from kiosk import events as ev
from kiosk.screens.base import Screen
from kiosk.screens.entry import Keypad
from kiosk.screens.panels import Panel
from kiosk.screens.text import Msg, Painter
from kiosk.screens.widgets import BACKSPACE, CLEAR, Button, Countdown, Group, Label, Widget
from kiosk.session import SessionView

SECRET_TAPS = 5
SECRET_SECONDS = 3.0
PIN_SECONDS = 30  # an open PIN pad nobody uses closes by itself, so the public never meets it
PIN_LENGTH = 8
SERVICE_TAP, PIN_OK, PIN_CANCEL = "service-tap", "pin-ok", "pin-cancel"


class PinEntry:
    """Counts the secret taps, holds the PIN being typed, and draws the pad over a screen."""

    def __init__(self, screen: Screen) -> None:
        self.screen = screen
        self.taps: list[float] = []
        self.open = False
        self.pin = ""
        self.deadline = 0.0
        self.tried = False  # a PIN was sent: a 'wrong_pin' message now belongs to this pad

    def handle(self, action: str, view: SessionView) -> list[Any] | None:
        """Events for a pad action, or None if the action is not the pad's."""
        now = self.screen.ctx.clock()
        if action == SERVICE_TAP:
            self.taps = [t for t in self.taps if now - t <= SECRET_SECONDS] + [now]
            if len(self.taps) >= SECRET_TAPS:
                self.taps, self.open, self.pin, self.tried = [], True, "", False
                self.deadline = now + PIN_SECONDS
                self.screen.stale = True
            return []
        if not self.open:
            return None
        if action == PIN_CANCEL:
            self.close()
            return []
        if action == PIN_OK:
            pin, self.pin, self.tried = self.pin, "", True
            self.deadline = now + PIN_SECONDS
            self.screen.stale = True
            return [ev.ServiceLogin(pin)]
        return self.press(action)

    def press(self, key: str) -> list[Any] | None:
        """A digit, backspace or clear on the pad."""
        if key == BACKSPACE:
            self.pin = self.pin[:-1]
        elif key == CLEAR:
            self.pin = ""
        elif len(key) == 1 and key.isdigit():
            self.pin = (self.pin + key)[:PIN_LENGTH]
        else:
            return None
        self.deadline = self.screen.ctx.clock() + PIN_SECONDS
        self.screen.stale = True
        return []

    def key_down(self, key: int, unicode: str, view: SessionView) -> list[Any]:
        """Digits, Backspace and Enter from a service keyboard, while the pad is open."""
        if not self.open:
            return []
        if key in (pygame.K_RETURN, pygame.K_KP_ENTER):
            return self.handle(PIN_OK, view) or []
        if key == pygame.K_BACKSPACE:
            return self.press(BACKSPACE) or []
        return self.press(unicode) or []

    def close(self) -> None:
        """Hide the pad and forget the digits."""
        self.open, self.pin, self.tried = False, "", False
        self.screen.stale = True

    def tick(self, now: float) -> None:
        """Close the pad when nobody used it for a while."""
        if self.open and now >= self.deadline:
            self.close()

    def wake_at(self) -> float | None:
        """When the pad closes by itself."""
        return self.deadline if self.open else None

    def widgets(self, view: SessionView, painter: Painter, rect: pygame.Rect) -> list[Widget]:
        """The pad drawn over rect: title, the digits as dots, keys, OK and Cancel, its own countdown."""
        gap, m = painter.theme.spacing, self.screen.ctx.min_px
        line = painter.font("title", True).get_linesize()
        width = min(rect.width, 3 * int(1.8 * m) + 4 * gap)
        keys_h = 4 * m + 3 * gap
        height = min(rect.height, line * 2 + keys_h + m + 4 * gap)
        box = pygame.Rect(0, 0, width, height)
        box.center = rect.center
        inner = box.inflate(-2 * gap, -2 * gap)
        # the pad covers the whole screen: the attract screen's words would show through around it otherwise
        out: list[Widget] = [Panel(box, "surface", "accent")]
        out.append(Label((inner.x, inner.y, inner.width, line), Msg("Service menu"), "title", bold=True))
        wrong = self.tried and view.message in ("wrong_pin", "pin_locked") and not self.pin
        refusal = Msg("Locked for 5 minutes") if view.message == "pin_locked" else Msg(
            "Wrong PIN")
        status = refusal if wrong else ("●" * len(self.pin) or Msg("Enter the PIN"))
        out.append(Label((inner.x, inner.y + line, inner.width, line), status, "title",
                         "danger" if wrong else "text", bold=True))
        pad = pygame.Rect(inner.x, inner.y + 2 * line + gap, inner.width, keys_h)
        out.append(Keypad(pad, m, gap, "digits"))
        row_y = pad.bottom + gap
        # Cancel, the pad's own countdown (a ring with the seconds only: the engineer knows what it means), OK
        half = (inner.width - m - 2 * gap) // 2
        out.append(Button((inner.x, row_y, half, m), Msg("Cancel"), PIN_CANCEL, "secondary"))
        out.append(Countdown((inner.x + half + gap, row_y, m, m), self.deadline, PIN_SECONDS))
        out.append(Button((inner.right - half, row_y, half, m), Msg("OK"), PIN_OK))
        return [PinPad(rect, out)]


class PinPad(Group):
    """The PIN pad over the whole screen: what it covers neither shows nor takes presses."""

    covers = True

    def __init__(self, rect: pygame.Rect, children: list[Widget]) -> None:
        super().__init__(children)
        self.rect = pygame.Rect(rect)

    def draw(self, surface: pygame.Surface, painter: Painter) -> None:
        """Blank the screen behind the pad, then draw it."""
        surface.fill(painter.colours.background, self.rect)
        super().draw(surface, painter)


class PinPadScreen(Screen):
    """A screen that hides the service entry: keys, ticks and wake-ups go to its PIN pad."""

    pin: PinEntry

    def key_down(self, key: int, unicode: str, view: SessionView) -> list[Any]:
        """Digits typed on a service keyboard go to an open PIN pad."""
        return self.pin.key_down(key, unicode, view)

    def tick(self, now: float) -> None:
        """Close an unused PIN pad."""
        self.pin.tick(now)

    def wake_at(self) -> float | None:
        """When the PIN pad closes by itself."""
        return self.pin.wake_at()
