"""Everything the journal answers without changing anything: lookups, lists, counts, exports."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import sqlite_utils

from kiosk.errors import JournalError
from kiosk.offline_queue.operation import COMMITTED, OPERATION_FIELDS, Operation

# Every column of an operation in Operation's field order; its JSON columns as JSON, not as text holding JSON.
_DUE_COLUMNS = ", ".join(f"json({name})" if name in ("fields", "details") else name for name in OPERATION_FIELDS)


class JournalQueries:
    """The reading half of the Journal (mixed into it); needs conn, db, _lock and path."""

    conn: sqlite3.Connection
    _reader: sqlite3.Connection  # a second connection for reads of committed rows only (see committed())
    _reader_lock: threading.Lock
    db: sqlite_utils.Database  # the same connection, for table reads that come back as dicts
    _lock: threading.RLock
    path: Path

    def bill_recorded(self, validator: str, event_id: str) -> int | None:
        """The operation a device event was credited to, if it was."""
        row = self.conn.execute("SELECT operation FROM bills WHERE validator=? AND event_id=?",
                                (validator, event_id)).fetchone()
        return None if row is None else row[0]

    def encashments(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest encashments, counts keyed by denomination in kopecks."""
        with self._lock:
            rows = list(self.db["encashments"].rows_where(order_by="id desc", limit=limit))
        out = []
        for row in rows:
            record = dict(row)
            for key in ("counts", "cassette_counts", "difference"):
                if record[key] is not None:
                    record[key] = {int(k): v for k, v in json.loads(record[key]).items()}
            out.append(record)
        return out

    def get(self, operation: int) -> Operation:
        """One operation by number."""
        with self._lock:
            row = self.conn.execute("SELECT * FROM operations WHERE operation=?", (operation,)).fetchone()
        if row is None:
            raise JournalError(f"no operation {operation} in {self.path}")
        return Operation.from_row(row)

    def committed(self, operation: int) -> Operation:
        """One operation as last committed, read without waiting for a commit in progress (the outbox's read).

        Only for a caller whose own writes are all committed (a delivery worker between its transactions): what
        another thread is committing right now is not seen until it is durable.
        """
        with self._reader_lock:
            row = self._reader.execute("SELECT * FROM operations WHERE operation=?", (operation,)).fetchone()
        if row is None:
            raise JournalError(f"no operation {operation} in {self.path}")
        return Operation.from_row(row)

    def last_operation(self) -> Operation | None:
        """The newest operation, if any."""
        with self._lock:
            row = self.conn.execute("SELECT * FROM operations ORDER BY operation DESC LIMIT 1").fetchone()
        return None if row is None else Operation.from_row(row)

    def find(self, operation: int) -> Operation | None:
        """One operation by number, or None."""
        try:
            return self.get(operation)
        except JournalError:
            return None

    def bills(self, operation: int) -> list[int]:
        """Denominations of the bills credited to an operation, in the order stacked."""
        with self._lock:
            rows = self.conn.execute("SELECT denomination FROM bills WHERE operation=? ORDER BY id", (operation,))
            return [r[0] for r in rows]

    def attempts(self, operation: int) -> list[dict[str, Any]]:
        """Every delivery attempt of an operation."""
        with self._lock:
            return list(self.db["attempts"].rows_where(
                "operation = ?", [operation], order_by="id",
                select="gateway, verb, started_at, finished_at, outcome, code, message, external_id, session"))

    def in_state(self, *states: str, limit: int | None = None) -> list[Operation]:
        """Operations in any of these states, oldest first."""
        marks = ",".join("?" * len(states))
        with self._lock:
            return [Operation.from_row(r) for r in self.db["operations"].rows_where(
                f"state in ({marks})", list(states), order_by="operation", limit=limit)]

    def due(self, now_ms: int, limit: int = 64) -> list[int]:
        """Committed operations whose next attempt is due."""
        with self._lock:
            rows = self.conn.execute(
                "SELECT operation FROM operations WHERE state=? AND next_attempt_ms <= ? "
                "ORDER BY next_attempt_ms LIMIT ?", (COMMITTED, now_ms, limit))
            return [r[0] for r in rows]

    def due_operations(self, now_ms: int, limit: int = 64, skip: Collection[int] = ()) -> list[Operation]:
        """Committed operations whose next attempt is due, whole, in one read (the outbox's loop).

        `skip`: operations the caller has on their way already. Each row carries its change_seq, so a writer that
        acts on one later can tell whether it is still the row as it is (Journal.begin_attempt's `expect`). The
        rows come back as one JSON array: one step of SQLite (each step lets other threads take the interpreter,
        a thread switch pair while delivery workers wait for it) and one parse, not one per row.
        """
        with self._reader_lock:  # committed rows only: what is being committed now is due next round
            (text,) = self._reader.execute(
                f"SELECT json_group_array(json_array({_DUE_COLUMNS})) FROM (SELECT * FROM operations "
                "WHERE state=? AND next_attempt_ms <= ? AND operation NOT IN (SELECT value FROM json_each(?)) "
                "ORDER BY next_attempt_ms LIMIT ?)", (COMMITTED, now_ms, json.dumps(list(skip)), limit)).fetchone()
        return [Operation.from_values(values) for values in json.loads(text)]

    def next_due_ms(self) -> int | None:
        """When the earliest committed operation is due."""
        with self._lock:
            due = self.conn.execute("SELECT MIN(next_attempt_ms) FROM operations WHERE state=?",
                                    (COMMITTED,)).fetchone()[0]
        return None if due is None else int(due)

    def waiting(self) -> tuple[int, int]:
        """How many operations wait in the outbox, and their total cash in kopecks."""
        with self._lock:
            count, total = self.conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(cash), 0) FROM operations WHERE state=?", (COMMITTED,)).fetchone()
        return count, total

    def fleet_figures(self) -> dict[str, Any]:
        """What a heartbeat reports from the journal, read in one short hold of the lock: the cassette (bills since
        the last encashment), the outbox and its oldest operation, needs attention, uncertain bills since the last
        encashment, the last payment and encashment (time stamps as journaled)."""
        with self._lock:
            c = self.conn
            bills, kopecks = c.execute(
                "SELECT COUNT(*), COALESCE(SUM(denomination), 0) FROM bills WHERE encashment IS NULL").fetchone()
            depth, waiting, oldest = c.execute(
                "SELECT COUNT(*), COALESCE(SUM(cash), 0), MIN(committed_at) FROM operations "
                "WHERE state=?", (COMMITTED,)).fetchone()
            attention = c.execute("SELECT COUNT(*) FROM operations WHERE state='needs_attention'").fetchone()[0]
            encashment = c.execute("SELECT id, closed_at, reason FROM encashments ORDER BY id DESC LIMIT 1").fetchone()
            uncertain = c.execute("SELECT COUNT(*) FROM incidents WHERE kind='uncertain_bill' AND at > ?",
                                  (encashment[1] if encashment else "",)).fetchone()[0]
            # newest first by number (the primary key): no scan of a journal of a million operations under the lock
            last_payment = c.execute("SELECT committed_at FROM operations WHERE committed_at IS NOT NULL "
                                     "ORDER BY operation DESC LIMIT 1").fetchone()
            last_payment = None if last_payment is None else last_payment[0]
        return {"cassette_bills": bills, "cassette_kopecks": kopecks, "outbox_depth": depth,
                "outbox_kopecks": waiting, "outbox_oldest": oldest, "needs_attention": attention,
                "uncertain_bills": uncertain, "last_payment": last_payment,
                "last_encashment": None if encashment is None else
                {"id": encashment[0], "at": encashment[1], "reason": encashment[2]}}

    def count(self, state: str) -> int:
        """How many operations are in a state."""
        with self._lock:
            return int(self.conn.execute("SELECT COUNT(*) FROM operations WHERE state=?", (state,)).fetchone()[0])

    def open_attempts(self) -> list[tuple[int, int]]:
        """(attempt id, operation) of attempts that began and never got an outcome (a crash in between)."""
        with self._lock:
            return [(r[0], r[1]) for r in self.conn.execute(
                "SELECT id, operation FROM attempts WHERE finished_at IS NULL")]

    def unscheduled(self) -> list[int]:
        """Committed operations with no next attempt time (a crash between two steps of one cycle)."""
        with self._lock:
            return [r[0] for r in self.conn.execute(
                "SELECT operation FROM operations WHERE state=? AND next_attempt_ms IS NULL", (COMMITTED,))]

    def iter_operations(self, batch: int = 1000) -> Iterator[Operation]:
        """Every operation in number order, read in batches (for export)."""
        last = 0
        while True:
            with self._lock:
                rows = list(self.db["operations"].rows_where("operation > ?", [last], order_by="operation",
                                                              limit=batch))
            if not rows:
                return
            for row in rows:
                yield Operation.from_row(row)
            last = rows[-1]["operation"]

    def bills_by_operation(self, first: int, last: int) -> dict[int, list[int]]:
        """Bills of a range of operations at once (export without a query per operation)."""
        out: dict[int, list[int]] = {}
        with self._lock:
            for op, denom in self.conn.execute(
                    "SELECT operation, denomination FROM bills WHERE operation BETWEEN ? AND ? ORDER BY id",
                    (first, last)):
                out.setdefault(op, []).append(denom)
        return out

    def incidents(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest incidents."""
        with self._lock:
            return list(self.db["incidents"].rows_where(select="at, kind, operation, detail, amount",
                                                        order_by="id desc", limit=limit))

    def size_bytes(self) -> int:
        """Bytes on disk, WAL included."""
        total = 0
        for suffix in ("", "-wal"):
            try:
                total += os.path.getsize(str(self.path) + suffix)
            except OSError:
                pass
        return total
