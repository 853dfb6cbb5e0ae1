"""The journal's writing machinery: durable transactions, group commit, incidents and meta values."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from kiosk.offline_queue.journal_queries import JournalQueries

log = logging.getLogger("kiosk.offline_queue.journal")


class JournalWrites(JournalQueries):
    """How the Journal writes (mixed into it); needs conn, _lock, _clock, _waiting and _waiting_lock."""

    _clock: Callable[[], datetime]
    _waiting: list[PendingWrite]  # delivery writes queued for the next group commit
    _waiting_lock: threading.Lock

    def now(self) -> datetime:
        """The terminal's clock (aware, in the terminal's time zone)."""
        return self._clock()

    def _stamp(self) -> str:
        return self._clock().isoformat(timespec="microseconds")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One durable transaction; IMMEDIATE so two writers never deadlock on upgrade."""
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def _grouped(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run `work` in a durable transaction whose commit (one fsync) it shares with other threads' writes.

        Group commit: while one thread holds the journal and waits for the disk, the others queue their writes;
        the next to get the journal commits every queued write in one transaction, each in its own savepoint
        (a failing write is undone alone and raises in its own thread). Returns what `work` returned once durable.
        """
        item = PendingWrite(work)
        with self._waiting_lock:
            self._waiting.append(item)
        with self._lock:
            if not item.done:
                with self._waiting_lock:
                    batch, self._waiting = self._waiting, []
                self._commit_batch(batch)
        if item.error is not None:
            raise item.error
        return item.result

    def _commit_batch(self, batch: list[PendingWrite]) -> None:
        try:
            self._run_batch(batch)
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = exc
            else:
                # one write failed: run each alone, so it fails in its own thread and the others still land
                for item in batch:
                    item.error = None
                    try:
                        self._run_batch([item])
                    except Exception as single:
                        item.error = single
        finally:
            for item in batch:
                item.done = True

    def _run_batch(self, batch: list[PendingWrite]) -> None:
        """One transaction for every write in the batch; all or nothing."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            for item in batch:
                item.result = item.work(self.conn)
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise

    def incident(self, kind: str, detail: str, operation: int | None = None, amount: int | None = None) -> None:
        """Record something support must see (uncertain bill, events lost, late bill)."""
        with self._tx() as conn:
            conn.execute("INSERT INTO incidents (at, kind, operation, detail, amount) VALUES (?, ?, ?, ?, ?)",
                         (self._stamp(), kind, operation, detail, amount))
        log.warning("incident %s (operation %s): %s", kind, operation, detail)

    def meta(self, key: str) -> str | None:
        """A value from the journal's meta table."""
        with self._lock:
            row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str | None) -> None:
        """Set (or with None, delete) a meta value durably."""
        with self._tx() as conn:
            if value is None:
                conn.execute("DELETE FROM meta WHERE key=?", (key,))
            else:
                conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
                             "value=excluded.value", (key, value))



class PendingWrite:
    """One write waiting for a group commit, and what became of it."""

    __slots__ = ("work", "done", "result", "error")

    def __init__(self, work: Callable[[sqlite3.Connection], Any]) -> None:
        self.work = work
        self.done = False
        self.result: Any = None
        self.error: Exception | None = None
