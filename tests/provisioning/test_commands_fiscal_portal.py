"""The portal's fiscal remote commands (in-process portal, SQLite and PostgreSQL): "Open fiscal intents" from a
terminal's page shows what the terminal reported; "Resolve an intent" is an admin-only form with an error beside
each wrong field, queued with zoned arguments and audited, which the terminal's own handler then carries out on its
journal (the link itself is test_remote_commands.py's)."""

from __future__ import annotations

import itertools
import json
import re
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from kiosk.clock import ManualClock
from kiosk.dealer_link import fiscal_commands  # noqa: F401  (registers the terminal's handlers)
from kiosk.dealer_link.commands import HANDLERS, CommandContext
from kiosk.fees import Split
from kiosk.fiscal.ledger import REPLACED, FiscalLedger
from kiosk.fiscal.support import open_intents
from kiosk.money import Money
from kiosk.offline_queue.journal import Journal
from provisioning import tenants
from provisioning.app import create_app
from provisioning.commands import service
from provisioning.commands.models import Command
from provisioning.db.models import AuditEntry, Terminal, utcnow

PASSWORD = "fiscal commands password"
ZONE = ZoneInfo("Europe/Moscow")
_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def app(dealer_state, database):
    with database.session() as session:
        dealer = tenants.create_dealer(session, "acme", "Acme")
        tenants.add_user(session, dealer, "admin@acme.test", PASSWORD, "admin", "test")
        tenants.add_user(session, dealer, "tech@acme.test", PASSWORD, "technician", "test")
    return create_app(dealer_state, database)


@pytest.fixture
def terminal_id(database) -> int:
    """An enrolled terminal of acme (its page offers the commands)."""
    with database.session() as session:
        owner = tenants.dealer_by_slug(session, "acme")
        terminal = tenants.add_terminal(session, owner, f"F-{next(_numbers)}", "Test st", "Europe/Moscow", "",
                                        "test")
        terminal.status = "enrolled"
        return terminal.id


@pytest.fixture
def journal(tmp_path) -> Any:
    """The terminal's journal with a payment whose receipt intent is held by a replaced fiscal drive."""
    made = Journal(tmp_path / "journal.sqlite", "10001", "RUB", ManualClock(ZONE).now)
    ledger = FiscalLedger(made)
    ledger.start()
    op = made.open_operation("mts", "9123456789", {"account": "9123456789"}, max_cash=1_500_000)
    made.record_bill(op.operation, 15000, "virtual", "bill-1")
    made.commit(op.operation, Split(Money(15000), Money(300), Money(14700)), "pay")
    row = ledger.intend(op.operation, "receipt", "9999078900011111", 4, 15000)
    ledger.unresolved(row, f"{REPLACED} (9999078900011111 → 9999078900077777)")
    yield made
    made.close()


def signed_in(app, email: str) -> tuple[TestClient, str]:
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 303
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/terminals").text)
    assert found
    return client, found.group(1)


def run_on_terminal(database, terminal_id: int, journal: Journal) -> list[str]:
    """Hand the queued commands to the terminal's own handlers (as its poller does) and report their results."""
    with database.session() as session:
        deliveries = service.claim(session, terminal_id, utcnow())
    terminal = SimpleNamespace(journal=journal, config=SimpleNamespace(timezone=ZONE),
                               receipts=SimpleNamespace(fiscal=SimpleNamespace(lock=threading.Lock())),
                               between_payments=lambda label, work: work())
    for delivery in deliveries:
        ctx = CommandContext(terminal=terminal, command_id=delivery.id, kind=delivery.kind,  # type: ignore[arg-type]
                             folder=Path("."), stopping=threading.Event())
        result = HANDLERS[delivery.kind](ctx, delivery.arguments)
        with database.session() as session:
            service.record_result(session, terminal_id, delivery.id, "done", result, utcnow())
    return [d.id for d in deliveries]


def commands(database, terminal_id: int) -> list[Command]:
    with database.session() as session:
        return list(session.scalars(select(Command).where(Command.terminal_id == terminal_id)
                                    .order_by(Command.created_at)))


def test_open_fiscal_intents_shows_the_terminals_answer_with_a_way_to_resolve_each(app, database, terminal_id,
                                                                                    journal):
    client, csrf = signed_in(app, "admin@acme.test")
    page = client.get(f"/terminals/{terminal_id}").text
    assert 'value="fiscal_intents">Open fiscal intents</button>' in page and 'id="fiscal-resolve-form"' in page
    reply = client.post(f"/terminals/{terminal_id}/commands", data={"csrf": csrf, "kind": "fiscal_intents"})
    assert reply.status_code == 303
    [command_id] = run_on_terminal(database, terminal_id, journal)
    [intent] = open_intents(journal)
    shown = client.get(f"/terminals/{terminal_id}/commands/{command_id}").text
    assert 'id="fiscal-intents"' in shown and f'<tr data-intent="{intent["intent"]}">' in shown
    assert "9999078900011111" in shown and "150.00" in shown
    assert f'href="/terminals/{terminal_id}/fiscal-resolve?intent={intent["intent"]}"' in shown
    form = client.get(f"/terminals/{terminal_id}/fiscal-resolve?intent={intent['intent']}").text
    assert f'name="intent" value="{intent["intent"]}"' in form and 'value="Europe/Moscow"' in form


def test_the_resolve_form_says_what_is_wrong_beside_each_field_and_queues_nothing(app, database, terminal_id):
    client, csrf = signed_in(app, "admin@acme.test")
    url = f"/terminals/{terminal_id}/fiscal-resolve"
    reply = client.post(url, data={"csrf": csrf, "intent": "seven", "made": "made", "fd": "", "fp": "-1",
                                   "at": "30.11.2026 14:05", "zone": "Mars/Olympus"})
    assert reply.status_code == 400
    page = reply.text
    for field, words in (("intent", "Enter a whole number."), ("fd", "Enter a whole number."),
                         ("fp", "Enter a whole number."), ("zone", "Enter a time zone such as Europe/Moscow.")):
        assert f'id="fr-{field}-error">{words}</span>' in page, field
        assert re.search(f'id="fr-{field}"[^>]*aria-invalid="true"', page), field
    assert 'value="seven"' in page and 'value="Mars/Olympus"' in page  # kept as typed, to correct
    reply = client.post(url, data={"csrf": csrf, "intent": "3", "at": "30.11.2026 14:05", "zone": "Europe/Moscow"})
    assert 'id="fr-made-error">Choose whether the old drive made it.</span>' in reply.text
    assert "fr-intent-error" not in reply.text and "fr-fd-error" not in reply.text  # not made: no FD asked
    reply = client.post(url, data={"csrf": csrf, "intent": "3", "made": "made", "fd": "5", "fp": "77",
                                   "at": "2026-11-30 14:05+03:00", "zone": "Europe/Moscow"})
    assert 'id="fr-at-error">' in reply.text  # the zone field says the zone, not a typed offset
    ru = client.post(url, data={"csrf": csrf, "intent": "x", "made": "not_made"}, headers={"Accept-Language": "ru"})
    assert 'id="fr-intent-error">Введите целое число.</span>' in ru.text and "Старый ФН" in ru.text
    assert commands(database, terminal_id) == []


def test_an_admin_resolves_an_intent_audited_and_the_terminal_settles_it(app, database, terminal_id, journal):
    [intent] = open_intents(journal)
    client, csrf = signed_in(app, "admin@acme.test")
    reply = client.post(f"/terminals/{terminal_id}/fiscal-resolve",
                        data={"csrf": csrf, "intent": str(intent["intent"]), "made": "made", "fd": "5", "fp": "77",
                              "at": "2026-11-30 14:05", "zone": "Europe/Moscow"})
    assert reply.status_code == 303
    [command] = commands(database, terminal_id)
    assert reply.headers["location"] == f"/terminals/{terminal_id}/commands/{command.id}"
    arguments = {"intent": intent["intent"], "made": True, "fd": 5, "fp": 77, "at": "2026-11-30T14:05:00+03:00",
                 "by": "admin@acme.test"}
    assert (command.kind, json.loads(command.arguments)) == ("fiscal_resolve", arguments)
    with database.session() as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "command.queue")
                                  .order_by(AuditEntry.id.desc()).limit(1))
        assert entry.actor == "admin@acme.test" and json.loads(entry.after)["at"] == "2026-11-30T14:05:00+03:00"
    run_on_terminal(database, terminal_id, journal)
    assert open_intents(journal) == []
    operation = journal.get(intent["operation"]).details["fiscal"]
    assert (operation["status"], operation["fd"], operation["fp"]) == ("done", 5, 77)
    page = client.get(reply.headers["location"]).text
    assert 'id="command-state" class="state-done"' in page and "admin@acme.test" in page


def test_a_technician_may_ask_for_the_intents_but_never_resolve_one(app, database, terminal_id):
    client, csrf = signed_in(app, "tech@acme.test")
    page = client.get(f"/terminals/{terminal_id}").text
    assert 'value="fiscal_intents"' in page and "fiscal-resolve-form" not in page
    good = {"csrf": csrf, "intent": "1", "made": "not_made"}
    assert client.get(f"/terminals/{terminal_id}/fiscal-resolve").status_code == 403
    assert client.post(f"/terminals/{terminal_id}/fiscal-resolve", data=good).status_code == 403
    sneaked = client.post(f"/terminals/{terminal_id}/commands", data={"csrf": csrf, "kind": "fiscal_resolve"})
    assert sneaked.status_code == 403  # not round the form's permission through the generic button either
    assert client.post(f"/terminals/{terminal_id}/commands",
                       data={"csrf": csrf, "kind": "fiscal_intents"}).status_code == 303
    assert [c.kind for c in commands(database, terminal_id)] == ["fiscal_intents"]
    with database.session() as session:
        assert session.get(Terminal, terminal_id).status == "enrolled"
