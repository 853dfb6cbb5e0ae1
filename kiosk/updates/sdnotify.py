"""systemd's notify protocol with the standard library: READY once the terminal has reconciled its journal and
opened its devices, WATCHDOG only while every watched loop (the UI loop, the device threads) is still turning,
so a hung thread makes systemd restart the service."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable


def notify(message: str, environ: dict[str, str] | None = None) -> bool:
    """Send one datagram to $NOTIFY_SOCKET; False when not run by systemd (nothing to tell)."""
    address = (environ or os.environ).get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        sock.connect(address)
        sock.sendall(message.encode())
    return True


def watchdog_period(environ: dict[str, str] | None = None) -> float | None:
    """Seconds between WATCHDOG pings systemd expects at most ($WATCHDOG_USEC), for this process only."""
    env = environ or os.environ
    usec, pid = env.get("WATCHDOG_USEC"), env.get("WATCHDOG_PID")
    if not usec or (pid and int(pid) != os.getpid()):
        return None
    return int(usec) / 1_000_000


class Watchdog:
    """Pings systemd's watchdog from the UI loop, but only when every registered source beat recently."""

    def __init__(self, environ: dict[str, str] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.environ = environ
        self.period = watchdog_period(environ)
        self.clock = clock
        self._beats: dict[str, float] = {}
        self._watched: dict[str, Callable[[], float | None]] = {}
        self._last_ping = 0.0
        self._lock = threading.Lock()

    def beat(self, source: str) -> None:
        """A loop (any thread) says it turned."""
        with self._lock:
            self._beats[source] = self.clock()

    def watch(self, source: str, turned_at: Callable[[], float | None]) -> None:
        """A loop that records when it last turned (monotonic seconds; None while it is not running)."""
        self._watched[source] = turned_at

    def stale(self) -> list[str]:
        """Sources silent for longer than the watchdog period."""
        if self.period is None:
            return []
        now = self.clock()
        with self._lock:
            beats = dict(self._beats)
        for name, turned_at in self._watched.items():
            at = turned_at()
            if at is not None:
                beats[name] = at
        return [name for name, at in beats.items() if now - at > self.period]

    def tick(self) -> bool:
        """From the UI loop: beat for it, and ping systemd (at half the period) when nothing is stale."""
        self.beat("ui")
        if self.period is None or self.stale():
            return False
        now = self.clock()
        if now - self._last_ping < self.period / 2:
            return False
        self._last_ping = now
        return notify("WATCHDOG=1", self.environ)
