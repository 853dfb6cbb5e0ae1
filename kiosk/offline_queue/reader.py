"""Read-only access to a journal for support: never writes, works on read-only or full disks and damaged files.

A support command must not be able to break the terminal: it opens the journal read-only, creates nothing
beside it where it can avoid it (a '-shm' owned by another user, or mode 0444, breaks the kiosk's next
start), and when SQLite cannot read the file in place (read-only file system with a write-ahead log, a file it
may not write) it reads a private snapshot copy instead. A corrupt file can still be salvaged row by row.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlite_utils

from kiosk.errors import JournalError
from kiosk.offline_queue.journal_queries import JournalQueries
from kiosk.offline_queue.operation import Operation
from kiosk.offline_queue.schema import refuse_newer

log = logging.getLogger(__name__)


class JournalReader(JournalQueries):
    """A journal opened for reading only; `how` says how it was opened (in place, or from a snapshot)."""

    def __init__(self, path: str | Path, currency: str = "RUB") -> None:
        self.path = Path(path).expanduser()
        self.currency = currency
        self._lock = threading.RLock()
        self._snapshot: tempfile.TemporaryDirectory[str] | None = None
        if not self.path.exists():
            raise JournalError(f"{self.path}: no journal here (check --config / --state-dir)")
        if self.path.is_dir():
            raise JournalError(f"{self.path}: is a folder, expected a journal file")
        self.conn, self.how = self._open()
        self.conn.row_factory = sqlite3.Row
        self.db = sqlite_utils.Database(self.conn)
        row = self.conn.execute("SELECT value FROM meta WHERE key='terminal'").fetchone()
        self.terminal = row[0] if row else "?"

    def _open(self) -> tuple[sqlite3.Connection, str]:
        wal = self.path.with_name(self.path.name + "-wal")
        has_wal = wal.exists() and wal.stat().st_size > 0
        if not has_wal:
            # Nothing waits in a write-ahead log: read the file as it is and create nothing beside it.
            try:
                return self._check(self._connect("immutable=1")), "read-only (immutable)"
            except sqlite3.DatabaseError as exc:
                raise JournalError(f"{self.path}: cannot read the journal: {exc} — try "
                                   "`kiosk journal export --salvage` to save what is readable") from exc
        if os.access(self.path, os.W_OK) and os.access(self.path.parent, os.W_OK):
            try:
                return self._check(self._connect("mode=ro")), "read-only"
            except sqlite3.OperationalError:
                pass  # e.g. the shared-memory file cannot be used: fall back to a snapshot
        return self._from_snapshot(), "read-only snapshot copy (the journal's folder or file is not writable)"

    def _connect(self, flags: str) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{quote(str(self.path))}?{flags}", uri=True, check_same_thread=False)

    def _check(self, conn: sqlite3.Connection) -> sqlite3.Connection:
        try:
            refuse_newer(conn, str(self.path))
            conn.execute("SELECT COUNT(*) FROM operations").fetchone()
        except BaseException:
            conn.close()
            raise
        return conn

    def _from_snapshot(self) -> sqlite3.Connection:
        self._snapshot = tempfile.TemporaryDirectory(prefix="kiosk-journal-")
        copy = Path(self._snapshot.name) / self.path.name
        try:
            for suffix in ("", "-wal"):
                source = self.path.with_name(self.path.name + suffix)
                if source.exists():
                    shutil.copyfile(source, copy.with_name(copy.name + suffix))
            return self._check(sqlite3.connect(copy, check_same_thread=False))
        except (OSError, sqlite3.DatabaseError) as exc:
            self._snapshot.cleanup()
            raise JournalError(f"{self.path}: cannot read the journal even from a copy: {exc}") from exc

    def close(self) -> None:
        """Close the connection and remove any snapshot."""
        self.conn.close()
        if self._snapshot is not None:
            self._snapshot.cleanup()

    def meta(self, key: str) -> str | None:
        """A value from the journal's meta table."""
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else row[0]

    def refusal(self) -> str | None:
        """Why the terminal refuses money until a person confirms (None: it takes money)."""
        return self.meta("refuse_money")

    def clock_skew(self) -> dict[str, Any] | None:
        """The last measured clock skew, if any."""
        value = self.meta("clock_skew")
        return None if value is None else json.loads(value)


def salvage(path: str | Path, batch: int = 256) -> Iterator[tuple[Operation | None, list[int], str]]:
    """What can be read of a damaged journal: (operation, its bills, '') per readable row, and
    (None, [], why) for each range that could not be read. Reads the file itself, never a repaired copy."""
    path = Path(path).expanduser()
    try:
        conn = sqlite3.connect(f"file:{quote(str(path))}?immutable=1", uri=True)
    except sqlite3.Error as exc:
        raise JournalError(f"{path}: cannot open the file at all: {exc}") from exc
    conn.row_factory = sqlite3.Row
    try:
        try:
            top = conn.execute("SELECT MAX(operation) FROM operations").fetchone()[0] or 0
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{path}: not even the operations table can be read: {exc}") from exc
        yield from _salvage_range(conn, 1, top, batch)
    finally:
        conn.close()


def _salvage_range(conn: sqlite3.Connection, first: int, last: int,
                   batch: int) -> Iterator[tuple[Operation | None, list[int], str]]:
    start = first
    while start <= last:
        end = min(last, start + batch - 1)
        try:
            rows = conn.execute("SELECT * FROM operations WHERE operation BETWEEN ? AND ? ORDER BY operation",
                                (start, end)).fetchall()
        except sqlite3.DatabaseError as exc:
            if start == end:
                yield None, [], f"operation {start}: unreadable ({exc})"
            else:
                yield from _salvage_range(conn, start, end, max(1, (end - start + 1) // 4))
            start = end + 1
            continue
        for row in rows:
            try:
                op = Operation.from_row(row)
            except (ValueError, TypeError) as exc:
                yield None, [], f"operation {row['operation']}: damaged row ({exc})"
                continue
            try:
                bills = [r[0] for r in conn.execute("SELECT denomination FROM bills WHERE operation=? ORDER BY id",
                                                    (op.operation,))]
                yield op, bills, ""
            except sqlite3.DatabaseError as exc:
                yield op, [], f"operation {op.operation}: its bills are unreadable ({exc})"
        start = end + 1
