"""The durable journal: every operation, banknote and delivery attempt, in SQLite (WAL, synchronous=FULL)."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from kiosk.errors import JournalError
from kiosk.fees import Split
from kiosk.gateways.base import Route
from kiosk.offline_queue.files import read_int_file, write_atomically
from kiosk.offline_queue.journal_queries import JournalQueries
from kiosk.offline_queue.operation import (  # re-exported (__all__): the journal's vocabulary
    CANCELLED,
    COLLECTING,
    COMMITTED,
    DELIVERED,
    NEEDS_ATTENTION,
    RECEIPT_STATES,
    STATES,
    Operation,
    idempotency_key,
    txn_id,
)
from kiosk.offline_queue.schema import migrate, refuse_newer

__all__ = ["CANCELLED", "COLLECTING", "COMMITTED", "DELIVERED", "NEEDS_ATTENTION", "RECEIPT_STATES", "STATES",
           "Journal", "Operation", "idempotency_key", "txn_id"]

log = logging.getLogger(__name__)


class Journal(JournalQueries):
    """The terminal's durable record; one instance per process, safe to share between threads."""

    def __init__(self, path: str | Path, terminal: str, currency: str,
                 clock: Callable[[], datetime]) -> None:
        self.path = Path(path)
        self.terminal, self.currency, self._clock = terminal, currency, clock
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        except (OSError, sqlite3.Error) as exc:
            raise JournalError(f"{self.path}: cannot open the journal: {exc}") from exc
        try:
            refuse_newer(self.conn, str(self.path))
            self._configure()
            migrate(self.conn, str(self.path))
            self._check_terminal()
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise JournalError(f"{self.path}: not a usable journal: {exc}") from exc
        except BaseException:
            self.conn.close()
            raise
        self.conn.row_factory = sqlite3.Row
        self.db = sqlite_utils.Database(self.conn)
        self._seq_path = self.path.with_name(self.path.name + ".opseq")
        self._warn_if_restored()

    def _configure(self) -> None:
        mode = self.conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise JournalError(f"{self.path}: SQLite refused WAL mode (got {mode})")
        # FULL: every committed bill survives a power cut, not just a process crash.
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute("PRAGMA foreign_keys=ON")

    def _check_terminal(self) -> None:
        row = self.conn.execute("SELECT value FROM meta WHERE key='terminal'").fetchone()
        if row is None:
            self.conn.execute("INSERT INTO meta (key, value) VALUES ('terminal', ?)", (self.terminal,))
        elif row[0] != self.terminal:
            raise JournalError(f"{self.path}: journal belongs to terminal {row[0]}, configured as {self.terminal}")

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the database file and truncate it (bounded disk use on a busy day)."""
        with self._lock:
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self.conn.close()

    # -- helpers --------------------------------------------------------------------------------
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

    def incident(self, kind: str, detail: str, operation: int | None = None, amount: int | None = None) -> None:
        """Record something support must see (uncertain bill, events lost, late bill)."""
        with self._tx() as conn:
            conn.execute("INSERT INTO incidents (at, kind, operation, detail, amount) VALUES (?, ?, ?, ?, ?)",
                         (self._stamp(), kind, operation, detail, amount))
        log.warning("incident %s (operation %s): %s", kind, operation, detail)

    # -- operation numbers ----------------------------------------------------------------------
    def _last_number(self) -> int:
        journal_max = self.conn.execute("SELECT COALESCE(MAX(operation), 0) FROM operations").fetchone()[0]
        return max(journal_max, read_int_file(self._seq_path))

    def _warn_if_restored(self) -> None:
        journal_max = self.conn.execute("SELECT COALESCE(MAX(operation), 0) FROM operations").fetchone()[0]
        seen = read_int_file(self._seq_path)
        if seen > journal_max:
            log.error("journal %s ends at operation %d but this terminal has issued up to %d: it looks restored "
                      "from an older copy; numbering continues after %d so no number is reused",
                      self.path, journal_max, seen, seen)

    # -- the payment lifecycle ------------------------------------------------------------------
    def open_operation(self, provider: str, account: str, fields: dict[str, str], max_cash: int,
                       offline: bool = False, details: dict[str, Any] | None = None) -> Operation:
        """Create an operation in state collecting; it exists durably before any bill may be accepted."""
        with self._lock:
            number = self._last_number() + 1
            # The high-water mark goes outside the database first, so even a restored older journal file
            # can never hand out this number again.
            write_atomically(self._seq_path, str(number).encode())
            with self._tx() as conn:
                conn.execute(
                    "INSERT INTO operations (operation, terminal, idempotency_key, provider, account, fields, "
                    "currency, state, max_cash, offline, created_at, details) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (number, self.terminal, idempotency_key(self.terminal, number), provider, account,
                     json.dumps(fields, ensure_ascii=False), self.currency, COLLECTING, max_cash, int(offline),
                     self._stamp(), json.dumps(details or {}, ensure_ascii=False)),
                )
            return self.get(number)

    def record_bill(self, operation: int, denomination: int, validator: str, event_id: str) -> bool:
        """Durably credit one stacked bill to a collecting operation; False if this event was already recorded."""
        if isinstance(denomination, bool) or not isinstance(denomination, int) or denomination <= 0:
            raise JournalError(f"a bill must be a positive number of kopecks, got {denomination!r}")
        with self._tx() as conn:
            state = conn.execute("SELECT state FROM operations WHERE operation=?", (operation,)).fetchone()
            if state is None:
                raise JournalError(f"no operation {operation} to credit a bill to")
            if state[0] != COLLECTING:
                raise JournalError(f"operation {operation} is {state[0]}, not collecting; cannot add a bill")
            cursor = conn.execute(
                "INSERT OR IGNORE INTO bills (operation, denomination, validator, event_id, stacked_at) "
                "VALUES (?,?,?,?,?)", (operation, denomination, validator, event_id, self._stamp()))
            if cursor.rowcount == 0:
                return False
            conn.execute("UPDATE operations SET cash = cash + ? WHERE operation=?", (denomination, operation))
            conn.execute("DELETE FROM pending_stacks WHERE id = (SELECT MIN(id) FROM pending_stacks "
                         "WHERE validator=? AND denomination=?)", (validator, denomination))
        return True

    def stack_commanded(self, operation: int, denomination: int, validator: str) -> None:
        """Durably note that STACK is about to be sent for a bill in escrow (its fate is now the device's)."""
        with self._tx() as conn:
            conn.execute("INSERT INTO pending_stacks (operation, denomination, validator, commanded_at) "
                         "VALUES (?,?,?,?)", (operation, denomination, validator, self._stamp()))

    def stack_settled(self, validator: str) -> None:
        """The bill in escrow was returned or rejected: nothing is pending any more."""
        with self._tx() as conn:
            conn.execute("DELETE FROM pending_stacks WHERE validator=?", (validator,))

    def take_pending_stacks(self) -> list[tuple[int, int, str, str]]:
        """(operation, denomination, validator, commanded at) of STACKs never answered; clears them."""
        with self._tx() as conn:
            rows = [tuple(r) for r in conn.execute(
                "SELECT operation, denomination, validator, commanded_at FROM pending_stacks ORDER BY id")]
            conn.execute("DELETE FROM pending_stacks")
        return rows

    def commit(self, operation: int, split: Split, reason: str) -> Operation:
        """Fix the amount and fee and put the operation into the outbox."""
        with self._tx() as conn:
            row = conn.execute("SELECT state, cash FROM operations WHERE operation=?", (operation,)).fetchone()
            if row is None:
                raise JournalError(f"no operation {operation} to commit")
            if row[0] != COLLECTING:
                raise JournalError(f"operation {operation} is {row[0]}; only a collecting operation can commit")
            if split.cash.minor != row[1] or split.fee.minor + split.credited.minor != row[1]:
                raise JournalError(f"operation {operation}: fee split {split} does not match the cash {row[1]}")
            conn.execute(
                "UPDATE operations SET state=?, fee=?, credited=?, committed_at=?, commit_reason=?, "
                "next_attempt_ms=? WHERE operation=?",
                (COMMITTED, split.fee.minor, split.credited.minor, self._stamp(), reason,
                 int(self.now().timestamp() * 1000), operation))
        return self.get(operation)

    def cancel(self, operation: int, reason: str) -> None:
        """Close an operation that took no money."""
        with self._tx() as conn:
            row = conn.execute("SELECT state, cash FROM operations WHERE operation=?", (operation,)).fetchone()
            if row is None or row[0] != COLLECTING or row[1] != 0:
                raise JournalError(f"operation {operation} cannot be cancelled: only an empty collecting "
                                   "operation may be (money is never dropped)")
            conn.execute("UPDATE operations SET state=?, finished_at=?, commit_reason=? WHERE operation=?",
                         (CANCELLED, self._stamp(), reason, operation))

    # -- delivery -------------------------------------------------------------------------------
    def begin_attempt(self, operation: int, route: Route, verb: str) -> int:
        """Durably note that a request is about to leave, pinning the gateway until its outcome is known."""
        route_json = json.dumps({"gateway": route.gateway, "provider_code": route.provider_code,
                                 "options": dict(route.options)}, sort_keys=True)
        with self._tx() as conn:
            cursor = conn.execute(
                "INSERT INTO attempts (operation, gateway, route, verb, started_at) VALUES (?,?,?,?,?)",
                (operation, route.gateway, route_json, verb, self._stamp()))
            conn.execute("UPDATE operations SET pinned_gateway=?, pinned_route=?, attempts=attempts+1 "
                         "WHERE operation=?", (route.gateway, route_json, operation))
            return cursor.lastrowid

    def finish_attempt(self, attempt: int, outcome: str, code: str = "", message: str = "",
                       external_id: str = "") -> None:
        """Record what one attempt came to (the operation's state is changed by settle())."""
        with self._tx() as conn:
            conn.execute("UPDATE attempts SET finished_at=?, outcome=?, code=?, message=?, external_id=? "
                         "WHERE id=?", (self._stamp(), outcome, code, message, external_id or None, attempt))

    def settle(self, operation: int, *, state: str | None = None, unpin: bool = False,
               next_attempt_ms: int | None = None, **columns: Any) -> None:
        """Update an operation after an attempt: new state, pin, schedule and outcome columns."""
        allowed = {"gateway", "external_id", "last_outcome", "last_code", "last_message", "attention_reason"}
        unknown = set(columns) - allowed
        if unknown:
            raise JournalError(f"settle cannot set {sorted(unknown)}")
        sets, values = [], []
        if state is not None:
            if state not in STATES:
                raise JournalError(f"unknown state {state!r}")
            sets.append("state=?")
            values.append(state)
            if state in (DELIVERED, NEEDS_ATTENTION):
                sets.append("finished_at=?")
                values.append(self._stamp())
        if unpin:
            sets.append("pinned_gateway=NULL, pinned_route=NULL")
        sets.append("next_attempt_ms=?")
        values.append(next_attempt_ms)
        for name, value in columns.items():
            sets.append(f"{name}=?")
            values.append(value)
        with self._tx() as conn:
            conn.execute(f"UPDATE operations SET {', '.join(sets)} WHERE operation=?", (*values, operation))

    def requeue(self, operation: int) -> None:
        """Support puts a needs-attention operation back into the outbox (e.g. after fixing a route)."""
        with self._tx() as conn:
            row = conn.execute("SELECT state FROM operations WHERE operation=?", (operation,)).fetchone()
            if row is None or row[0] != NEEDS_ATTENTION:
                raise JournalError(f"operation {operation} is not in needs_attention; nothing to requeue")
            conn.execute("UPDATE operations SET state=?, finished_at=NULL, attention_reason=NULL, "
                         "next_attempt_ms=? WHERE operation=?",
                         (COMMITTED, int(self.now().timestamp() * 1000), operation))

    def set_receipt(self, operation: int, status: str) -> None:
        """Record what was printed for an operation (or that printing failed)."""
        if status not in RECEIPT_STATES:
            raise JournalError(f"unknown receipt status {status!r}")
        with self._tx() as conn:
            conn.execute("UPDATE operations SET receipt_status=? WHERE operation=?", (status, operation))

    # -- cash collection ------------------------------------------------------------------------
    def encash(self, reason: str, cassette: dict[int, int] | None = None) -> dict[str, Any]:
        """Close an encashment: counts by denomination of every bill since the previous one.

        With the cassette's own counts (from the device or the person emptying it), any difference from the
        journal is recorded and returned — reported, never hidden.
        """
        with self._tx() as conn:
            counts = {d: n for d, n in conn.execute(
                "SELECT denomination, COUNT(*) FROM bills WHERE encashment IS NULL GROUP BY denomination")}
            operations = conn.execute(
                "SELECT COUNT(DISTINCT operation) FROM bills WHERE encashment IS NULL").fetchone()[0]
            previous = conn.execute("SELECT closed_at FROM encashments ORDER BY id DESC LIMIT 1").fetchone()
            difference = {}
            if cassette is not None:
                for value in sorted(set(counts) | set(cassette)):
                    delta = cassette.get(value, 0) - counts.get(value, 0)
                    if delta:
                        difference[value] = delta
            cursor = conn.execute(
                "INSERT INTO encashments (closed_at, reason, counts, total, bill_count, cassette_counts, difference) "
                "VALUES (?,?,?,?,?,?,?)",
                (self._stamp(), reason, json.dumps(counts), sum(d * n for d, n in counts.items()),
                 sum(counts.values()), None if cassette is None else json.dumps(cassette),
                 json.dumps(difference) if cassette is not None else None))
            number = cursor.lastrowid
            conn.execute("UPDATE bills SET encashment=? WHERE encashment IS NULL", (number,))
        if difference:
            self.incident("encashment_difference", f"encashment {number}: cassette minus journal by "
                                                   f"denomination (kopecks → bills): {difference}")
        record = self.encashments(1)[0]
        record["operations"], record["since"] = operations, previous[0] if previous else None
        return record
