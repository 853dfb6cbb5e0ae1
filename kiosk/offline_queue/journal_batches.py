"""The outbox's journal writes for many operations at once: one statement per kind, whatever their number.

Python's sqlite3 lets go of the interpreter lock for every statement it steps. While delivery workers wait for it
(a zero-latency drain), each of those hand-overs costs two thread switches and ~25 µs of CPU; a statement per row
made the journal three quarters of the drain's overhead (bench/gateway_drain.py). So rows go to SQLite as one JSON
array, and each kind of write is a single statement over json_each().
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kiosk.gateways.base import Route

# (attempt id, outcome kind, code, message, external id): an attempt's outcome
Finish = tuple[int, str, str, str, str]


def route_json(route: Route) -> str:
    """A route as the journal keeps it (attempts.route, operations.pinned_route): Operation.route() reads it back."""
    return json.dumps({"gateway": route.gateway, "provider_code": route.provider_code,
                       "options": dict(route.options)}, sort_keys=True)


def finish_attempt(conn: sqlite3.Connection, stamp: str, finish: Finish) -> None:
    """Record one attempt's outcome (inside the caller's transaction)."""
    attempt, outcome, code, message, external_id = finish
    conn.execute("UPDATE attempts SET finished_at=?, outcome=?, code=?, message=?, external_id=? WHERE id=?",
                 (stamp, outcome, code, message, external_id or None, attempt))


@dataclass(frozen=True, slots=True)
class AttemptStart:
    """A request about to leave: its operation, route, verb and SESSION, and the change_seq it was decided on."""

    operation: int
    gateway: str
    route_json: str
    verb: str
    session: str | None
    expect: int | None  # None: pin whatever the row is now


@dataclass(frozen=True, slots=True)
class SettleRow:
    """What an operation becomes after an attempt: columns of its row, and the attempt's outcome if any."""

    operation: int
    columns: tuple[str, ...]  # names from the journal's fixed list, never from outside
    values: tuple[Any, ...]
    finish: Finish | None
    stamp: str  # when it was decided: the attempt's finished_at

    def run(self, conn: sqlite3.Connection) -> None:
        """Write this one row (a statement per table)."""
        if self.finish is not None:
            finish_attempt(conn, self.stamp, self.finish)
        sets = ", ".join(f"{name}=?" for name in self.columns)
        conn.execute(f"UPDATE operations SET {sets} WHERE operation=?", (*self.values, self.operation))


def begin_many(conn: sqlite3.Connection, starts: Sequence[AttemptStart], stamp: str) -> dict[int, int]:
    """Insert the attempts and pin their operations (inside the caller's transaction): operation → attempt id.

    An operation whose change_seq is no longer the one expected gets no attempt and is left out of the answer.
    Operations must be distinct.
    """
    rows = json.dumps([[s.operation, s.gateway, s.route_json, s.verb, stamp, s.session, s.expect] for s in starts],
                      ensure_ascii=False)
    last = conn.execute("SELECT COALESCE(MAX(id), 0) FROM attempts").fetchone()[0]
    conn.execute(
        "INSERT INTO attempts (operation, gateway, route, verb, started_at, session) "
        "SELECT json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), json_extract(j.value, '$[2]'), "
        "json_extract(j.value, '$[3]'), json_extract(j.value, '$[4]'), json_extract(j.value, '$[5]') "
        "FROM json_each(?) AS j JOIN operations AS o ON o.operation = json_extract(j.value, '$[0]') "
        "WHERE json_extract(j.value, '$[6]') IS NULL OR o.change_seq = json_extract(j.value, '$[6]') "
        "ORDER BY j.key", (rows,))
    conn.execute(
        "UPDATE operations SET pinned_gateway = a.gateway, pinned_route = a.route, attempts = operations.attempts + 1 "
        "FROM attempts AS a WHERE a.id > ? AND a.operation = operations.operation", (last,))
    made = conn.execute("SELECT json_group_object(operation, id) FROM attempts WHERE id > ?", (last,)).fetchone()[0]
    return {int(operation): int(attempt) for operation, attempt in json.loads(made or "{}").items()}


def settle_many(conn: sqlite3.Connection, rows: Sequence[SettleRow]) -> None:
    """Write many settles (inside the caller's transaction): a statement per table and per set of columns.

    Operations must be distinct (an UPDATE … FROM takes one source row per target row).
    """
    finishes = [[r.finish[0], r.stamp, *r.finish[1:4], r.finish[4] or None] for r in rows if r.finish is not None]
    if finishes:
        conn.execute(
            "UPDATE attempts SET finished_at = json_extract(j.value, '$[1]'), outcome = json_extract(j.value, '$[2]'), "
            "code = json_extract(j.value, '$[3]'), message = json_extract(j.value, '$[4]'), "
            "external_id = json_extract(j.value, '$[5]') "
            "FROM json_each(?) AS j WHERE attempts.id = json_extract(j.value, '$[0]')",
            (json.dumps(finishes, ensure_ascii=False),))
    shapes: dict[tuple[str, ...], list[list[Any]]] = {}
    for row in rows:
        shapes.setdefault(row.columns, []).append([row.operation, *row.values])
    for columns, values in shapes.items():
        sets = ", ".join(f"{name} = json_extract(j.value, '$[{i + 1}]')" for i, name in enumerate(columns))
        conn.execute(f"UPDATE operations SET {sets} FROM json_each(?) AS j "
                     "WHERE operations.operation = json_extract(j.value, '$[0]')",
                     (json.dumps(values, ensure_ascii=False),))
