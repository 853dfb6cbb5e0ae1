"""Fiscal documents in the terminal's journal: the intent before a command, then what the fiscal drive made.

A row is written in state `intent` (with the drive's last FD number) before the registrar is asked for a
document, and becomes `done` (FD, FP, time, QR) or `failed` (nothing was made) once that is known. A row left
in `intent` by a lost reply or a crash is resolved by asking the drive, never by asking again. For a receipt,
the operation's `details["fiscal"]` (what support sees) changes in the same transaction.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from kiosk.fiscal.port import FiscalDocument
from kiosk.fiscal.port import qr_text as port_qr_text  # the one writer of the QR string (the emulator's too)
from kiosk.offline_queue.journal import CANCELLED, COLLECTING, Journal
from kiosk.offline_queue.operation import REFUNDED

INTENT, DONE, FAILED = "intent", "done", "failed"
RECEIPT, REFUND = "receipt", "refund"
REPLACED = "the fiscal drive was replaced"  # an intent's error when it was made for another drive than the one now  # a payment's receipt (1054 = 1) and its refund's (1054 = 2)
#: where support reads a document's state on its operation: details[key]
DETAILS_KEYS = {RECEIPT: "fiscal", REFUND: "fiscal_refund"}
#: meta key: the first operation this terminal owes a fiscal receipt for (set when the registrar first runs)
SINCE_KEY = "fiscal_since_operation"


def qr_text(document: FiscalDocument, total: int, timezone: Any) -> str:
    """The tax service's check string: t=YYYYMMDDTHHMM&s=R.KK&fn=…&i=…&fp=…&n=1 (no zero-padding of i, fp)."""
    return port_qr_text(document.at.astimezone(timezone), total, document.fn_number, document.number, document.sign,
                        document.calculation)


@dataclass(frozen=True)
class FiscalRow:
    """One journaled fiscal document (or the intent to make one)."""

    id: int
    operation: int | None
    kind: str
    state: str
    fn: str | None
    last_fd: int | None
    fd: int | None
    fp: int | None
    total: int | None
    at: str | None
    qr: str | None
    error: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row | tuple[Any, ...]) -> FiscalRow:
        """From a SELECT of COLUMNS."""
        return cls(*row)


COLUMNS = "id, operation, kind, state, fn, last_fd, fd, fp, total, at, qr, error"


class FiscalLedger:
    """Reads and writes the journal's fiscal_documents table (and the operation's details["fiscal"])."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def _stamp(self) -> str:
        return self.journal.now().isoformat(timespec="microseconds")

    def start(self) -> None:
        """Remember from which operation on receipts are fiscal (older ones were printed without a registrar)."""
        if self.journal.meta(SINCE_KEY) is None:
            last = self.journal.last_operation()
            self.journal.set_meta(SINCE_KEY, str((last.operation if last is not None else 0) + 1))

    def intend(self, operation: int | None, kind: str, fn: str, last_fd: int, total: int | None) -> FiscalRow:
        """Durably note that a document is about to be asked for (before the command leaves)."""
        stamp = self._stamp()
        with self.journal._tx() as conn:
            cursor = conn.execute(
                "INSERT INTO fiscal_documents (operation, kind, state, fn, last_fd, total, created_at, updated_at) "
                "VALUES (?,?,?,?,?,?,?,?)", (operation, kind, INTENT, fn, last_fd, total, stamp, stamp))
            row_id = int(cursor.lastrowid or 0)
            if operation is not None:
                _set_fiscal(conn, operation, {"status": "pending", "fn": fn}, kind)
        return self.get(row_id)

    def done(self, row: FiscalRow, document: FiscalDocument, qr: str) -> FiscalRow:
        """The drive made the document: FD, FP, time and QR, journaled before anyone is told."""
        at = document.at.isoformat()
        with self.journal._tx() as conn:
            conn.execute("UPDATE fiscal_documents SET state=?, fn=?, fd=?, fp=?, at=?, qr=?, error=NULL, updated_at=? "
                         "WHERE id=?", (DONE, document.fn_number, document.number, document.sign, at, qr,
                                        self._stamp(), row.id))
            if row.operation is not None:
                _set_fiscal(conn, row.operation, {"status": "done", "fn": document.fn_number, "fd": document.number,
                                                  "fp": document.sign, "at": at, "qr": qr}, row.kind)
        return self.get(row.id)

    def failed(self, row: FiscalRow, error: str, incident: bool = True) -> FiscalRow:
        """Nothing was made (the drive says so): journaled with an incident support sees (unless retried at
        once); retried later."""
        stamp = self._stamp()
        with self.journal._tx() as conn:
            conn.execute("UPDATE fiscal_documents SET state=?, error=?, updated_at=? WHERE id=?",
                         (FAILED, error, stamp, row.id))
            if row.operation is not None:
                _set_fiscal(conn, row.operation, {"status": "failed", "fn": row.fn, "error": error}, row.kind)
            if incident:
                conn.execute("INSERT INTO incidents (at, kind, operation, detail, amount) VALUES (?,?,?,?,?)",
                             (stamp, f"fiscal_{row.kind}_failed", row.operation, error, row.total))
        return self.get(row.id)

    def unresolved(self, row: FiscalRow, error: str) -> None:
        """Still unknown whether the drive made it (the registrar does not answer): the intent stays."""
        with self.journal._tx() as conn:
            conn.execute("UPDATE fiscal_documents SET error=?, updated_at=? WHERE id=?", (error, self._stamp(), row.id))
            if row.operation is not None:
                _set_fiscal(conn, row.operation, {"status": "pending", "fn": row.fn, "error": error}, row.kind)

    def not_attempted(self, operation: int, error: str, total: int, incident: bool = True,
                      kind: str = RECEIPT) -> None:
        """The registrar could not even be asked (link down, no paper): the receipt is owed and retried."""
        stamp = self._stamp()
        with self.journal._tx() as conn:
            _set_fiscal(conn, operation, {"status": "failed", "error": error}, kind)
            if incident:
                conn.execute("INSERT INTO incidents (at, kind, operation, detail, amount) VALUES (?,?,?,?,?)",
                             (stamp, f"fiscal_{kind}_failed", operation, error, total))

    # -- questions ---------------------------------------------------------------------------------------
    def get(self, row_id: int) -> FiscalRow:
        """One row by id."""
        with self.journal._lock:
            row = self.journal.conn.execute(f"SELECT {COLUMNS} FROM fiscal_documents WHERE id=?",
                                            (row_id,)).fetchone()
        return FiscalRow.from_row(tuple(row))

    def rows(self, operation: int | None = None, state: str | None = None) -> list[FiscalRow]:
        """Rows of one operation (or all), optionally in one state, oldest first."""
        where: list[str] = []
        args: list[Any] = []
        if operation is not None:
            where.append("operation=?")
            args.append(operation)
        if state is not None:
            where.append("state=?")
            args.append(state)
        sql = f"SELECT {COLUMNS} FROM fiscal_documents" + (f" WHERE {' AND '.join(where)}" if where else "")
        with self.journal._lock:
            return [FiscalRow.from_row(tuple(r)) for r in self.journal.conn.execute(sql + " ORDER BY id", args)]

    def reported(self, operation: int, kind: str = RECEIPT) -> bool:
        """Support has already been told (an incident) that this operation's fiscal receipt (or refund) failed."""
        with self.journal._lock:
            return self.journal.conn.execute(
                "SELECT 1 FROM incidents WHERE operation=? AND kind=? LIMIT 1",
                (operation, f"fiscal_{kind}_failed")).fetchone() is not None

    def receipt_of(self, operation: int, kind: str = RECEIPT) -> FiscalRow | None:
        """The fiscal receipt (or, kind "refund", refund receipt) made for an operation, if one was."""
        done = [r for r in self.rows(operation, DONE) if r.kind == kind]
        return done[0] if done else None

    def owed_refunds(self, limit: int = 50) -> list[int]:
        """Refunded operations whose sale has a fiscal receipt and whose refund has none (nor an open intent)."""
        with self.journal._lock:
            return [r[0] for r in self.journal.conn.execute(
                "SELECT o.operation FROM operations o WHERE o.state = ? AND EXISTS (SELECT 1 FROM fiscal_documents f "
                "WHERE f.operation = o.operation AND f.kind = ? AND f.state = ?) AND NOT EXISTS (SELECT 1 FROM "
                "fiscal_documents f WHERE f.operation = o.operation AND f.kind = ? AND f.state IN (?, ?)) "
                "ORDER BY o.operation LIMIT ?", (REFUNDED, RECEIPT, DONE, REFUND, DONE, INTENT, limit))]

    def owed(self, limit: int = 50) -> list[int]:
        """Operations that took money and have no fiscal receipt and no unresolved intent, oldest first."""
        since = int(self.journal.meta(SINCE_KEY) or 0)
        if not since:
            return []
        with self.journal._lock:
            return [r[0] for r in self.journal.conn.execute(
                "SELECT o.operation FROM operations o WHERE o.operation >= ? AND o.cash > 0 AND o.state NOT IN (?, ?) "
                "AND NOT EXISTS (SELECT 1 FROM fiscal_documents f WHERE f.operation = o.operation "
                "AND f.kind = 'receipt' AND f.state IN (?, ?)) ORDER BY o.operation LIMIT ?",
                (since, COLLECTING, CANCELLED, DONE, INTENT, limit))]


def _set_fiscal(conn: sqlite3.Connection, operation: int, fiscal: dict[str, Any], kind: str = RECEIPT) -> None:
    """Replace details["fiscal"] (a refund's: details["fiscal_refund"]) of an operation inside the caller's
    transaction (other keys stay)."""
    row = conn.execute("SELECT details FROM operations WHERE operation=?", (operation,)).fetchone()
    if row is None:
        return
    details = json.loads(row[0] or "{}")
    details[DETAILS_KEYS.get(kind, "fiscal")] = {k: v for k, v in fiscal.items() if v is not None}
    conn.execute("UPDATE operations SET details=? WHERE operation=?",
                 (json.dumps(details, ensure_ascii=False), operation))
