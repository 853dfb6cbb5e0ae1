"""The journal's writes for corrections (issue 15): each one checks the operation's state inside its own durable
transaction, changes it, appends what was done to the operation's `details["corrections"]` and records an incident,
so the story (terminal and dealer service) tells it and the journal upload carries it."""

from __future__ import annotations

import json
import secrets
import sqlite3
from typing import Any

from kiosk.errors import JournalError
from kiosk.offline_queue.journal_writes import JournalWrites
from kiosk.offline_queue.operation import (
    COMMITTED,
    DELIVERED,
    NEEDS_ATTENTION,
    NONCE_DIGITS,
    REFUNDED,
    REISSUED_NONCE,
)

CORRECTIONS = "corrections"  # the details key (contracts: corrections owns it)
REISSUED_AFTER = "reissued_after_attempt"  # details key: the last attempt made under the ids before the reissue


class JournalCorrections(JournalWrites):
    """Corrections' state changes (mixed into the Journal)."""

    def _correction_row(self, conn: sqlite3.Connection, operation: int, states: tuple[str, ...]) -> tuple[Any, ...]:
        row = conn.execute("SELECT state, cash, details, pinned_gateway, nonce FROM operations WHERE operation=?",
                           (operation,)).fetchone()
        if row is None:
            raise JournalError(f"no operation {operation}")
        if row[0] not in states:
            raise JournalError(f"operation {operation} is {row[0]}; this correction needs it {' or '.join(states)}")
        return tuple(row)

    def _append(self, conn: sqlite3.Connection, operation: int, details: dict[str, Any], entry: dict[str, Any],
                kind: str, text: str, amount: int | None) -> None:
        details.setdefault(CORRECTIONS, []).append({**entry, "at": self._stamp()})
        conn.execute("UPDATE operations SET details=? WHERE operation=?",
                     (json.dumps(details, ensure_ascii=False), operation))
        conn.execute("INSERT INTO incidents (at, kind, operation, detail, amount) VALUES (?, ?, ?, ?, ?)",
                     (self._stamp(), kind, operation, text, amount))

    def note_correction(self, operation: int, entry: dict[str, Any], text: str) -> None:
        """Record a correction step that changed no state (a refusal, a status answer) on the operation."""
        with self._tx() as conn:
            row = conn.execute("SELECT details FROM operations WHERE operation=?", (operation,)).fetchone()
            if row is None:
                raise JournalError(f"no operation {operation}")
            self._append(conn, operation, json.loads(row[0]), entry, "correction", text, None)

    def reopen_corrected(self, operation: int, entry: dict[str, Any], text: str, *, account: str | None = None,
                         reissue: bool = False, was_delivered: bool = False) -> None:
        """Put a corrected operation back into the outbox: needs attention and unpinned (nothing booked), or —
        `was_delivered` — delivered and just reversed at the provider. A new account replaces the old; `reissue`
        gives its requests ids no processing system has seen (its own key stays the operation's identity)."""
        with self._tx() as conn:
            row = self._correction_row(conn, operation, (DELIVERED, NEEDS_ATTENTION) if was_delivered else (NEEDS_ATTENTION,))
            if row[3] and not was_delivered:
                raise JournalError(f"operation {operation} has an unresolved attempt at {row[3]}")
            details = json.loads(row[2])
            sets = ["state=?", "finished_at=NULL", "attention_reason=NULL", "pinned_gateway=NULL",
                    "pinned_route=NULL", "next_attempt_ms=?", "lifetime_from=?", "gateway=NULL", "external_id=NULL"]
            values: list[Any] = [COMMITTED, int(self.now().timestamp() * 1000), self._stamp()]
            if account is not None:
                sets += ["account=?", "fields=?"]
                values += [account, json.dumps({"account": account}, ensure_ascii=False)]
            if reissue:
                # requests up to this attempt carried the old ids: they were reversed or proved unbooked
                last = conn.execute("SELECT COALESCE(MAX(id), 0) FROM attempts WHERE operation=?",
                                    (operation,)).fetchone()[0]
                details[REISSUED_AFTER] = int(last)
                used = {details.get(REISSUED_NONCE), row[4]}
                nonce = secrets.randbelow(10**NONCE_DIGITS)
                while nonce in used:
                    nonce = secrets.randbelow(10**NONCE_DIGITS)
                details[REISSUED_NONCE] = nonce
                sets.append("session=NULL")  # a SESSION minted for the old ids is not the new ids'
                entry = {**entry, REISSUED_NONCE: nonce}
            conn.execute(f"UPDATE operations SET {', '.join(sets)} WHERE operation=?", (*values, operation))
            self._append(conn, operation, details, entry, "correction", text, None)

    def refund_corrected(self, operation: int, entry: dict[str, Any], text: str, *, was_delivered: bool) -> None:
        """The payer got the cash back: needs attention and unpinned (nothing booked), or delivered and just
        reversed at the provider; the operation ends `refunded`, with who returned it, when and how."""
        with self._tx() as conn:
            row = self._correction_row(conn, operation, (DELIVERED, NEEDS_ATTENTION) if was_delivered else (NEEDS_ATTENTION,))
            if row[3] and not was_delivered:
                raise JournalError(f"operation {operation} has an unresolved attempt at {row[3]}")
            conn.execute("UPDATE operations SET state=?, finished_at=?, pinned_gateway=NULL, pinned_route=NULL, "
                         "next_attempt_ms=NULL, attention_reason=NULL WHERE operation=?",
                         (REFUNDED, self._stamp(), operation))
            self._append(conn, operation, json.loads(row[2]), entry, "refunded", text, int(row[1]))

    def attempt_routes(self, operation: int) -> list[dict[str, Any]]:
        """Every attempt of an operation with its id and the route it was sent on (JSON), oldest first."""
        with self._lock:
            rows = self.conn.execute("SELECT id, gateway, verb, route, outcome FROM attempts WHERE operation=? "
                                     "ORDER BY id", (operation,)).fetchall()
        return [{"id": r[0], "gateway": r[1], "verb": r[2], "route": json.loads(r[3]), "outcome": r[4]}
                for r in rows]
