"""The commands table's rules on SQLite and PostgreSQL: queued → delivered → done / failed / expired, a result
recorded once, expiry by the shared periodic job (audited), nothing expired ever handed out."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from provisioning import tenants
from provisioning.commands import service
from provisioning.commands.models import Command
from provisioning.db.models import AuditEntry, Terminal
from provisioning.periodic import JOBS, claim_and_run

NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def terminal_id(database) -> int:
    with database.session() as session:
        dealer = tenants.create_dealer(session, "acme", "Acme")
        return tenants.add_terminal(session, dealer, "10001", "Tverskaya 1", "Europe/Moscow", "", "test").id


def _queue(database, terminal_id: int, kind: str = "screenshot", ttl: float = 3600, **args) -> str:
    with database.session() as session:
        terminal = session.get(Terminal, terminal_id)
        return service.queue(session, terminal, kind, args, "tech@acme.test", NOW, dt.timedelta(seconds=ttl)).id


def _claim(database, terminal_id: int, now: dt.datetime = NOW) -> list[str]:
    with database.session() as session:
        return [d.id for d in service.claim(session, terminal_id, now)]


def _row(database, command_id: str) -> Command:
    with database.session() as session:
        return session.get(Command, command_id)


def test_a_queued_command_is_handed_out_once_then_again_only_when_left_unanswered(database, terminal_id):
    command_id = _queue(database, terminal_id, "lock", message="  Closed today  ")
    assert command_id in _claim(database, terminal_id)
    row = _row(database, command_id)
    assert row.state == "delivered" and row.deliveries == 1 and json.loads(row.arguments) == {"message": "Closed today"}
    assert command_id not in _claim(database, terminal_id, NOW + dt.timedelta(seconds=5))
    later = NOW + service.REDELIVER_AFTER + dt.timedelta(seconds=1)
    assert command_id in _claim(database, terminal_id, later) and _row(database, command_id).deliveries == 2


def test_a_result_is_recorded_once_and_a_repeat_changes_nothing(database, terminal_id):
    command_id = _queue(database, terminal_id, "log_tail", lines=3)
    _claim(database, terminal_id)
    with database.session() as session:
        service.record_result(session, terminal_id, command_id, "done", {"lines": ["a", "b"]}, NOW)
    with database.session() as session:
        service.record_result(session, terminal_id, command_id, "failed", {"error": "late"}, NOW)
    row = _row(database, command_id)
    assert row.state == "done" and json.loads(row.result) == {"lines": ["a", "b"]}
    with database.session() as session:
        results = session.scalars(select(AuditEntry).where(AuditEntry.action == "command.result",
                                                           AuditEntry.after.contains(command_id))).all()
    assert len(results) == 1 and results[0].actor == "terminal 10001"


def test_a_result_for_another_terminals_command_is_refused(database, terminal_id):
    command_id = _queue(database, terminal_id)
    with database.session() as session:
        other = tenants.add_terminal(session, tenants.dealer_by_slug(session, "acme"), "10002", "", "Europe/Moscow",
                                     "", "test").id
    with database.session() as session, pytest.raises(service.CommandError) as refused:
        service.record_result(session, other, command_id, "done", {}, NOW)
    assert refused.value.status == 404 and _row(database, command_id).state == "queued"


def test_the_periodic_job_expires_what_nobody_collected_and_it_is_never_handed_out(database, dealer_state,
                                                                                    terminal_id):
    with database.session() as session:
        # a terminal of its own: nothing other tests queued is in its way
        terminal_id = tenants.add_terminal(session, tenants.dealer_by_slug(session, "acme"), "10003", "",
                                           "Europe/Moscow", "", "test").id
    unanswered = _queue(database, terminal_id, ttl=60)
    _claim(database, terminal_id)
    never = _queue(database, terminal_id, ttl=60)  # the terminal did not poll again in time
    after = NOW + dt.timedelta(seconds=61)
    assert _claim(database, terminal_id, after) == []  # past its expiry: not handed out, job or no job
    job, _ = JOBS["expire_commands"]
    assert claim_and_run(database, "expire_commands", job, 30, dealer_state, "test", now=after + dt.timedelta(hours=1))
    assert _row(database, unanswered).state == _row(database, never).state == "expired"
    assert "no result" in _row(database, unanswered).result and "not delivered" in _row(database, never).result
    with database.session() as session:
        expired = session.scalars(select(AuditEntry).where(AuditEntry.action == "command.expire")).all()
    assert {json.loads(e.before)["id"] for e in expired} >= {unanswered, never}
    # what the terminal did after all is what happened: a late result replaces "expired" once it was delivered
    with database.session() as session:
        service.record_result(session, terminal_id, unanswered, "done", {"width": 1}, after)
        service.record_result(session, terminal_id, never, "done", {"width": 1}, after)
    assert _row(database, unanswered).state == "done" and _row(database, never).state == "expired"


@pytest.mark.parametrize("kind, args, error", [("format_disk", {}, "unknown command"),
                                               ("lock", {"message": "x" * 201}, "at most 200"),
                                               ("log_tail", {"lines": 0}, "from 1 to 1000")])
def test_bad_commands_are_refused_with_the_reason(database, terminal_id, kind, args, error):
    with database.session() as session, pytest.raises(service.CommandError, match=error):
        service.queue(session, session.get(Terminal, terminal_id), kind, args, "t", NOW)
