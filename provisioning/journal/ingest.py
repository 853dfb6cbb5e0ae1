"""Storing one uploaded journal batch: decode (gzip, bounded), check, upsert every row, keep each operation version,
move the terminal's acknowledged position — all in the caller's transaction, so a batch lands whole or not at all.

Idempotent: every table has a unique key from the terminal's own identifiers, operations are only overwritten by a
later change (higher change sequence), versions and children are inserted once. Repeating a batch changes nothing.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from provisioning.db.models import utcnow
from provisioning.journal import bulk
from provisioning.journal.models import (
    JournalAttempt,
    JournalBill,
    JournalEncashment,
    JournalIncident,
    JournalOperation,
    JournalOperationVersion,
    JournalPosition,
)

FORMAT = 1
MAX_INFLATED = 64 * 1024 * 1024  # a batch inflates to at most this (a gzip bomb stops here)
MAX_ROWS = bulk.MAX_ROWS


class BatchRefused(Exception):
    """A batch that cannot be stored, with the HTTP status and the reason sent back."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass(frozen=True)
class Stored:
    """What a batch came to: the acknowledged position, rows received; `resend_from` when the service holds less
    than the terminal believes (its database restored from an older copy): the terminal sends again from there."""

    acknowledged: int
    rows: int
    resend_from: int | None = None


def decompress(body: bytes, encoding: str) -> bytes:
    """A request body's JSON text (gzip or plain), refusing anything that inflates past MAX_INFLATED."""
    if encoding.strip().lower() == "gzip":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            data = inflater.decompress(body, MAX_INFLATED)
        except zlib.error as exc:
            raise BatchRefused(400, f"journal batch: not gzip: {exc}") from exc
        if inflater.unconsumed_tail:
            raise BatchRefused(413, f"journal batch inflates past {MAX_INFLATED} bytes")
        return data
    if encoding.strip() in ("", "identity"):
        return body
    raise BatchRefused(415, f"journal batch: unsupported Content-Encoding {encoding!r} (gzip or none)")


def parse(data: bytes) -> dict[str, Any]:
    """The JSON document of a batch's text."""
    try:
        document = json.loads(data)
    except ValueError as exc:
        raise BatchRefused(400, f"journal batch: not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise BatchRefused(400, "journal batch: expected a JSON object")
    return document


def inflate(body: bytes, encoding: str) -> dict[str, Any]:
    """The JSON document of a request body (gzip or plain), refusing anything that inflates past MAX_INFLATED."""
    return parse(decompress(body, encoding))


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise BatchRefused(400, f"journal batch: {what} must be a whole number >= 0, got {value!r}")
    return value


def _utc(stamp: str) -> datetime:
    try:
        when = datetime.fromisoformat(stamp)
    except (TypeError, ValueError) as exc:
        raise BatchRefused(400, f"journal batch: bad time {stamp!r}") from exc
    if when.tzinfo is None:
        raise BatchRefused(400, f"journal batch: time without its zone {stamp!r}")
    return when.astimezone(UTC)


def _json_text(value: Any, what: str) -> str:
    """A JSON object column as the terminal sent it (text or already decoded), checked to be an object."""
    if value is None:
        return "{}"
    try:
        decoded = json.loads(value) if isinstance(value, str) else value
    except ValueError as error:
        raise BatchRefused(400, f"journal batch: operation {what} is not JSON ({error})") from error
    if not isinstance(decoded, dict):
        raise BatchRefused(400, f"journal batch: operation {what} is not a JSON object")
    return json.dumps(decoded, ensure_ascii=False, sort_keys=True)


def _operation(row: dict[str, Any], dealer_id: int, terminal_id: int) -> dict[str, Any]:
    return {"dealer_id": dealer_id, "terminal_id": terminal_id, "operation": _int(row["operation"], "operation"),
            "op_key": str(row["idempotency_key"]), "state": str(row["state"]), "provider": str(row["provider"]),
            "account": str(row["account"]), "currency": str(row["currency"]), "cash": _int(row["cash"], "cash"),
            "fee": row["fee"], "credited": row["credited"], "created_at": row["created_at"],
            "created_utc": _utc(row["created_at"]), "committed_at": row["committed_at"],
            "finished_at": row["finished_at"], "commit_reason": row["commit_reason"], "gateway": row["gateway"],
            "external_id": row["external_id"], "attempts": _int(row["attempts"], "attempts"),
            "last_outcome": row["last_outcome"], "attention_reason": row["attention_reason"],
            "receipt_status": str(row["receipt_status"]), "offline": bool(row["offline"]),
            "fields": _json_text(row.get("fields"), "fields"), "details": _json_text(row.get("details"), "details"),
            "change_seq": _int(row["change_seq"], "change_seq"), "received_at": utcnow()}


def _bill(row: dict[str, Any], terminal_id: int) -> dict[str, Any]:
    return {"terminal_id": terminal_id, "op_key": str(row["op_key"]), "local_id": _int(row["id"], "bill id"),
            "denomination": _int(row["denomination"], "denomination"), "validator": str(row["validator"]),
            "stacked_at": str(row["stacked_at"]), "encashment": row["encashment"],
            "change_seq": _int(row["change_seq"], "change_seq")}


def _attempt(row: dict[str, Any], terminal_id: int) -> dict[str, Any]:
    return {"terminal_id": terminal_id, "op_key": str(row["op_key"]), "local_id": _int(row["id"], "attempt id"),
            "gateway": str(row["gateway"]), "verb": str(row["verb"]), "started_at": str(row["started_at"]),
            "finished_at": row["finished_at"], "outcome": row["outcome"], "code": row["code"],
            "message": row["message"], "external_id": row["external_id"], "session": row.get("session"),
            "change_seq": _int(row["change_seq"], "change_seq")}


def _incident(row: dict[str, Any], terminal_id: int) -> dict[str, Any]:
    return {"terminal_id": terminal_id, "local_id": _int(row["id"], "incident id"), "at": str(row["at"]),
            "kind": str(row["kind"]), "operation": row["operation"], "op_key": row.get("op_key"),
            "detail": str(row["detail"]), "amount": row.get("amount"),
            "change_seq": _int(row["change_seq"], "change_seq")}


def _encashment(row: dict[str, Any], terminal_id: int) -> dict[str, Any]:
    return {"terminal_id": terminal_id, "local_id": _int(row["id"], "encashment id"),
            "closed_at": str(row["closed_at"]), "reason": str(row["reason"]), "counts": str(row["counts"]),
            "total": _int(row["total"], "total"), "bill_count": _int(row["bill_count"], "bill_count"),
            "cassette_counts": row["cassette_counts"], "difference": row["difference"],
            "change_seq": _int(row["change_seq"], "change_seq")}


# table → (model, row converter, unique key, columns a later change may update)
_CHILDREN: dict[str, tuple[Any, Callable[[dict[str, Any], int], dict[str, Any]], tuple[str, ...], tuple[str, ...]]] = {
    "bills": (JournalBill, _bill, ("terminal_id", "op_key", "local_id"), ("encashment",)),
    "attempts": (JournalAttempt, _attempt, ("terminal_id", "op_key", "local_id"),
                 ("finished_at", "outcome", "code", "message", "external_id", "session")),
    "incidents": (JournalIncident, _incident, ("terminal_id", "local_id", "at"), ()),
    "encashments": (JournalEncashment, _encashment, ("terminal_id", "local_id", "closed_at"), ()),
}
_OPERATION_UPDATES = ("state", "provider", "account", "cash", "fee", "credited", "committed_at", "finished_at",
                      "commit_reason", "gateway", "external_id", "attempts", "last_outcome", "attention_reason",
                      "receipt_status", "fields", "details", "change_seq")


def _upsert(connection: Connection, model: Any, rows: list[dict[str, Any]], key: tuple[str, ...],
             updates: tuple[str, ...]) -> None:
    """Insert rows; on a key seen before, take the later change's columns (never an older one's)."""
    if not rows:
        return
    table: Table = model.__table__
    statement = sqlite_insert(table)
    if updates:
        statement = statement.on_conflict_do_update(
            index_elements=list(key), set_={c: statement.excluded[c] for c in updates},
            where=table.c.change_seq < statement.excluded.change_seq)
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(key))
    connection.execute(statement, rows)


def store_text(connection: Connection, dealer_id: int, terminal_id: int, number: str, text: bytes) -> Stored:
    """Store one batch (its JSON text, inflated) from terminal `number`: on PostgreSQL parsed and stored by one
    statement (bulk.py), elsewhere by `store`. The same checks, the same rows, the same answer."""
    if connection.dialect.name != "postgresql":
        return store(connection, dealer_id, terminal_id, number, parse(text))
    raw = connection.connection.driver_connection
    assert raw is not None  # a live pooled connection
    outcome = bulk.store_text(raw, text, number=number, dealer_id=dealer_id, terminal_id=terminal_id, now=utcnow())
    if outcome.status != 200:
        raise BatchRefused(outcome.status, f"journal batch: {outcome.reason}")
    if outcome.resend:
        return Stored(outcome.last, 0, resend_from=outcome.last)
    return Stored(outcome.last, outcome.count)


def store(connection: Connection, dealer_id: int, terminal_id: int, number: str, document: dict[str, Any]) -> Stored:
    """Store one batch from terminal `number` (its id `terminal_id`); returns the acknowledged position."""
    if connection.dialect.name == "postgresql":
        return store_text(connection, dealer_id, terminal_id, number, json.dumps(document).encode())
    if document.get("format") != FORMAT:
        raise BatchRefused(400, f"journal batch: format {document.get('format')!r}, this service reads {FORMAT}")
    if str(document.get("terminal")) != number:
        raise BatchRefused(400, f"journal batch of terminal {document.get('terminal')!r} sent as terminal {number}")
    after, last = _int(document.get("after"), "after"), _int(document.get("last"), "last")
    tables = document.get("rows")
    if not isinstance(tables, dict) or not all(isinstance(v, list) for v in tables.values()):
        raise BatchRefused(400, "journal batch: rows must map a table name to a list of rows")
    count = sum(len(v) for v in tables.values())
    if count > MAX_ROWS:
        raise BatchRefused(413, f"journal batch of {count} rows; at most {MAX_ROWS}")
    held = _position(connection, terminal_id)
    if after > held:
        # The terminal thinks we hold more than we do: nothing is stored, it resends from what we hold.
        return Stored(held, 0, resend_from=held)
    try:
        operations = [_operation(r, dealer_id, terminal_id) for r in tables.get("operations", [])]
        children = {name: [convert(r, terminal_id) for r in tables.get(name, [])]
                    for name, (_, convert, _, _) in _CHILDREN.items()}
    except (KeyError, TypeError, AttributeError) as exc:
        raise BatchRefused(400, f"journal batch: a row lacks {exc}") from exc
    if any(r["change_seq"] > last or r["change_seq"] <= after for rows in (operations, *children.values())
           for r in rows):
        raise BatchRefused(400, f"journal batch: a row's change sequence is outside ({after}, {last}]")
    _upsert(connection, JournalOperation, operations, ("terminal_id", "operation", "op_key"), _OPERATION_UPDATES)
    _upsert(connection, JournalOperationVersion,
            [{"terminal_id": terminal_id, "op_key": r["op_key"], "change_seq": r["change_seq"], "state": r["state"],
              "record": json.dumps(row, ensure_ascii=False, separators=(",", ":")), "received_at": r["received_at"]}
             for r, row in zip(operations, tables.get("operations", []), strict=True)], ("terminal_id", "op_key", "change_seq"), ())
    for name, (model, _, key, updates) in _CHILDREN.items():
        _upsert(connection, model, children[name], key, updates)
    _advance(connection, terminal_id, last, count)
    return Stored(last, count)


def _position(connection: Connection, terminal_id: int) -> int:
    """The terminal's acknowledged position, its row locked until this transaction ends (two batches of one
    terminal, a resend racing its original, are stored one after the other). One statement: found or created."""
    insert = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
    statement = insert(JournalPosition).values(terminal_id=terminal_id, acknowledged=0, rows=0, updated_at=utcnow())
    statement = statement.on_conflict_do_update(index_elements=["terminal_id"],
                                                set_={"terminal_id": statement.excluded.terminal_id})
    return int(connection.execute(statement.returning(JournalPosition.acknowledged)).scalar_one())


def _advance(connection: Connection, terminal_id: int, last: int, count: int) -> None:
    # The end of the batch just stored, even when lower than before: a terminal whose journal was replaced starts
    # again from 0, and what the service holds must then follow that journal's sequence, not the old one's.
    connection.execute(update(JournalPosition).where(JournalPosition.terminal_id == terminal_id).values(
        acknowledged=last, rows=JournalPosition.rows + count, updated_at=utcnow()))
