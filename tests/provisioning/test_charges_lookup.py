"""Charge registries in the dealer service (SQLite and PostgreSQL): accepted whole or refused whole, the newest period
per account, the CLI; and the debt lookup spoken with the terminal's own jsonapi adapter to a real `kiosk-dealer`
server on loopback: payable with the debt by service, refused for an unknown account, payments booked once per key."""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from kiosk.gateways.base import (
    Approved,
    Code,
    Declined,
    Payable,
    PaymentRequest,
    Refused,
    RetryLater,
    Route,
    Unreachable,
)
from kiosk.gateways.jsonapi import JsonApiGateway, canonical, canonical_target, reply_canonical, sign
from kiosk.money import Money
from provisioning import tenants
from provisioning.charges import booking, store
from provisioning.charges.models import ChargeAccount, ChargePayment, ChargeRegistry
from provisioning.cli import main as dealer_cli
from provisioning.config.vault import vault_of
from provisioning.identity.ca import CAFiles
from provisioning.server import DealerServer

SAMPLE = Path(__file__).parents[2] / "provisioning" / "data" / "charge-registry-sample.csv"
PROVIDER = "vodokanal"


def _registry(period: str, rows: list[tuple[str, str, int]]) -> bytes:
    """A small registry: (account, service, debt in kopecks) per line."""
    lines = ["account;period;payer;service;debt"]
    lines += [f"{account};{period};Payer {account};{service};{debt // 100},{debt % 100:02d}"
              for account, service, debt in rows]
    return "\n".join(lines).encode()


@pytest.fixture(scope="module")
def dealer(database) -> int:
    with database.session() as session:
        return tenants.create_dealer(session, "acme", "Acme").id


@pytest.fixture(scope="module")
def server(dealer_state, dealer) -> Iterator[DealerServer]:
    with DealerServer(dealer_state, periodic_tick=5) as running:
        yield running


@pytest.fixture(scope="module")
def key(dealer_state, database, dealer) -> tuple[str, str]:
    with database.session() as session:
        found = booking.create_key(session, vault_of(dealer_state.state_dir), dealer, PROVIDER, "test")
        store.load(session, dealer, PROVIDER, SAMPLE.name, SAMPLE.read_bytes(), "test")
    return found


def _gateway(server: DealerServer, dealer_state, key_id: str, secret: str) -> JsonApiGateway:
    return JsonApiGateway("dealer-charges", {"url": f"{server.portal_url}/api/processing", "key_id": key_id,
                                             "hmac_secret": secret, "verify": str(CAFiles(dealer_state.ca_dir).cert),
                                             "timeout": 20})


def _request(key: str, account: str, kopecks: int, operation: int = 1) -> PaymentRequest:
    amount = Money(kopecks, "RUB")
    return PaymentRequest(terminal="10001", operation=operation, idempotency_key=key, txn_id=operation,
                          session_id="", provider="water", route=Route("dealer-charges", PROVIDER), account=account,
                          fields={}, cash=amount, fee=Money(0, "RUB"), credited=amount,
                          accepted_at=datetime(2026, 11, 30, 10, 0, tzinfo=UTC))


def _signed(server: DealerServer, dealer_state, key: tuple[str, str], method: str, path: str,
            body: dict[str, Any] | None = None, idempotency_key: str = "",
            timestamp: int | None = None) -> tuple[int, dict[str, Any]]:
    """One request signed as the protocol says, its reply's signature checked (for what the adapter cannot send)."""
    raw = json.dumps(body, ensure_ascii=False).encode() if body is not None else b""
    stamp = str(timestamp if timestamp is not None else int(time.time() * 1000))
    signature = sign(key[1].encode(), canonical(method, canonical_target(path), stamp, raw))
    headers = {"X-Kiosk-Key": key[0], "X-Kiosk-Timestamp": stamp, "X-Kiosk-Signature": signature,
               "Content-Type": "application/json"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    with httpx.Client(verify=ssl.create_default_context(cafile=str(CAFiles(dealer_state.ca_dir).cert))) as client:
        reply = client.request(method, f"{server.portal_url}/api/processing{path}", content=raw, headers=headers)
    if reply.status_code != 401:
        expected = sign(key[1].encode(), reply_canonical(signature, reply.headers["X-Kiosk-Timestamp"], reply.content))
        assert reply.headers["X-Kiosk-Signature"] == expected
    return reply.status_code, reply.json()


def _booked(database, key: str) -> list[ChargePayment]:
    with database.session() as session:
        return list(session.scalars(select(ChargePayment).where(ChargePayment.idempotency_key == key)))


# ---- loading -------------------------------------------------------------------------------------------------------

def test_a_newer_period_replaces_an_older_one_per_account_and_history_is_kept(database, dealer):
    with database.session() as session:
        october = store.load(session, dealer, "gorgaz", "oct.csv", _registry("102026", [("A1", "gas", 100_00),
                                                                                        ("A2", "gas", 200_00)]), "t")
        november = store.load(session, dealer, "gorgaz", "nov.csv", _registry("112026", [("A1", "gas", 150_00)]), "t")
        late_september = store.load(session, dealer, "gorgaz", "sep.csv", _registry("092026", [("A1", "gas", 1)]), "t")
        assert october.accepted and november.accepted and late_september.accepted
    with database.session() as session:
        account, registry = store.current(session, dealer, "gorgaz", "A1")
        assert (account.debt, registry.period, registry.id) == (150_00, "112026", november.registry.id)
        account, registry = store.current(session, dealer, "gorgaz", "A2")  # not in November's: October's stands
        assert (account.debt, registry.period) == (200_00, "102026")
        assert [r.period for _, r in store.history(session, dealer, "gorgaz", "A1")] == ["112026", "102026", "092026"]
        assert store.current(session, dealer, "other-provider", "A1") is None
    with database.session() as session:  # the same period uploaded again (a correction) replaces the first upload
        store.load(session, dealer, "gorgaz", "nov-fixed.csv", _registry("112026", [("A1", "gas", 149_00)]), "t")
    with database.session() as session:
        assert store.current(session, dealer, "gorgaz", "A1")[0].debt == 149_00


def test_a_registry_with_one_bad_line_is_refused_whole_and_its_errors_kept(database, dealer):
    data = _registry("102026", [("B1", "gas", 100), ("B2", "gas", 200)]).decode().replace("B2;", "B 2;").encode()
    with database.session() as session:
        loaded = store.load(session, dealer, "refusals", "bad.csv", data, "t")
    assert not loaded.accepted
    assert [str(e) for e in loaded.errors] == [
        "line 3, column account: 'B 2' is not an account (1-40 letters, digits, . _ / -)"]
    with database.session() as session:
        row = session.get(ChargeRegistry, loaded.registry.id)
        assert row.status == "refused" and store.errors_of(row)[0]["line"] == 3
        assert session.scalar(select(func.count()).select_from(ChargeAccount)
                              .where(ChargeAccount.registry_id == row.id)) == 0
        assert store.current(session, dealer, "refusals", "B1") is None  # the good line was not loaded either


def test_cli_loads_a_registry_or_prints_every_error_and_loads_nothing(dealer_state, dealer, tmp_path, capsys):
    common = ["--state", str(dealer_state.state_dir), "--db", dealer_state.db_url, "charges"]
    bad = tmp_path / "bad.csv"
    bad.write_text("account;period;service;debt\nC1;102026;gas;12,3x\n", encoding="cp1251")
    assert dealer_cli([*common, "load", "--provider", "cli-water", str(bad)]) == 1
    assert "line 2, column debt: '12,3x' is not an amount" in capsys.readouterr().err
    assert dealer_cli([*common, "show", "--provider", "cli-water", "--account", "1000234567"]) == 1
    capsys.readouterr()
    assert dealer_cli([*common, "load", "--provider", "cli-water", "--split", "in_order", str(SAMPLE)]) == 0
    assert "period 102026, 2 accounts, debt 5526.27 RUB" in capsys.readouterr().out
    assert dealer_cli([*common, "show", "--provider", "cli-water", "--account", "1000234567", "--format",
                       "json"]) == 0
    (shown,) = json.loads(capsys.readouterr().out)
    assert shown["total"] == 333060 and shown["split"] == "in_order" and len(shown["meters"]) == 4
    assert dealer_cli([*common, "list", "--provider", "cli-water"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[4] for line in listed] == ["accepted", "refused"]


# ---- the debt lookup over the JSON processing protocol ----------------------------------------------------------------

def test_the_terminals_adapter_is_shown_the_debt_from_the_registry(server, dealer_state, key):
    gateway = _gateway(server, dealer_state, *key)
    try:
        outcome = gateway.check(Route("dealer-charges", PROVIDER), "1000234567", Money(100_00, "RUB"), {})
    finally:
        gateway.close()
    assert isinstance(outcome, Payable)
    assert outcome.details == {"name": "Иванов И. И.", "address": "ул. Ленина, 1, кв. 2", "period": "10.2026",
                               "to_pay": "3330.60"}
    status, data = _signed(server, dealer_state, key, "POST", "/v1/check",
                           {"provider": PROVIDER, "account": "1000234567", "amount": "100.00", "currency": "RUB"})
    assert status == 200 and data["result"] == "payable"
    debt = data["debt"]
    assert (debt["total"], debt["period"], debt["split"]) == (333060, "102026", "proportional")
    assert debt["services"][0] == {"service": "water_cold", "name": "Холодное водоснабжение", "amount": 45600}
    assert debt["meters"][2] == {"meter": "E-77", "name": "Электроэнергия, день", "service": "electricity",
                                 "unit": "kWh", "previous": "10234.5", "previous_date": "2026-10-25"}
    status, data = _signed(server, dealer_state, key, "POST", "/v1/check",
                           {"provider": PROVIDER, "account": "2000345678", "amount": "100.00", "currency": "RUB"})
    overpaid = data["debt"]  # the registry's -150.00 on cold water: the protocol never carries a negative amount
    assert overpaid["total"] == 234567 - 15000 and overpaid["services"][1]["amount"] == 0


def test_no_dealer_balance_is_reported_so_the_route_is_kept(server, dealer_state, key, caplog):
    gateway = _gateway(server, dealer_state, *key)
    try:
        assert gateway.balance() is None
    finally:
        gateway.close()
    assert "does not verify" not in caplog.text  # a signed answer, not a reply the terminal distrusts
    assert _signed(server, dealer_state, key, "GET", "/v1/balance")[0] == 404


def test_an_unknown_account_gets_the_protocols_refusal(server, dealer_state, key):
    gateway = _gateway(server, dealer_state, *key)
    try:
        outcome = gateway.check(Route("dealer-charges", PROVIDER), "9999999999", Money(100_00, "RUB"), {})
        foreign = gateway.check(Route("dealer-charges", "another-provider"), "1000234567", Money(100_00, "RUB"), {})
    finally:
        gateway.close()
    assert isinstance(outcome, Refused) and outcome.code is Code.ACCOUNT_NOT_FOUND
    assert isinstance(foreign, Refused) and foreign.code is Code.FORBIDDEN  # a key answers for its provider only


def test_a_wrong_secret_or_a_revoked_key_is_not_answered(server, dealer_state, database, dealer, key):
    gateway = _gateway(server, dealer_state, key[0], "not-the-secret")
    try:
        assert isinstance(gateway.check(Route("x", PROVIDER), "1000234567", Money(1_00, "RUB"), {}), Unreachable)
    finally:
        gateway.close()
    with database.session() as session:
        revoked = booking.create_key(session, vault_of(dealer_state.state_dir), dealer, PROVIDER, "test")
        assert booking.revoke_key(session, dealer, revoked[0], "test")
    assert _signed(server, dealer_state, revoked, "POST", "/v1/check", {"provider": PROVIDER, "account": "1",
                                                                        "amount": "1.00", "currency": "RUB"})[0] == 401
    stale = int(time.time() * 1000) - 10 * 60 * 1000
    assert _signed(server, dealer_state, key, "GET", "/v1/payments/x", timestamp=stale)[0] == 401


def test_a_payment_is_booked_once_however_often_it_is_sent(server, dealer_state, database, key):
    gateway = _gateway(server, dealer_state, *key)
    request = _request("10001:5:pay-once", "1000234567", 500_00, 5)
    try:
        first = gateway.pay(request)
        again = gateway.pay(request)
        asked = gateway.status(request)
    finally:
        gateway.close()
    assert isinstance(first, Approved) and again == first and asked == first
    (row,) = _booked(database, "10001:5:pay-once")
    assert (row.state, row.amount, row.terminal, row.operation) == ("booked", 500_00, "10001", 5)
    status, data = _signed(server, dealer_state, key, "POST", "/v1/payments",
                           {"provider": PROVIDER, "account": "1000234567", "amount": "1.00", "currency": "RUB"},
                           idempotency_key="10001:5:pay-once")
    assert (status, data["result"]) == (422, "key_reused")


def test_concurrent_resends_of_one_payment_book_it_once(server, dealer_state, database, key):
    request = _request("10001:6:racing", "2000345678", 1000_00, 6)
    outcomes: list[Any] = []

    def send() -> None:
        gateway = _gateway(server, dealer_state, *key)
        try:
            outcomes.append(gateway.pay(request))
        finally:
            gateway.close()

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == 8 and all(isinstance(o, Approved) for o in outcomes)
    assert len({o.external_id for o in outcomes}) == 1
    assert len(_booked(database, "10001:6:racing")) == 1


def test_not_found_voids_an_older_pay_still_in_flight_and_a_later_one_books(server, dealer_state, database, key):
    body = {"provider": PROVIDER, "account": "1000234567", "amount": "10.00", "currency": "RUB"}
    sent_at = int(time.time() * 1000)
    assert _signed(server, dealer_state, key, "GET", "/v1/payments/10001:7:void",
                   timestamp=sent_at + 5) == (404, {"result": "not_found"})
    status, data = _signed(server, dealer_state, key, "POST", "/v1/payments", body, "10001:7:void", timestamp=sent_at)
    assert (status, data["result"]) == (409, "superseded")
    assert [r.state for r in _booked(database, "10001:7:void")] == ["voided"]
    gateway = _gateway(server, dealer_state, *key)
    try:
        later = gateway.pay(_request("10001:7:void", "1000234567", 10_00, 7))
    finally:
        gateway.close()
    assert isinstance(later, Approved)
    assert [r.state for r in _booked(database, "10001:7:void")] == ["booked"]


def test_a_payment_for_an_account_no_registry_has_is_declined_for_good(server, dealer_state, database, key):
    gateway = _gateway(server, dealer_state, *key)
    request = _request("10001:8:unknown", "5555555555", 10_00, 8)
    try:
        first = gateway.pay(request)
        asked = gateway.status(request)
    finally:
        gateway.close()
    assert isinstance(first, Declined) and first.code is Code.ACCOUNT_NOT_FOUND and asked == first
    assert [r.state for r in _booked(database, "10001:8:unknown")] == ["declined"]


def test_split_and_readings_travel_with_the_payment_and_must_add_up(server, dealer_state, database, key):
    split = [{"service": "water_cold", "name": "Холодное водоснабжение", "amount": 300_00},
             {"service": "maintenance", "name": "Содержание жилья", "amount": 200_00}]
    readings = [{"meter": "123456", "name": "ХВС", "service": "water_cold", "unit": "m3", "previous": "123.45",
                 "value": "130.10"}]
    body = {"provider": PROVIDER, "account": "1000234567", "amount": "500.00", "currency": "RUB",
            "terminal": "10001", "operation": 9, "split": split, "readings": readings}
    status, data = _signed(server, dealer_state, key, "POST", "/v1/payments", body, "10001:9:split")
    assert (status, data["result"]) == (200, "approved")
    (row,) = _booked(database, "10001:9:split")
    assert json.loads(row.details)["split"] == split and json.loads(row.details)["readings"] == readings
    wrong = {**body, "split": [{**split[0], "amount": 1}]}
    status, data = _signed(server, dealer_state, key, "POST", "/v1/payments", wrong, "10001:10:split")
    assert status == 400 and "split adds up to 1 kopecks, the amount is 50000" in data["message"]
    float_reading = {**body, "readings": [{**readings[0], "value": 130.1}]}
    status, data = _signed(server, dealer_state, key, "POST", "/v1/payments", float_reading, "10001:11:split")
    assert status == 400 and "decimal string" in data["message"]
    assert _booked(database, "10001:10:split") == [] and _booked(database, "10001:11:split") == []


@pytest.mark.usefixtures("key")  # the provider's registry is loaded with the module's first key
def test_a_key_bound_to_a_terminal_books_only_that_terminals_payments(server, dealer_state, database, dealer):
    with database.session() as session:
        terminal = tenants.add_terminal(session, tenants.dealer_by_slug(session, "acme"), "20002", "", "Europe/Moscow",
                                        "", "t")
        bound = booking.create_key(session, vault_of(dealer_state.state_dir), dealer, PROVIDER, "test", terminal)
    body = {"provider": PROVIDER, "account": "1000234567", "amount": "10.00", "currency": "RUB", "terminal": "10001"}
    status, data = _signed(server, dealer_state, bound, "POST", "/v1/payments", body, "10001:12:bound")
    assert (status, data["result"], data["code"]) == (200, "declined", "forbidden")
    status, data = _signed(server, dealer_state, bound, "POST", "/v1/payments", {**body, "terminal": "20002"},
                           "20002:1:bound")
    assert (status, data["result"]) == (200, "approved"), data


def test_the_gateway_never_retries_into_a_second_booking_after_a_lost_reply(server, dealer_state, database, key):
    # the pay reached the service and was booked; the terminal never saw the answer and asks the status: it finds it
    request = _request("10001:13:lost", "1000234567", 20_00, 13)
    body = {"provider": PROVIDER, "account": "1000234567", "amount": "20.00", "currency": "RUB"}
    assert _signed(server, dealer_state, key, "POST", "/v1/payments", body, "10001:13:lost")[1]["result"] == "approved"
    gateway = _gateway(server, dealer_state, *key)
    try:
        asked = gateway.status(request)
        resent = gateway.pay(request)
    finally:
        gateway.close()
    assert isinstance(asked, Approved) and resent == asked
    assert not isinstance(asked, RetryLater)
    assert len(_booked(database, "10001:13:lost")) == 1
