"""One deadline per gateway attempt (connect + send + the whole reply), and the server clocks replies reveal.

httpx's timeouts bound each socket operation, so a server trickling one byte every few seconds can hold an
attempt for minutes with `timeout = 5`. AttemptDeadline bounds the whole exchange: when it passes, the
connection's socket is shut down, which wakes the blocked read at once.

Every reply's HTTP `Date` is noted (ServerDates) so the outbox can measure how far the terminal's clock is
from the processing systems' — signatures with timestamps fail when it drifts.
"""

from __future__ import annotations

import heapq
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any


class AttemptDeadline:
    """A watchdog for one HTTP exchange; `expired` says whether it fired. Use as a context manager."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = time.monotonic()
        self.expired = False
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()

    def remaining(self) -> float:
        """Seconds left (never below a small positive floor, for use as a socket timeout)."""
        return max(0.001, self.seconds - (time.monotonic() - self.started))

    def watch(self, response: Any) -> None:
        """Remember the socket under an httpx response so that expiry can cut it."""
        stream = getattr(response, "extensions", {}).get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        with self._lock:
            self._socket = sock
            fire_now = self.expired
        if fire_now:
            self._cut()

    def _fire(self) -> None:
        with self._lock:
            self.expired = True
        self._cut()

    def _cut(self) -> None:
        with self._lock:
            sock = self._socket
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes a read blocked in another thread; close() would not
            except OSError:
                pass

    def __enter__(self) -> AttemptDeadline:
        self.started = time.monotonic()
        _WATCHDOG.add(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _WATCHDOG.discard(self)


class _Watchdog:
    """One thread fires every pending AttemptDeadline, instead of a timer thread per exchange (which cost a
    thread start and join per payment). The thread ends when nothing is pending and starts again on demand."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, AttemptDeadline]] = []
        self._pending: set[int] = set()
        self._seq = 0
        self._thread: threading.Thread | None = None

    def add(self, deadline: AttemptDeadline) -> None:
        """Fire `deadline` when its time is up, unless discarded first."""
        with self._cond:
            self._seq += 1
            heapq.heappush(self._heap, (deadline.started + deadline.seconds, self._seq, deadline))
            self._pending.add(id(deadline))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="attempt-deadlines", daemon=True)
                self._thread.start()
            elif self._heap[0][2] is deadline:
                self._cond.notify()

    def discard(self, deadline: AttemptDeadline) -> None:
        """The exchange is over: never fire it."""
        with self._cond:
            self._pending.discard(id(deadline))
            if len(self._heap) > 64 and len(self._heap) > 4 * len(self._pending):
                # most exchanges end long before their deadline: drop their entries in one sweep
                self._heap = [entry for entry in self._heap if id(entry[2]) in self._pending]
                heapq.heapify(self._heap)

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and id(self._heap[0][2]) not in self._pending:
                    heapq.heappop(self._heap)  # finished in time
                if not self._heap:
                    self._thread = None
                    return
                when, _, deadline = self._heap[0]
                wait = when - time.monotonic()
                if wait > 0:
                    self._cond.wait(min(wait, 1.0))  # wakes early for a sooner deadline or a discard sweep
                    continue
                heapq.heappop(self._heap)
                self._pending.discard(id(deadline))
            deadline._fire()  # outside the lock: it may take a moment to shut the socket down


_WATCHDOG = _Watchdog()


@dataclass(frozen=True, slots=True)
class ServerDate:
    """A server's clock as its reply's Date header gave it, and when (monotonic) we read it."""

    source: str
    at: datetime
    received_monotonic: float


class ServerDates:
    """The newest Date seen from any processing system (thread-safe; one per process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: ServerDate | None = None
        self._parsed: tuple[str, datetime] | None = None  # the last header parsed, and what it said

    def note(self, source: str, header: str | None) -> None:
        """Remember a reply's Date header (ignored when absent or unparseable)."""
        if not header:
            return
        parsed = self._parsed  # a Date changes once a second: a busy drain parses each text once, not per reply
        if parsed is not None and parsed[0] == header:
            when = parsed[1]
        else:
            try:
                when = parsedate_to_datetime(header)
            except (TypeError, ValueError, IndexError):
                return
            if when.tzinfo is None:
                return
            self._parsed = (header, when)
        with self._lock:
            self._latest = ServerDate(source, when, time.monotonic())

    def latest(self) -> ServerDate | None:
        """The newest server date seen, if any."""
        with self._lock:
            return self._latest

    def skew_seconds(self, local_now: datetime) -> tuple[str, float] | None:
        """(source, terminal clock minus server clock in seconds) from the newest reply, if any.

        HTTP dates have one-second resolution, so a skew within ±2 s means "in step".
        """
        latest = self.latest()
        if latest is None:
            return None
        server_now = latest.at.timestamp() + (time.monotonic() - latest.received_monotonic)
        return latest.source, local_now.timestamp() - server_now


SERVER_DATES = ServerDates()
