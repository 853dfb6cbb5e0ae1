"""The JSON adapter and its reference server with utility bills: the check's debt, the payment's split and readings."""

from __future__ import annotations

import json
from dataclasses import replace

import httpx
import pytest

from kiosk.emulators.processing.jsonapi import JsonApiEmulator
from kiosk.gateways.base import Approved, Payable, Route
from kiosk.gateways.jsonapi import JsonApiGateway, reply_canonical, sign
from kiosk.money import Money
from kiosk.utility_demo import DEMO_DEBTS

from .support import make_request

SECRET = "utility-secret"
SPLIT = [{"service": "repairs", "name": "Взнос на капремонт", "amount": 50000},
         {"service": "power", "name": "Электроэнергия", "amount": 50000}]
READINGS = [{"meter": "E-778899", "name": "Электроэнергия", "service": "power", "unit": "kWh", "previous": "5210.00",
             "value": "5400.00"}]


@pytest.fixture(scope="module")
def server():
    emulator = JsonApiEmulator(key_id="k", secret=SECRET)
    emulator.start()
    yield emulator
    emulator.stop()


def adapter(server: JsonApiEmulator) -> JsonApiGateway:
    return JsonApiGateway("own", {"url": server.base_url, "key_id": "k", "hmac_secret": SECRET})


def test_the_check_answers_the_debt_by_service_of_a_demo_utility_account(server):
    outcome = adapter(server).check(Route("own", "40"), "2000301", Money(10000), {})
    assert isinstance(outcome, Payable) and outcome.debt is not None
    assert outcome.debt.to_json() == DEMO_DEBTS["2000301"]
    other = adapter(server).check(Route("own", "1"), "9161234567", Money(10000), {})
    assert isinstance(other, Payable) and other.debt is None  # no debt object: an ordinary payee


def test_the_payment_carries_the_split_and_readings_and_the_server_keeps_them(server):
    request = replace(make_request(operation=71, account="2000301", kopecks=100000, code="40"),
                      details={"split": SPLIT, "readings": READINGS, "debt": DEMO_DEBTS["2000301"]})
    outcome = adapter(server).pay(request)
    assert isinstance(outcome, Approved)
    kept = server.ledger.extra["results"][request.idempotency_key]
    assert kept["split"] == SPLIT and kept["readings"] == READINGS
    # a resend is the same payment: the split does not change what the key stands for
    assert adapter(server).pay(request) == outcome


def test_a_split_that_does_not_add_up_to_the_amount_is_never_sent(server):
    request = replace(make_request(operation=72, account="2000301", kopecks=90000, code="40"),
                      details={"split": SPLIT, "readings": READINGS})
    assert isinstance(adapter(server).pay(request), Approved)
    kept = server.ledger.extra["results"][request.idempotency_key]
    assert "split" not in kept and kept["readings"] == READINGS


def test_a_debt_that_breaks_the_protocol_leaves_the_account_payable_without_it(caplog):
    def handle(request: httpx.Request) -> httpx.Response:
        body = json.dumps({"result": "payable", "details": {"name": "X"},
                           "debt": {"total": 12.5, "services": []}}).encode()
        ts = request.headers["X-Kiosk-Timestamp"]
        sig = sign(SECRET.encode(), reply_canonical(request.headers["X-Kiosk-Signature"], ts, body))
        return httpx.Response(200, content=body, headers={"X-Kiosk-Timestamp": ts, "X-Kiosk-Signature": sig})

    gateway = JsonApiGateway("own", {"url": "https://proc.example", "key_id": "k", "hmac_secret": SECRET},
                             transport=httpx.MockTransport(handle))
    outcome = gateway.check(Route("own", "40"), "2000301", Money(10000), {})
    assert outcome == Payable({"name": "X"})
    assert "debt.total" in caplog.text
