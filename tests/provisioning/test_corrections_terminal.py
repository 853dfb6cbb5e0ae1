"""Corrections end to end (SQLite and PostgreSQL): requested and approved at a real dealer service, carried to an
enrolled in-process terminal as a remote command over its signed mTLS link, run there between payments against its
gateway, the result back with the command and the journal upload, and told by the payment's story."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from correction_support import dealer
from correction_terminal import declined_payment, enrolled_kiosk, uploaded_state

from kiosk.story import from_journal
from provisioning.corrections import service
from provisioning.corrections.models import Correction
from provisioning.db.models import Terminal
from provisioning.journal import lookup
from provisioning.server import DealerServer

REFUND = {"how": "cash", "returned_by": "Petrova", "returned_at": "2026-11-30T12:00:00+03:00"}


@pytest.fixture(scope="module")
def server(dealer_state, database) -> Iterator[DealerServer]:
    dealer(database)
    with DealerServer(dealer_state, periodic_tick=0.2) as running:
        yield running


def _state(database, correction_id: int) -> str:
    with database.session() as session:
        return service.one(session, session.get(Correction, correction_id).dealer_id, correction_id,
                           dt.datetime.now(dt.UTC)).state


def _request(database, kiosk, operation: int, kind: str, given: dict) -> int:  # noqa: ANN001
    """Support requests a correction once the service has the payment as needing attention."""
    assert kiosk.turn_until(lambda: uploaded_state(database, kiosk.terminal_id, operation) == "needs_attention")
    with database.session() as session:
        terminal = session.get(Terminal, kiosk.terminal_id)
        return service.request(session, terminal, operation, kind, given, "payer came back", "support@acme.test",
                               dt.datetime.now(dt.UTC)).id


def test_an_approved_refund_runs_on_the_terminal_and_the_story_tells_it(server, database, config, monkeypatch):
    with enrolled_kiosk(server, database, config, monkeypatch) as kiosk:
        operation = declined_payment(kiosk)
        correction_id = _request(database, kiosk, operation, "refund", REFUND)
        kiosk.turn_until(lambda: False, seconds=1.0)
        assert kiosk.terminal.journal.get(operation).state == "needs_attention"  # nothing runs unapproved
        with database.session() as session:
            service.approve(session, session.get(Correction, correction_id), "boss@acme.test", dt.datetime.now(dt.UTC))
        server.app.state.command_bell.ring(kiosk.terminal_id)
        assert kiosk.turn_until(lambda: _state(database, correction_id) in ("done", "failed"))
        assert _state(database, correction_id) == "done"
        op = kiosk.terminal.journal.get(operation)
        assert op.state == "refunded" and op.details["corrections"][-1]["returned_by"] == "Petrova"
        assert kiosk.turn_until(lambda: uploaded_state(database, kiosk.terminal_id, operation) == "refunded")
        with database.session() as session:
            terminal = session.get(Terminal, kiosk.terminal_id)
            (_, row), = lookup.by_number(session, terminal.dealer_id, terminal.number, operation)
            story = lookup.story(session, terminal, row)
            story.corrections = service.story_events(service.for_payment(session, terminal.id, operation,
                                                                         dt.datetime.now(dt.UTC)))
            told = "\n".join(story.lines())
        assert "refunded" in told and "returned by Petrova" in told and "approved by boss@acme.test" in told
        terminal_story = "\n".join(from_journal(kiosk.terminal.journal, operation).lines())
        assert "returned by Petrova" in terminal_story  # the technician at the terminal reads the same facts


def test_a_reprocess_runs_at_once_and_never_twice(server, database, config, monkeypatch):
    with enrolled_kiosk(server, database, config, monkeypatch) as kiosk:
        operation = declined_payment(kiosk)
        correction_id = _request(database, kiosk, operation, "reprocess", {})
        server.app.state.command_bell.ring(kiosk.terminal_id)
        assert kiosk.turn_until(lambda: _state(database, correction_id) in ("done", "failed"))
        # declined again by the provider (the account is still wrong): the terminal says so, and pays nothing
        attempts = [a["verb"] for a in kiosk.terminal.journal.attempts(operation)]
        assert kiosk.terminal.journal.get(operation).state == "needs_attention" and attempts.count("pay") == 2
