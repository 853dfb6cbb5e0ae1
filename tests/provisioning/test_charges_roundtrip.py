"""The registry round trip (issue 17): a provider's charge registry is uploaded; a terminal's jsonapi gateway checks
the account against a real `kiosk-dealer` server and is shown the debt by service; the terminal's journal takes a
part payment split across the services with meter readings, the gateway books it once; the journal is uploaded by the
terminal's own batch reader; the service holds the payment with its split and readings, once, matching the booking;
`kiosk-dealer registry build` writes the provider's daily payment registry with a line per service and meter."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from kiosk.clock import ManualClock
from kiosk.dealer_link.upload import open_reader, read_batch
from kiosk.fees import NoFee
from kiosk.gateways.base import Approved, Payable, Route
from kiosk.gateways.jsonapi import JsonApiGateway
from kiosk.money import Money
from kiosk.offline_queue.journal import Journal
from provisioning import tenants
from provisioning.charges import booking, store
from provisioning.charges.models import ChargePayment
from provisioning.cli import main as dealer_cli
from provisioning.config.vault import vault_of
from provisioning.identity.ca import CAFiles
from provisioning.journal.ingest import store as ingest
from provisioning.journal.models import JournalOperation
from provisioning.server import DealerServer

SAMPLE = Path(__file__).parents[2] / "provisioning" / "data" / "charge-registry-sample.csv"
PROVIDER, ACCOUNT, NUMBER = "vodokanal", "1000234567", "30001"
MOSCOW = ZoneInfo("Europe/Moscow")
PAID_AT = datetime(2026, 11, 12, 12, 0, tzinfo=MOSCOW)


@pytest.fixture(scope="module")
def world(dealer_state, database) -> dict[str, Any]:
    """Dealer acme with terminal 30001, the sample registry loaded for vodokanal, a key bound to the terminal."""
    with database.session() as session:
        dealer = tenants.create_dealer(session, "acme", "Acme")
        terminal = tenants.add_terminal(session, dealer, NUMBER, "Lenina 7", "Europe/Moscow", "", "test")
        loaded = store.load(session, dealer.id, PROVIDER, SAMPLE.name, SAMPLE.read_bytes(), "test", "proportional")
        key_id, secret = booking.create_key(session, vault_of(dealer_state.state_dir), dealer.id, PROVIDER, "test",
                                            terminal)
        return {"dealer": dealer.id, "terminal": terminal.id, "registry": loaded.registry.id, "key_id": key_id,
                "secret": secret}


@pytest.fixture(scope="module")
def gateway(dealer_state, world) -> Iterator[JsonApiGateway]:
    with DealerServer(dealer_state, periodic_tick=5) as server:
        found = JsonApiGateway("dealer-charges", {
            "url": f"{server.portal_url}/api/processing", "key_id": world["key_id"], "hmac_secret": world["secret"],
            "verify": str(CAFiles(dealer_state.ca_dir).cert), "timeout": 20})
        yield found
        found.close()


def _split_by_debt(services: list[dict[str, Any]], amount: int) -> list[dict[str, Any]]:
    """The proportional rule of the protocol (largest remainders), as a terminal applies it to a part payment."""
    owed = sum(s["amount"] for s in services)
    shares = [(s, amount * s["amount"] // owed, amount * s["amount"] % owed) for s in services]
    left = amount - sum(share for _, share, _ in shares)
    extra = {id(s) for s, _, _ in sorted(shares, key=lambda x: -x[2])[:left]}
    return [{"service": s["service"], "name": s["name"], "amount": share + (1 if id(s) in extra else 0)}
            for s, share, _ in shares]


def _upload(session: Any, world: dict[str, Any], path: Path) -> None:
    """What the terminal's dealer link sends: every batch of its journal, read by its own reader."""
    reader, after = open_reader(path), 0
    while (batch := read_batch(reader, after, 50)).count:
        ingest(session.connection(), world["dealer"], world["terminal"], NUMBER,
               {"format": 1, "terminal": NUMBER, "after": after, "last": batch.last, "rows": batch.rows})
        after = batch.last
    reader.close()


def test_upload_check_pay_with_split_and_readings_upload_daily_registry(gateway, database, world, tmp_path,
                                                                        dealer_state):
    route = Route("dealer-charges", PROVIDER)
    checked = gateway.check(route, ACCOUNT, Money(2000_00, "RUB"), {})
    assert isinstance(checked, Payable) and checked.details["to_pay"] == "3330.60"
    with database.session() as session:
        debt = store.debt_object(*store.current(session, world["dealer"], PROVIDER, ACCOUNT))
    assert [s["amount"] for s in debt["services"]] == [45600, 102460, 65000, 120000]

    # the payer pays 2000 ₽ of 3330.60 and reads two meters; the terminal journals it with the split
    split = _split_by_debt(debt["services"], 2000_00)
    assert sum(part["amount"] for part in split) == 2000_00
    readings = [{**{k: m[k] for k in ("meter", "name", "service", "unit", "previous")}, "value": value}
                for m, value in zip(debt["meters"][:2], ("130.10", "57.25"), strict=True)]
    clock = ManualClock(MOSCOW, PAID_AT)
    path = tmp_path / "journal.sqlite"
    journal = Journal(path, NUMBER, "RUB", clock.now)
    op = journal.open_operation(PROVIDER, ACCOUNT, {"account": ACCOUNT}, max_cash=1_500_000,
                                details={"name": checked.details["name"], "split": split, "readings": readings,
                                         "debt": {k: debt[k] for k in ("total", "period", "services")}})
    for index, bill in enumerate((1000_00, 1000_00)):
        clock.advance(2)
        journal.record_bill(op.operation, bill, "ccnet", f"e{index}")
    committed = journal.commit(op.operation, NoFee().split(Money(2000_00, "RUB")), "payer pressed pay")
    request = committed.request(route, clock.now())
    attempt = journal.begin_attempt(op.operation, route, "pay")
    outcome = gateway.pay(request)
    assert isinstance(outcome, Approved)
    assert gateway.pay(request) == outcome  # a resend after a lost reply gets the same booking
    journal.settle(op.operation, state="delivered", unpin=True, gateway="dealer-charges",
                   external_id=outcome.external_id, last_outcome="approved",
                   finish=(attempt, "approved", "", "", outcome.external_id))
    journal.close()

    with database.session() as session:
        _upload(session, world, path)
        _upload(session, world, path)  # a repeated upload changes nothing
    with database.session() as session:
        (uploaded,) = session.scalars(select(JournalOperation).where(JournalOperation.terminal_id == world["terminal"]))
        (booked,) = session.scalars(select(ChargePayment).where(ChargePayment.dealer_id == world["dealer"],
                                                                ChargePayment.state == "booked"))
    assert (uploaded.state, uploaded.provider, uploaded.account, uploaded.credited) == (
        "delivered", PROVIDER, ACCOUNT, 2000_00)
    details = json.loads(uploaded.details)
    assert details["split"] == split and details["readings"] == readings
    # the booking and the uploaded operation are the same payment: one key, one amount, the gateway's id
    assert (booked.idempotency_key, booked.amount, booked.terminal, booked.operation) == (
        request.idempotency_key, 2000_00, NUMBER, op.operation)
    assert uploaded.external_id == outcome.external_id == f"C{booked.id}"
    assert booked.registry_id == world["registry"]

    # the provider's daily registry for its day (Moscow), built by the command an operator runs
    out = tmp_path / "vodokanal.csv"
    assert dealer_cli(["--state", str(dealer_state.state_dir), "--db", dealer_state.db_url, "registry", "build",
                       "--dealer", "acme", "--provider", PROVIDER, "--date", PAID_AT.date().isoformat(), "--format",
                       "csv", "--output", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8")), delimiter=";"))
    assert {(r["terminal"], r["operation"], r["account"], r["amount"], r["gateway_id"]) for r in rows} == {
        (NUMBER, str(op.operation), ACCOUNT, "2000.00", outcome.external_id)}
    assert [(r["service"], r["service_name"], r["service_amount"]) for r in rows] == [
        (part["service"], part["name"], f"{part['amount'] // 100}.{part['amount'] % 100:02d}") for part in split]
    assert sum(int(r["service_amount"].replace(".", "")) for r in rows) == 2000_00
    assert [(r["service"], r["meter"], r["unit"], r["previous"], r["value"]) for r in rows if r["meter"]] == [
        ("water_cold", "123456", "m3", "123.45", "130.10"), ("water_hot", "223344", "m3", "56.1", "57.25")]
