"""The journal's writing machinery: durable transactions, group commit, incidents and meta values."""

from __future__ import annotations

import _thread
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from kiosk.offline_queue.journal_batches import SettleRow, settle_many
from kiosk.offline_queue.journal_queries import JournalQueries

log = logging.getLogger("kiosk.offline_queue.journal")


class JournalWrites(JournalQueries):
    """How the Journal writes (mixed into it); needs conn, _lock, _clock, _waiting, _queue_lock and _committing."""

    _clock: Callable[[], datetime]
    _waiting: list[PendingWrite]  # delivery writes queued for the next group commit
    _queue_lock: threading.Lock  # guards _waiting, _committing and the writes' wake locks
    _committing: bool  # a leader holds the journal's lock and is committing a batch

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

    def _grouped(self, work: Callable[[sqlite3.Connection], Any],
                 then: Callable[[BaseException | None], None] | None = None, settle: SettleRow | None = None) -> Any:
        """Run `work` in a durable transaction whose commit (one fsync) it shares with other threads' writes.

        Group commit: while one thread (the leader) holds the journal and waits for the disk, the others queue
        their writes and sleep, each on a lock of its own. When the commit ends the leader wakes exactly the
        threads whose writes it carried (no thread queues for the journal's lock only to find its write done,
        and none is woken for nothing), and one thread whose write came in meanwhile, to lead the next commit
        with everything queued by then, in one transaction (a failing write is then retried alone and raises in
        its own thread). Returns what `work` returned once durable.

        With `then`, the write is only queued: the call returns its PendingWrite at once, and `then(error)` is
        called once it is durable (or failed), by whichever thread committed it. Writes are committed in the
        order they were queued, so the caller's next durable write carries this one with it; `durable()` makes
        it durable now. `settle`: what `work` writes, when it is a plain settle: consecutive ones in a commit are
        written by one statement per table (journal_batches.py).
        """
        item = PendingWrite(work, then, settle)
        with self._queue_lock:
            self._waiting.append(item)
        if then is not None:
            return item
        return self.durable(item)

    def durable(self, item: PendingWrite) -> Any:
        """Wait until a queued write is durable, committing it (and all queued with it) if nobody else is."""
        with self._queue_lock:
            # only a thread holding the journal's lock can be committing: one of our own (re-entrant) never sleeps
            sleep = not item.done and self._committing
            if sleep:
                item.wake = _thread.allocate_lock()
                item.wake.acquire()
                wake = item.wake
        if sleep:
            wake.acquire()  # released by the leader: our write is durable, or it is our turn to lead
        if not item.done:
            self._lead()
        if item.error is not None:
            raise item.error
        return item.result

    def _lead(self) -> None:
        """Commit every queued write as one transaction, wake whom it concerns, run the writes' `then`."""
        with self._lock:
            with self._queue_lock:
                batch, self._waiting = self._waiting, []
                self._committing = bool(batch)
            if not batch:
                return  # a leader before us carried our write too
            try:
                self._commit_batch(batch)
            finally:
                with self._queue_lock:
                    self._committing = False
                    for item in batch:
                        item.wake_up()
                    for item in self._waiting:  # the first that sleeps leads the next commit
                        if item.wake is not None:
                            item.wake_up()
                            break
        for item in batch:  # outside the journal's lock: the next leader need not wait for these
            if item.then is not None:
                try:
                    item.then(item.error)
                except Exception:
                    log.exception("a callback after a group commit failed")

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
        """One transaction for every write in the batch, in their order; all or nothing."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            run: list[PendingWrite] = []  # consecutive plain settles, written together
            for item in batch:
                if item.settle is not None:
                    run.append(item)
                    continue
                self._settle_run(run)
                run = []
                item.result = item.work(self.conn)
            self._settle_run(run)
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise

    def _settle_run(self, run: list[PendingWrite]) -> None:
        rows = [item.settle for item in run if item.settle is not None]
        if len(rows) > 1 and len({row.operation for row in rows}) == len(rows):
            settle_many(self.conn, rows)
        else:  # one, or an operation twice: each in turn, in order
            for item in run:
                item.result = item.work(self.conn)

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

    __slots__ = ("work", "then", "settle", "done", "result", "error", "wake")

    def __init__(self, work: Callable[[sqlite3.Connection], Any],
                 then: Callable[[BaseException | None], None] | None = None, settle: SettleRow | None = None) -> None:
        self.work, self.then, self.settle = work, then, settle
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None
        self.wake: _thread.LockType | None = None  # held while its thread sleeps in durable()

    def wake_up(self) -> None:
        """Wake the thread sleeping on this write, if one is (the journal's queue lock held)."""
        if self.wake is not None:
            self.wake.release()
            self.wake = None
