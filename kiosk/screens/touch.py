"""Touch input: one stream of presses from finger and mouse events, without doubles or bounces; target sizes."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

import pygame

MM_PER_INCH = 25.4
#: the smallest target a cold or gloved finger hits reliably (ISO 9241-9 / kiosk guidance: 15–20 mm)
MIN_TARGET_MM = 15.0
DEBOUNCE_SECONDS = 0.150
#: how close in time and space a press from the other source must be to count as the same press
ECHO_SECONDS = 0.5
ECHO_PIXELS = 48

DOWN, MOVE, UP, CANCEL = "down", "move", "up", "cancel"
#: SDL_MOUSE_TOUCHID, the touch device of finger events SDL makes up from the mouse, as signed or unsigned
MOUSE_TOUCH_IDS = (-1, 2**64 - 1)


def min_target_px(dpi: float, mm: float = MIN_TARGET_MM) -> int:
    """The side in pixels of the smallest allowed touch target at a screen density (never under 15 mm)."""
    if dpi <= 0:
        raise ValueError(f"dpi must be positive, got {dpi}")
    return math.ceil(max(mm, MIN_TARGET_MM) / MM_PER_INCH * dpi)


def fit_grid(area: pygame.Rect, min_width: int, min_height: int, gap: int) -> tuple[int, int]:
    """The most columns and rows of cells at least min_width × min_height that fit area with gap between them."""
    return (area.width + gap) // (min_width + gap), (area.height + gap) // (min_height + gap)


def cells(area: pygame.Rect, columns: int, rows: int, gap: int) -> list[pygame.Rect]:
    """area divided into columns × rows cells with gap between them, row by row; remainders are spread out."""
    width = (area.width - gap * (columns - 1)) // columns
    height = (area.height - gap * (rows - 1)) // rows
    return [pygame.Rect(area.x + c * (width + gap), area.y + r * (height + gap), width, height)
            for r in range(rows) for c in range(columns)]


def too_small(rects: Iterable[pygame.Rect], min_px: int) -> list[pygame.Rect]:
    """The rects a finger cannot hit reliably (either side under min_px)."""
    return [r for r in rects if r.width < min_px or r.height < min_px]


@dataclass(frozen=True, slots=True)
class Touch:
    """One step of a press in window pixels: down, move, up, or cancel (the press was taken away)."""

    kind: str
    pos: tuple[int, int]
    time: float


class TouchInput:
    """Turns pygame finger and mouse events into Touch values for one finger at a time.

    SDL reports a touch twice (a FINGER event and a synthesised mouse event flagged `touch`), and some X
    touch drivers emulate the mouse without the flag; either copy alone makes exactly one press. A second
    press starting within the debounce time of the last is a bounce of a worn screen and is dropped.
    """

    def __init__(self, size: tuple[int, int], debounce: float = DEBOUNCE_SECONDS, echo_seconds: float = ECHO_SECONDS,
                 echo_pixels: int = ECHO_PIXELS, clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.debounce, self.echo_seconds, self.echo_pixels = debounce, echo_seconds, echo_pixels
        self.clock = clock
        self._active: tuple[str, Hashable] | None = None
        self._active_pos = (0, 0)
        self._last_down: tuple[float, tuple[int, int], str] | None = None
        self._ignored: set[tuple[str, Hashable]] = set()

    def feed(self, event: pygame.event.Event, now: float | None = None) -> list[Touch]:
        """The Touch values one pygame event makes (usually none or one)."""
        now = self.clock() if now is None else now
        if event.type in (pygame.WINDOWFOCUSLOST, pygame.WINDOWLEAVE):
            return self.cancel(now)
        mapped = self._map(event)
        if mapped is None:
            return []
        kind, pointer, pos = mapped
        if kind == DOWN:
            return self._down(pointer, pos, now)
        if pointer == self._active:
            self._active_pos = pos
            if kind == UP:
                self._active = None
            return [Touch(kind, pos, now)]
        if kind == UP:
            self._ignored.discard(pointer)
        return []

    def cancel(self, now: float | None = None) -> list[Touch]:
        """End the current press without activating anything (focus lost, screen changed)."""
        if self._active is None:
            return []
        self._active = None
        return [Touch(CANCEL, self._active_pos, self.clock() if now is None else now)]

    def _down(self, pointer: tuple[str, Hashable], pos: tuple[int, int], now: float) -> list[Touch]:
        self._ignored.discard(pointer)
        out: list[Touch] = []
        if self._active == pointer:
            # the up of the last press was lost; end it before starting this one
            out = self.cancel(now)
        if self._active is not None or self._is_echo(pointer[0], pos, now) or self._is_bounce(now):
            self._ignored.add(pointer)
            return out
        self._active, self._active_pos = pointer, pos
        self._last_down = (now, pos, pointer[0])
        out.append(Touch(DOWN, pos, now))
        return out

    def _is_echo(self, source: str, pos: tuple[int, int], now: float) -> bool:
        if self._last_down is None:
            return False
        when, where, last_source = self._last_down
        return (source != last_source and now - when <= self.echo_seconds
                and math.dist(pos, where) <= self.echo_pixels)

    def _is_bounce(self, now: float) -> bool:
        return self._last_down is not None and now - self._last_down[0] < self.debounce

    def _map(self, event: pygame.event.Event) -> tuple[str, tuple[str, Hashable], tuple[int, int]] | None:
        kinds = {pygame.FINGERDOWN: DOWN, pygame.FINGERMOTION: MOVE, pygame.FINGERUP: UP,
                 pygame.MOUSEBUTTONDOWN: DOWN, pygame.MOUSEMOTION: MOVE, pygame.MOUSEBUTTONUP: UP}
        kind = kinds.get(event.type)
        if kind is None:
            return None
        if event.type in (pygame.FINGERDOWN, pygame.FINGERMOTION, pygame.FINGERUP):
            if getattr(event, "touch_id", 0) in MOUSE_TOUCH_IDS:
                return None  # SDL's finger copy of a mouse click (SDL_HINT_MOUSE_TOUCH_EVENTS)
            width, height = self.size
            # finger positions are 0…1 of the window; clamp, edge touches can report slightly outside
            x = min(width - 1, max(0, int(event.x * width)))
            y = min(height - 1, max(0, int(event.y * height)))
            return kind, ("finger", (getattr(event, "touch_id", 0), event.finger_id)), (x, y)
        if getattr(event, "touch", False):
            return None  # SDL's mouse copy of a finger event we already handle
        if event.type != pygame.MOUSEMOTION and getattr(event, "button", 1) != 1:
            return None  # wheel and other buttons are not presses
        return kind, ("mouse", 0), tuple(event.pos)
