"""The durable journal: every operation, banknote and delivery attempt, in SQLite (WAL, synchronous=FULL)."""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from kiosk.errors import JournalError
from kiosk.fees import Split
from kiosk.gateways.base import Route
from kiosk.offline_queue.files import HighWater, make_shm_writable, permission_hint
from kiosk.offline_queue.journal_batches import (
    AttemptStart,
    Finish,
    SettleRow,
    begin_many,
    finish_attempt,
    route_json,
)
from kiosk.offline_queue.journal_corrections import JournalCorrections
from kiosk.offline_queue.journal_integrity import JournalIntegrity
from kiosk.offline_queue.journal_writes import PendingWrite
from kiosk.offline_queue.operation import (  # re-exported (__all__): the journal's vocabulary
    CANCELLED,
    COLLECTING,
    COMMITTED,
    DELIVERED,
    NEEDS_ATTENTION,
    NOT_SENT,
    RECEIPT_STATES,
    STATES,
    Operation,
    idempotency_key,
    session_id,
    txn_id,
)
from kiosk.offline_queue.schema import migrate, refuse_newer

__all__ = ["CANCELLED", "COLLECTING", "COMMITTED", "DELIVERED", "NEEDS_ATTENTION", "RECEIPT_STATES", "STATES",
           "Journal", "Operation", "idempotency_key", "txn_id"]

log = logging.getLogger(__name__)

NONCE_RANGE = 10**6


class Journal(JournalIntegrity, JournalCorrections):
    """The terminal's durable record; one instance per process, safe to share between threads."""

    def __init__(self, path: str | Path, terminal: str, currency: str,
                 clock: Callable[[], datetime]) -> None:
        self.path = Path(path)
        self.terminal, self.currency, self._clock = terminal, currency, clock
        self._lock = threading.RLock()
        self._waiting: list[PendingWrite] = []  # delivery writes queued for the next group commit
        self._queue_lock = threading.Lock()
        self._committing = False
        self._seq_path = self.path.with_name(self.path.name + ".opseq")
        # Read before anything is created: an empty or missing journal beside a high-water mark that says
        # operations existed is lost history, never a fresh start (defect: a deleted journal replaced silently).
        high_water = HighWater.read(self._seq_path)
        existed = self.path.exists() and self.path.stat().st_size > 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            make_shm_writable(self.path)
            self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        except (OSError, sqlite3.Error) as exc:
            raise JournalError(f"{self.path}: cannot open the journal: {exc}") from exc
        try:
            refuse_newer(self.conn, str(self.path))
            self._configure()
            migrate(self.conn, str(self.path))
            self._check_terminal()
            if not existed and high_water.issued > 0:
                self._refuse_money(f"the journal {self.path} was missing or empty, but {self._seq_path} says "
                                   f"operations up to {high_water.issued} were issued: its history is gone")
        except sqlite3.OperationalError as exc:
            self.conn.close()
            raise JournalError(f"{self.path}: cannot use the journal: {exc}{permission_hint(self.path)}") from exc
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise JournalError(f"{self.path}: not a usable journal: {exc}") from exc
        except BaseException:
            self.conn.close()
            raise
        self.conn.row_factory = sqlite3.Row
        self.db = sqlite_utils.Database(self.conn)
        self._check_high_water(high_water)
        self._check_clock()
        # The outbox's reads of committed rows go through a connection of their own: WAL lets them proceed while
        # a group commit waits for the disk on the main one, instead of queueing behind its fsync.
        self._reader = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._reader.row_factory = sqlite3.Row
        self._reader_lock = threading.Lock()

    def _configure(self) -> None:
        try:
            mode = self.conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            raise JournalError(f"{self.path}: cannot open the journal for writing: {exc}"
                               f"{permission_hint(self.path)}") from exc
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
        with self._reader_lock:
            self._reader.close()

    # -- the payment lifecycle ------------------------------------------------------------------
    def open_operation(self, provider: str, account: str, fields: dict[str, str], max_cash: int,
                       offline: bool = False, details: dict[str, Any] | None = None,
                       found_cash: bool = False) -> Operation:
        """Create an operation in state collecting; it exists durably before any bill may be accepted.

        found_cash: an operation to hold a bill that is already in the cassette; allowed even while the
        terminal refuses to take money (that bill is taken already and must be journaled).
        """
        refusal = self.refusal()
        if refusal is not None and not found_cash:
            raise JournalError(f"not taking money: {refusal}")
        with self._lock:
            high_water = HighWater.read(self._seq_path)
            number = max(self._journal_max(), high_water.issued) + 1
            # The high-water mark goes outside the database first, so even a restored older journal file
            # can never hand out this number again; "confirmed" follows once the operation is in.
            HighWater(number, high_water.confirmed).write(self._seq_path)
            # The nonce makes every id a processing system sees unrepeatable, even if the whole state folder
            # (journal and high-water mark together) is restored and this number comes round again.
            nonce = secrets.randbelow(NONCE_RANGE)
            with self._tx() as conn:
                conn.execute(
                    "INSERT INTO operations (operation, terminal, idempotency_key, provider, account, fields, "
                    "currency, state, max_cash, offline, created_at, details, nonce) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (number, self.terminal, idempotency_key(self.terminal, number, nonce), provider, account,
                     json.dumps(fields, ensure_ascii=False), self.currency, COLLECTING, max_cash, int(offline),
                     self._stamp(), json.dumps(details or {}, ensure_ascii=False), nonce),
                )
            HighWater(number, number).write(self._seq_path)
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

    def pending_stacks(self) -> list[tuple[int, int, str, str]]:
        """(operation, denomination, validator, commanded at) of STACKs never answered, oldest first."""
        with self._lock:
            return [tuple(r) for r in self.conn.execute(
                "SELECT operation, denomination, validator, commanded_at FROM pending_stacks ORDER BY id")]

    def pending_stack_for(self, validator: str, denomination: int) -> int | None:
        """The collecting operation whose STACK of this value at this validator is pending, if any."""
        with self._lock:
            row = self.conn.execute(
                "SELECT p.operation FROM pending_stacks p JOIN operations o ON o.operation = p.operation "
                "WHERE p.validator=? AND p.denomination=? AND o.state=? ORDER BY p.id LIMIT 1",
                (validator, denomination, COLLECTING)).fetchone()
        return None if row is None else row[0]

    def pending_stack_id(self, operation: int) -> int:
        """The id of the oldest pending stack of an operation (makes a synthetic event id unique)."""
        with self._lock:
            row = self.conn.execute("SELECT MIN(id) FROM pending_stacks WHERE operation=?", (operation,)).fetchone()
        return int(row[0] or 0)

    def take_pending_stacks(self) -> list[tuple[int, int, str, str]]:
        """(operation, denomination, validator, commanded at) of STACKs never answered; clears them."""
        with self._tx() as conn:
            rows = [tuple(r) for r in conn.execute(
                "SELECT operation, denomination, validator, commanded_at FROM pending_stacks ORDER BY id")]
            conn.execute("DELETE FROM pending_stacks")
        return rows

    def commit(self, operation: int, split: Split, reason: str, hold: str | None = None,
               fee_rule: Mapping[str, str] | None = None, details: dict[str, Any] | None = None) -> Operation:
        """Fix the amount and fee and put the operation into the outbox.

        With `hold`, the money is kept as owed to the payer instead (never sent: e.g. below what the provider
        accepts): the operation goes straight to needs_attention with that reason, in the same transaction.
        `fee_rule` (the rule's words by language) joins the operation's details, so support later reads which
        rule made this fee even after the catalog changed.
        With `details`, those keys are added to the operation's details in the same transaction (utility bills:
        the split of the credited sum across services, fixed with the amount it splits).
        """
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
            if fee_rule:
                conn.execute("UPDATE operations SET details=json_set(details, '$.fee_rule', json(?)) "
                             "WHERE operation=?", (json.dumps(dict(fee_rule), ensure_ascii=False), operation))
            if details:
                old = json.loads(conn.execute("SELECT details FROM operations WHERE operation=?",
                                              (operation,)).fetchone()[0])
                conn.execute("UPDATE operations SET details=? WHERE operation=?",
                             (json.dumps({**old, **details}, ensure_ascii=False), operation))
            if hold is not None:
                conn.execute("UPDATE operations SET state=?, finished_at=?, attention_reason=?, last_outcome=?, "
                             "next_attempt_ms=NULL WHERE operation=?",
                             (NEEDS_ATTENTION, self._stamp(), hold, NOT_SENT, operation))
        if hold is not None:
            self.incident("owed_cash", hold, operation, split.cash.minor)
        return self.get(operation)

    def pay_on(self, operation: int, provider: str, account: str, split: Split,
               fee_rule: Mapping[str, str] | None = None) -> Operation:
        """Support sends money held as owed (never sent) on to an account: it re-enters the outbox."""
        with self._tx() as conn:
            row = conn.execute("SELECT state, cash, last_outcome FROM operations WHERE operation=?",
                               (operation,)).fetchone()
            if row is None or row[0] != NEEDS_ATTENTION or row[2] != NOT_SENT:
                raise JournalError(f"operation {operation} is not money held as owed (never sent); only such "
                                   "an operation can be paid on to another account")
            if split.cash.minor != row[1] or split.fee.minor + split.credited.minor != row[1]:
                raise JournalError(f"operation {operation}: fee split {split} does not match the cash {row[1]}")
            conn.execute("UPDATE operations SET state=?, provider=?, account=?, fields=?, fee=?, credited=?, "
                         "finished_at=NULL, attention_reason=NULL, last_outcome=NULL, next_attempt_ms=?, "
                         "lifetime_from=? WHERE operation=?",
                         (COMMITTED, provider, account, json.dumps({"account": account}, ensure_ascii=False),
                          split.fee.minor, split.credited.minor, int(self.now().timestamp() * 1000),
                          self._stamp(), operation))
            if fee_rule:
                conn.execute("UPDATE operations SET details=json_set(details, '$.fee_rule', json(?)) "
                             "WHERE operation=?", (json.dumps(dict(fee_rule), ensure_ascii=False), operation))
            # a utility bill's debt, readings and split belonged to the account first entered: money paid on
            # goes as a plain payment (fields are replaced above for the same reason)
            conn.execute("UPDATE operations SET details=json_remove(details, '$.debt', '$.readings', '$.split') "
                         "WHERE operation=?", (operation,))
        self.incident("paid_on", f"owed money paid on to {provider} account {account}", operation, split.cash.minor)
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
    def begin_attempt(self, operation: int, route: Route, verb: str, session: str | None = None,
                      expect: int | None = None) -> int:
        """Durably note that a request is about to leave, pinning the gateway until its outcome is known.

        `session`: the CyberPlat SESSION the request carries, so the journal names every one ever sent.
        `expect`: the operation's change_seq as the caller read it; if the row has been written since, nothing is
        written and 0 is returned (the caller's copy is stale: it must read the operation again).
        """
        pinned = route_json(route)
        stamp = self._stamp()

        def write(conn: sqlite3.Connection) -> int:
            pinning = conn.execute("UPDATE operations SET pinned_gateway=?, pinned_route=?, attempts=attempts+1 "
                                   "WHERE operation=? AND (? IS NULL OR change_seq=?)",
                                   (route.gateway, pinned, operation, expect, expect))
            if expect is not None and pinning.rowcount != 1:
                return 0  # changed since the caller read it: compare-and-set, so a stale copy never sends
            cursor = conn.execute(
                "INSERT INTO attempts (operation, gateway, route, verb, started_at, session) VALUES (?,?,?,?,?,?)",
                (operation, route.gateway, pinned, verb, stamp, session))
            return int(cursor.lastrowid or 0)

        return int(self._grouped(write))

    def begin_attempts(self, starts: Sequence[tuple[int, Route, str, str | None, int | None]]) -> list[int]:
        """begin_attempt() for many operations in one durable write: (operation, route, verb, session, expect) each;
        the attempt ids in the same order, 0 for an operation whose row is no longer the one expected.

        The outbox's loop journals a refill's first attempts so; it costs a handful of statements, however many.
        """
        if len({start[0] for start in starts}) != len(starts):
            raise JournalError("begin_attempts: an operation is named twice")
        rows = [AttemptStart(number, route.gateway, route_json(route), verb, session, expect)
                for number, route, verb, session, expect in starts]
        stamp = self._stamp()
        made: dict[int, int] = self._grouped(lambda conn: begin_many(conn, rows, stamp)) if rows else {}
        return [made.get(number, 0) for number, *_ in starts]

    def finish_attempt(self, attempt: int, outcome: str, code: str = "", message: str = "",
                       external_id: str = "") -> None:
        """Record what one attempt came to (the operation's state is changed by settle())."""
        stamp, finish = self._stamp(), (attempt, outcome, code, message, external_id)
        self._grouped(lambda conn: finish_attempt(conn, stamp, finish))

    def settle(self, operation: int, *, state: str | None = None, unpin: bool = False,
               next_attempt_ms: int | None = None, finish: Finish | None = None,
               new_session: bool = False, then: Callable[[BaseException | None], None] | None = None,
               **columns: Any) -> PendingWrite | None:
        """Update an operation after an attempt: new state, pin, schedule and outcome columns.

        `finish` (attempt, outcome, code, message, external id) records the attempt's outcome in the same
        transaction, as finish_attempt() would. `new_session`: the centre proved the current SESSION unknown;
        a new one, never used before by this operation, is minted in the same transaction, so it is durable
        before any request can carry it. With `then`, the write is queued and not waited for: its PendingWrite is
        returned and `then(error)` is called once it is durable (see _grouped).
        """
        allowed = {"gateway", "external_id", "last_outcome", "last_code", "last_message", "attention_reason"}
        unknown = set(columns) - allowed
        if unknown:
            raise JournalError(f"settle cannot set {sorted(unknown)}")
        stamp = self._stamp()
        sets: dict[str, Any] = {}
        if state is not None:
            if state not in STATES:
                raise JournalError(f"unknown state {state!r}")
            sets["state"] = state
            if state in (DELIVERED, NEEDS_ATTENTION):
                sets["finished_at"] = stamp
        if unpin:
            sets["pinned_gateway"] = sets["pinned_route"] = None
        sets["next_attempt_ms"] = next_attempt_ms
        sets.update(columns)
        row = SettleRow(operation, tuple(sets), tuple(sets.values()), finish, stamp)

        def write(conn: sqlite3.Connection) -> None:
            row.run(conn)
            if new_session:
                self._mint_session(conn, operation)

        # a plain settle may share one statement with the other settles of its commit (journal_batches.py)
        pending: PendingWrite = self._grouped(write, then, None if new_session else row)
        return pending if then is not None else None

    def _mint_session(self, conn: sqlite3.Connection, operation: int) -> str:
        """Give an operation a SESSION that none of its attempts ever carried (inside the caller's transaction)."""
        row = conn.execute("SELECT nonce, session FROM operations WHERE operation=?", (operation,)).fetchone()
        used = {r[0] for r in conn.execute("SELECT session FROM attempts WHERE operation=? AND session IS NOT NULL",
                                           (operation,))}
        used.add(row[1] or session_id(self.terminal, operation, row[0]))
        while True:  # a fresh random nonce: the new SESSION is as unrepeatable as the first
            session = session_id(self.terminal, operation, secrets.randbelow(NONCE_RANGE))
            if session not in used:
                break
        conn.execute("UPDATE operations SET session=? WHERE operation=?", (session, operation))
        log.warning("operation %d: the centre does not know its SESSION; continuing under %s", operation, session)
        return session

    def requeue(self, operation: int) -> None:
        """Support puts a needs-attention operation back into the outbox (e.g. after fixing a route)."""
        with self._tx() as conn:
            row = conn.execute("SELECT state FROM operations WHERE operation=?", (operation,)).fetchone()
            if row is None or row[0] != NEEDS_ATTENTION:
                raise JournalError(f"operation {operation} is not in needs_attention; nothing to requeue")
            # The delivery lifetime restarts: support asked for a fresh try, not an immediate bounce.
            conn.execute("UPDATE operations SET state=?, finished_at=NULL, attention_reason=NULL, "
                         "next_attempt_ms=?, lifetime_from=? WHERE operation=?",
                         (COMMITTED, int(self.now().timestamp() * 1000), self._stamp(), operation))

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
