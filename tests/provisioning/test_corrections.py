"""Corrections on the dealer service (SQLite and PostgreSQL): who may request and approve, what is sent to the terminal
and when, the terminal's result taken from its command, every step audited; the portal form and pages, the API and
the CLI under the same rules."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from correction_support import PASSWORD, dealer, uploaded
from sqlalchemy import select
from starlette.testclient import TestClient

from provisioning.app import create_app
from provisioning.cli import main as dealer_main
from provisioning.commands import service as commands
from provisioning.commands.models import Command
from provisioning.corrections import service
from provisioning.corrections.models import Correction
from provisioning.db.models import AuditEntry, Terminal

REFUND = {"how": "cash", "returned_by": "Petrova", "returned_at": "2026-11-30T12:00:00+03:00"}


@pytest.fixture(scope="module")
def people(database) -> None:
    dealer(database)


@pytest.fixture(scope="module")
def app(dealer_state, database, people):
    return create_app(dealer_state, database)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _request(database, terminal_id: int, operation: int, kind: str, given: dict[str, Any] | None = None,
             actor: str = "support@acme.test") -> int:
    with database.session() as session:
        terminal = session.get(Terminal, terminal_id)
        return service.request(session, terminal, operation, kind, given or {}, "payer called", actor, _now()).id


def _row(database, correction_id: int) -> tuple[Correction, Command | None]:
    with database.session() as session:
        found = service.one(session, session.get(Correction, correction_id).dealer_id, correction_id, _now())
        command = session.get(Command, found.command_id) if found.command_id else None
        session.expunge_all()
        return found, command


def test_a_refund_waits_for_a_second_person_and_then_goes_to_the_terminal(database, people, tmp_path):
    terminal_id, _, operation = uploaded(database, tmp_path, "delivered")
    correction_id = _request(database, terminal_id, operation, "refund", REFUND)
    found, command = _row(database, correction_id)
    assert found.state == "requested" and found.needs_approval and command is None
    with database.session() as session:
        row = session.get(Correction, correction_id)
        with pytest.raises(service.CorrectionError) as own:
            service.approve(session, row, "Support@acme.test", _now())  # the same person, however spelt
        assert own.value.status == 403
    with database.session() as session:
        service.approve(session, session.get(Correction, correction_id), "boss@acme.test", _now())
    found, command = _row(database, correction_id)
    assert found.state == "sent" and found.decided_by == "boss@acme.test"
    arguments = json.loads(command.arguments)
    assert command.kind == "correction" and arguments["kind"] == "refund" and arguments["approved"] is True
    assert arguments["returned_by"] == "Petrova" and arguments["operation"] == operation and arguments["op_key"]


def test_a_rejected_correction_is_never_sent(database, people, tmp_path):
    terminal_id, _, operation = uploaded(database, tmp_path, "needs_attention")
    correction_id = _request(database, terminal_id, operation, "reroute", {"gateway": "other"})
    with database.session() as session:
        service.reject(session, session.get(Correction, correction_id), "boss@acme.test", _now())
    found, command = _row(database, correction_id)
    assert found.state == "rejected" and command is None
    with database.session() as session, pytest.raises(service.CorrectionError):
        service.approve(session, session.get(Correction, correction_id), "chief@acme.test", _now())


def test_what_moves_no_money_is_sent_at_once(database, people, tmp_path):
    terminal_id, _, operation = uploaded(database, tmp_path, "needs_attention")
    correction_id = _request(database, terminal_id, operation, "account", {"account": "9031112233"})
    found, command = _row(database, correction_id)
    assert not found.needs_approval and found.state == "sent" and json.loads(command.arguments)["approved"] is False
    # the next one waits until this one is finished
    with pytest.raises(service.CorrectionError, match="not finished"):
        _request(database, terminal_id, operation, "reprocess")


def test_an_account_change_of_a_booked_payment_needs_approval(database, people, tmp_path):
    terminal_id, _, operation = uploaded(database, tmp_path, "delivered")
    correction_id = _request(database, terminal_id, operation, "account", {"account": "9031112233"})
    assert _row(database, correction_id)[0].needs_approval


@pytest.mark.parametrize(("state", "kind", "given", "why"), [
    ("delivered", "reprocess", {}, "only for a payment"),
    ("delivered", "reroute", {"gateway": "other"}, "only for a payment"),
    ("needs_attention", "refund", {"how": "cash"}, "returned_by"),
    ("needs_attention", "refund", {**REFUND, "returned_at": "2026-11-30T12:00"}, "time zone"),
    ("needs_attention", "account", {"account": "two words"}, "without spaces"),
    ("needs_attention", "reroute", {}, "gateway"),
])
def test_a_correction_the_payment_cannot_take_is_refused_with_the_reason(database, people, tmp_path, state, kind,
                                                                         given, why):
    terminal_id, _, operation = uploaded(database, tmp_path, state)
    with pytest.raises(service.CorrectionError, match=why):
        _request(database, terminal_id, operation, kind, given)


def test_the_terminals_result_finishes_the_correction_and_every_step_is_audited(database, people, tmp_path):
    terminal_id, number, operation = uploaded(database, tmp_path, "needs_attention")
    correction_id = _request(database, terminal_id, operation, "reprocess")
    command_id = _row(database, correction_id)[1].id
    with database.session() as session:
        commands.record_result(session, terminal_id, command_id, "done", {"state": "delivered"}, _now())
    found, _ = _row(database, correction_id)
    assert found.state == "done" and json.loads(found.result)["state"] == "delivered"
    assert [s["step"] for s in service.steps(found)] == ["requested", "sent to the terminal", "done"]
    with database.session() as session:
        actions = [a for a, in session.execute(select(AuditEntry.action).where(
            AuditEntry.target == f"terminal {number} operation {operation}"))]
    assert actions == ["correction.request", "correction.result"]


# -- the portal and the API -------------------------------------------------------------------------------
def _client(app, email: str) -> tuple[TestClient, str]:
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 303
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/corrections/new").text)
    assert csrf
    return client, csrf.group(1)


def test_portal_support_requests_a_refund_and_a_second_person_approves_it(app, database, people, tmp_path):
    terminal_id, number, operation = uploaded(database, tmp_path, "delivered")
    support, support_csrf = _client(app, "support@acme.test")
    story = support.get(f"/lookup/terminals/{terminal_id}/operations/{operation}").text
    assert 'id="offer-refund"' in story and 'id="offer-reroute"' not in story  # what a booked payment may take
    form = support.get(f"/corrections/new?terminal={number}&operation={operation}&kind=refund&note=wrong+number")
    assert form.status_code == 200 and 'value="refund" checked' in form.text and "wrong number" in form.text
    reply = support.post("/corrections", data={"csrf": support_csrf, "terminal": number, "operation": operation,
                                               "kind": "refund", **REFUND})
    assert reply.status_code == 303
    page = reply.headers["location"]
    assert "correction-approve" not in support.get(page).text  # support has no approving permission
    assert support.post(page + "/approve", data={"csrf": support_csrf}).status_code == 403
    boss, boss_csrf = _client(app, "boss@acme.test")
    assert 'id="corrections-waiting"' in boss.get("/corrections").text
    assert boss.post(page + "/approve", data={"csrf": boss_csrf}).status_code == 303
    assert "sent to the terminal" in boss.get(page).text
    story = support.get(f"/lookup/terminals/{terminal_id}/operations/{operation}").text
    assert "(refund): approved by boss@acme.test" in story


def test_portal_form_says_why_a_correction_is_refused(app, database, people, tmp_path):
    terminal_id, number, operation = uploaded(database, tmp_path, "delivered")
    support, csrf = _client(app, "support@acme.test")
    reply = support.post("/corrections", data={"csrf": csrf, "terminal": number, "operation": operation,
                                               "kind": "reprocess"})
    assert reply.status_code == 200 and 'id="correction-error"' in reply.text and "only for a payment" in reply.text


def test_api_requests_and_approves_under_the_same_rules(app, database, people, tmp_path):
    _, number, operation = uploaded(database, tmp_path, "needs_attention")
    boss, boss_csrf = _client(app, "boss@acme.test")
    body = {"terminal": number, "operation": operation, "kind": "refund", **REFUND}
    assert boss.post("/api/v1/corrections", json=body).status_code == 400  # no CSRF token
    made = boss.post("/api/v1/corrections", json=body, headers={"X-CSRF-Token": boss_csrf})
    assert made.status_code == 201 and made.json()["state"] == "requested"
    url = f"/api/v1/corrections/{made.json()['id']}"
    own = boss.post(url + "/approve", headers={"X-CSRF-Token": boss_csrf})
    assert own.status_code == 403 and own.json()["error"] == "correction_own"
    chief, chief_csrf = _client(app, "chief@acme.test")
    approved = chief.post(url + "/approve", headers={"X-CSRF-Token": chief_csrf})
    assert approved.status_code == 200 and approved.json()["state"] == "sent"
    steps = [s["step"] for s in chief.get(url).json()["steps"]]
    assert steps == ["requested", "approved", "sent to the terminal"]
    assert any(c["id"] == made.json()["id"] for c in chief.get("/api/v1/corrections").json()["corrections"])


def test_cli_requests_approves_and_shows(database, people, dealer_state, tmp_path, capsys):
    _, number, operation = uploaded(database, tmp_path, "needs_attention")
    state = ["--state", str(dealer_state.state_dir)]
    assert dealer_main([*state, "correction", "request", "--dealer", "acme", "--terminal", number, "--operation",
                        str(operation), "--kind", "reroute", "--gateway", "other", "--as", "support@acme.test",
                        "--format", "json"]) == 0
    correction_id = json.loads(capsys.readouterr().out)[0]["id"]
    assert dealer_main([*state, "correction", "approve", str(correction_id), "--dealer", "acme",
                        "--as", "support@acme.test"]) == 2
    assert "second person" in capsys.readouterr().err
    assert dealer_main([*state, "correction", "approve", str(correction_id), "--dealer", "acme",
                        "--as", "boss@acme.test"]) == 0
    assert dealer_main([*state, "correction", "show", str(correction_id), "--dealer", "acme"]) == 0
    shown = capsys.readouterr().out
    assert "reroute" in shown and "approved  boss@acme.test" in shown and "sent to the terminal" in shown
    assert dealer_main([*state, "lookup", "--terminal", number, "--operation", str(operation)]) == 0
    assert f"correction {correction_id} (reroute): approved by boss@acme.test" in capsys.readouterr().out
