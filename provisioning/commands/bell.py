"""Wakes the long polls waiting for a terminal's commands without holding a database connection per poll: rung
in-process when this server queues a command, and on PostgreSQL by NOTIFY from any server (one LISTEN connection
per process, whatever the number of terminals waiting). Polls also look again every `recheck` seconds, which is
how servers sharing one SQLite file hear of each other's commands."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterator

from sqlalchemy import make_url

from provisioning.commands.service import CHANNEL

log = logging.getLogger(__name__)
RECHECK_SQLITE = 2.0
RECHECK_LISTENING = 10.0  # a safety net on PostgreSQL: a notification lost while the listener reconnected


class Waiter:
    """One poll's place at the bell: a ring while it was busy is kept until it next waits."""

    def __init__(self, event: asyncio.Event) -> None:
        self._event = event

    async def wait(self, timeout: float) -> bool:
        """Wait until rung (or at once if rung meanwhile) or `timeout` seconds pass; True when rung."""
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return False
        self._event.clear()
        return True


class CommandBell:
    """Per-process waiters keyed by terminal id; `ring` from any thread, `wait` from an event loop."""

    def __init__(self, db_url: str) -> None:
        url = make_url(db_url)
        self._conninfo = (url.set(drivername="postgresql").render_as_string(hide_password=False)
                          if url.get_backend_name() == "postgresql" else "")
        self._lock = threading.Lock()
        self._waiters: dict[int, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
        self._listener: asyncio.Task[None] | None = None
        self.listening = False

    @property
    def recheck(self) -> float:
        """Seconds between a waiting poll's looks at the database."""
        return RECHECK_LISTENING if self.listening else RECHECK_SQLITE

    def ring(self, terminal_id: int) -> None:
        """Wake every poll of this terminal waiting in this process."""
        with self._lock:
            waiters = list(self._waiters.get(terminal_id, ()))
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # a loop that has closed meanwhile has nobody to wake
                loop.call_soon_threadsafe(event.set)

    @contextlib.contextmanager
    def waiter(self, terminal_id: int) -> Iterator[Waiter]:
        """Listen for this terminal's bell from now on (register before looking at the database, so a command
        queued in between is not missed); call from the event loop that will wait."""
        loop = asyncio.get_running_loop()
        if self._conninfo and self._listener is None:
            self._listener = loop.create_task(self._listen(), name="command-bell-listener")
        entry = (loop, asyncio.Event())
        with self._lock:
            self._waiters.setdefault(terminal_id, set()).add(entry)
        try:
            yield Waiter(entry[1])
        finally:
            with self._lock:
                waiting = self._waiters.get(terminal_id)
                if waiting is not None:
                    waiting.discard(entry)
                    if not waiting:
                        del self._waiters[terminal_id]

    async def _listen(self) -> None:
        """LISTEN on the commands channel for as long as the event loop runs (reconnecting after a failure); the
        loop's shutdown cancels it."""
        import psycopg

        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.listening = True
                    async for note in conn.notifies():
                        if note.payload.isdigit():
                            self.ring(int(note.payload))
            except asyncio.CancelledError:
                self.listening = False
                raise
            except Exception as exc:  # the database went away: polls fall back to looking every few seconds
                self.listening = False
                log.warning("command bell: LISTEN failed (%s); polls look every %.0f s until it is back",
                            exc, RECHECK_SQLITE)
                await asyncio.sleep(5)
