"""Storing one uploaded journal batch, on SQLite (row by row in Python) and PostgreSQL (one statement parsing the
batch's text): the same rows stored, a repeat changes nothing, a later change wins and an older one never does,
and every malformed batch is refused with the same status and nothing stored."""

from __future__ import annotations

import json
from itertools import count
from typing import Any

import pytest
from sqlalchemy import text

from provisioning import tenants
from provisioning.journal.ingest import MAX_ROWS, BatchRefused, Stored, store_text

TABLES = ("journal_operations", "journal_operation_versions", "journal_bills", "journal_attempts",
          "journal_incidents", "journal_encashments", "journal_positions")
_numbers = count(30001)


@pytest.fixture
def terminal(database) -> dict[str, Any]:
    """A terminal of its own for each test (the module's database is shared)."""
    number = str(next(_numbers))
    with database.session() as session:
        dealer = tenants.create_dealer(session, f"d{number}", "Dealer")
        made = tenants.add_terminal(session, dealer, number, "", "Europe/Moscow", "", "t")
        return {"dealer": dealer.id, "id": made.id, "number": number}


def _operation(number: str, seq: int, state: str = "delivered", cash: Any = 15000, **extra: Any) -> dict[str, Any]:
    row = {"operation": 1, "terminal": number, "idempotency_key": f"T{number}-0000000001-000042", "provider": "mts",
           "account": "9123456789", "currency": "RUB", "state": state, "cash": cash, "fee": 300, "credited": 14700,
           "offline": 0, "created_at": "2026-01-15T12:00:40.000000+03:00", "committed_at": None,
           "finished_at": None, "commit_reason": None, "attempts": 1, "gateway": "osmp", "external_id": "prv1",
           "last_outcome": "approved", "attention_reason": None, "receipt_status": "printed",
           "fields": json.dumps({"account": "9123456789"}), "details": json.dumps({"subscriber": "Абонент 6789"}),
           "change_seq": seq}
    return {**row, **extra}


def _bill(number: str, seq: int, local_id: int = 1) -> dict[str, Any]:
    return {"id": local_id, "operation": 1, "denomination": 10000, "validator": "ccnet", "event_id": "e1",
            "stacked_at": "2026-01-15T12:00:42.000000+03:00", "encashment": None, "change_seq": seq,
            "op_key": f"T{number}-0000000001-000042"}


def _batch(number: str, after: int, last: int, **rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"format": 1, "terminal": number, "after": after, "last": last, "rows": rows}


def _send(database, terminal, document: Any) -> Stored:
    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    with database.engine.begin() as connection:
        return store_text(connection, terminal["dealer"], terminal["id"], terminal["number"], raw)


def _held(database, terminal) -> dict[str, list[tuple[Any, ...]]]:
    """Everything the service holds for the terminal (ids and receive times aside)."""
    held = {}
    with database.engine.connect() as connection:
        for table in TABLES:
            columns = [c for c in connection.execute(text(f"SELECT * FROM {table} WHERE 1 = 0")).keys()
                       if c not in ("id", "received_at", "updated_at")]
            held[table] = sorted(tuple(r) for r in connection.execute(text(
                f"SELECT {', '.join(columns)} FROM {table} WHERE terminal_id = :t"), {"t": terminal["id"]}))
    return held


def test_a_batch_is_stored_and_its_repeat_changes_nothing(database, terminal):
    number = terminal["number"]
    document = _batch(number, 0, 3, operations=[_operation(number, 3)], bills=[_bill(number, 1), _bill(number, 2, 2)])
    assert _send(database, terminal, document) == Stored(3, 3)
    first = _held(database, terminal)
    assert [len(first[t]) for t in TABLES] == [1, 1, 2, 0, 0, 0, 1]
    with database.engine.begin() as connection:  # the terminal lost its position: the same batch again
        connection.execute(text("UPDATE journal_positions SET acknowledged = 0, rows = 0 WHERE terminal_id = :t"),
                           {"t": terminal["id"]})
    assert _send(database, terminal, document) == Stored(3, 3)
    again = _held(database, terminal)
    assert {t: again[t] for t in TABLES[:-1]} == {t: first[t] for t in TABLES[:-1]}
    with database.engine.connect() as connection:
        record, created = connection.execute(text(
            "SELECT v.record, o.created_utc FROM journal_operation_versions v JOIN journal_operations o "
            "ON o.op_key = v.op_key WHERE v.terminal_id = :t"), {"t": terminal["id"]}).one()
    assert json.loads(record) == document["rows"]["operations"][0]  # the row as the terminal sent it
    assert str(created).replace("T", " ").startswith("2026-01-15 09:00:40")  # its own zone's time, in UTC


def test_fields_and_details_arrive_as_json_objects(database, terminal):
    number = terminal["number"]
    sent = [_operation(number, 1),  # as the journal holds them: JSON text
            _operation(number, 2, operation=2, idempotency_key=f"T{number}-0000000002-000043", details={"fee": 1},
                       fields=None)]  # already decoded, and missing
    assert _send(database, terminal, _batch(number, 0, 2, operations=sent)).rows == 2
    with database.engine.connect() as connection:
        stored = connection.execute(text("SELECT fields, details FROM journal_operations WHERE terminal_id = :t "
                                         "ORDER BY operation"), {"t": terminal["id"]}).all()
    assert [(json.loads(f), json.loads(d)) for f, d in stored] == [
        ({"account": "9123456789"}, {"subscriber": "Абонент 6789"}), ({}, {"fee": 1})]


def test_a_later_change_wins_and_an_older_one_never_does(database, terminal):
    number = terminal["number"]
    assert _send(database, terminal, _batch(number, 0, 5, operations=[_operation(number, 5, "committed")])).rows == 1
    assert _send(database, terminal, _batch(number, 5, 9, operations=[_operation(number, 9, "delivered")])).rows == 1
    # an older version arriving late (a terminal restored from an older copy sends it all again)
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE journal_positions SET acknowledged = 0 WHERE terminal_id = :t"),
                           {"t": terminal["id"]})
    assert _send(database, terminal, _batch(number, 0, 5, operations=[_operation(number, 5, "committed")])).rows == 1
    with database.engine.connect() as connection:
        state = connection.execute(text("SELECT state, change_seq FROM journal_operations WHERE terminal_id = :t"),
                                   {"t": terminal["id"]}).one()
        versions = connection.execute(text("SELECT state FROM journal_operation_versions WHERE terminal_id = :t "
                                           "ORDER BY change_seq"), {"t": terminal["id"]}).scalars().all()
    assert tuple(state) == ("delivered", 9)
    assert versions == ["committed", "delivered"]


def test_a_terminal_ahead_of_the_service_is_told_where_to_send_from(database, terminal):
    number = terminal["number"]
    assert _send(database, terminal, _batch(number, 0, 2, bills=[_bill(number, 1), _bill(number, 2, 2)])).rows == 2
    ahead = _send(database, terminal, _batch(number, 40, 41, bills=[_bill(number, 41, 3)]))
    assert ahead == Stored(2, 0, resend_from=2)
    assert len(_held(database, terminal)["journal_bills"]) == 2


def _bad_batches(number: str) -> list[tuple[str, Any, int]]:
    """(what is wrong, the request body, the status it must get)."""
    good_op = _operation(number, 1)
    no_state = {k: v for k, v in good_op.items() if k != "state"}
    return [
        ("not JSON", b"{\"format\": 1,", 400),
        ("not an object", [1, 2], 400),
        ("another format", {**_batch(number, 0, 1, operations=[good_op]), "format": 2}, 400),
        ("another terminal", {**_batch(number, 0, 1, operations=[good_op]), "terminal": "99"}, 400),
        ("after not a whole number", _batch(number, "0", 1, operations=[good_op]), 400),  # type: ignore[arg-type]
        ("last below 0", _batch(number, 0, -1, operations=[good_op]), 400),
        ("last a fraction", _batch(number, 0, 1.5, operations=[good_op]), 400),  # type: ignore[arg-type]
        ("rows not lists", {**_batch(number, 0, 1), "rows": {"operations": {"a": 1}}}, 400),
        ("cash below 0", _batch(number, 0, 1, operations=[_operation(number, 1, cash=-5)]), 400),
        ("cash as text", _batch(number, 0, 1, operations=[_operation(number, 1, cash="lots")]), 400),
        ("a row without its state", _batch(number, 0, 1, operations=[no_state]), 400),
        ("a time without its zone",
         _batch(number, 0, 1, operations=[_operation(number, 1, created_at="2026-01-15T12:00:40")]), 400),
        ("a change outside the batch", _batch(number, 0, 1, operations=[_operation(number, 7)]), 400),
        ("a change at its start", _batch(number, 0, 2, operations=[_operation(number, 0)]), 400),
        ("details not JSON", _batch(number, 0, 1, operations=[_operation(number, 1, details="{oops")]), 400),
        ("fields not an object", _batch(number, 0, 1, operations=[_operation(number, 1, fields="[1, 2]")]), 400),
        ("too many rows", _batch(number, 0, 1, incidents=[{}] * (MAX_ROWS + 1)), 413),
    ]


@pytest.mark.parametrize("case", range(len(_bad_batches("0"))), ids=[c[0] for c in _bad_batches("0")])
def test_a_malformed_batch_is_refused_and_stores_nothing(database, terminal, case):
    what, document, status = _bad_batches(terminal["number"])[case]
    with pytest.raises(BatchRefused) as refused:
        _send(database, terminal, document)
    assert refused.value.status == status, f"{what}: {refused.value.reason}"
    held = _held(database, terminal)
    assert all(not held[t] for t in TABLES[:-1]), what
    assert all(row[1] == 0 for row in held["journal_positions"]), what  # the position has not moved
