"""Clocks with explicit time zones: the system clock, and a manual one for simulation and tests."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo


class SystemClock:
    """Wall time in the terminal's zone; monotonic time for timeouts."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz

    def now(self) -> datetime:
        """The current time, aware, in the terminal's zone."""
        return datetime.now(self.tz)

    def monotonic(self) -> float:
        """Seconds that never go backwards (timeouts must not jump with NTP)."""
        return time.monotonic()


class ManualClock:
    """Time that moves only when told: simulated payments take no real seconds."""

    def __init__(self, tz: ZoneInfo, start: datetime | None = None) -> None:
        self.tz = tz
        self._now = (start or datetime(2026, 1, 15, 12, 0, 0, tzinfo=tz)).astimezone(tz)
        self._mono = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The simulated time, aware."""
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        """Simulated seconds since start."""
        with self._lock:
            return self._mono

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        if seconds < 0:
            raise ValueError("time does not go backwards")
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._mono += seconds
