"""JSON API adapter: signed requests asserted on canned replies, then the contract against the reference server."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import replace

import httpx
import pytest

from kiosk.emulators.processing.jsonapi import JsonApiEmulator
from kiosk.gateways.base import (
    Approved,
    Code,
    Declined,
    Payable,
    Refused,
    RetryLater,
    Route,
    Unknown,
    Unreachable,
)
from kiosk.gateways.jsonapi import JsonApiGateway, canonical, canonical_target, reply_canonical, sign
from kiosk.money import Money

from .support import make_request

SECRET = "hmac-Secret-42"


class Signed:
    """A MockTransport playing a correct server: checks nothing, signs canned JSON replies, keeps requests."""

    def __init__(self, *answers: tuple[int, dict] | Exception, secret: str = SECRET) -> None:
        self.answers, self.secret, self.seen = list(answers), secret.encode(), []
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        status, data = answer
        body = json.dumps(data).encode()
        ts = request.headers["X-Kiosk-Timestamp"]
        sig = sign(self.secret, reply_canonical(request.headers["X-Kiosk-Signature"], ts, body))
        return httpx.Response(status, content=body, headers={"X-Kiosk-Timestamp": ts, "X-Kiosk-Signature": sig})


def gateway(fake: Signed) -> JsonApiGateway:
    return JsonApiGateway("own", {"url": "https://proc.example/api/", "key_id": "dealer-7", "hmac_secret": SECRET},
                          transport=fake.transport)


def test_pay_is_signed_over_method_path_timestamp_and_body_hash():
    fake = Signed((200, {"result": "approved", "payment_id": "P1"}))
    assert gateway(fake).pay(make_request(kopecks=1045)) == Approved("P1")
    sent = fake.seen[0]
    assert sent.method == "POST" and str(sent.url) == "https://proc.example/api/v1/payments"
    assert sent.headers["Idempotency-Key"] == "10001-1" and sent.headers["X-Kiosk-Key"] == "dealer-7"
    body = json.loads(sent.content)
    assert body["amount"] == "10.45" and body["account"] == "9161234567" and body["operation"] == 1
    expected = f"POST\n/v1/payments\n{sent.headers['X-Kiosk-Timestamp']}\n{hashlib.sha256(sent.content).hexdigest()}"
    assert canonical("POST", "/v1/payments", sent.headers["X-Kiosk-Timestamp"], sent.content) == expected.encode()
    assert sent.headers["X-Kiosk-Signature"] == sign(SECRET.encode(), expected.encode())


def test_status_queries_the_key_and_not_found_is_not_executed():
    fake = Signed((404, {"result": "not_found"}))
    outcome = gateway(fake).status(make_request())
    assert outcome == RetryLater("not registered", not_executed=True, gateway_code="not_found")
    assert fake.seen[0].method == "GET" and fake.seen[0].url.path == "/api/v1/payments/10001-1"


def test_outcomes_and_codes():
    gw = gateway(Signed((200, {"result": "declined", "code": "account_not_found", "message": "нет"}),
                        (200, {"result": "retry", "message": "later"}),
                        (409, {"result": "superseded"}),
                        (422, {"result": "key_reused"}),
                        (200, {"result": "approved"})))
    request = make_request()
    assert gw.pay(request) == Declined(Code.ACCOUNT_NOT_FOUND, "нет", "account_not_found")
    assert isinstance(gw.pay(request), RetryLater)
    assert gw.pay(request).not_executed
    assert isinstance(gw.pay(request), Unknown)
    assert isinstance(gw.pay(request), Unknown)  # approved without an id is not an approval


def test_reply_with_a_wrong_signature_is_unknown_never_approved():
    fake = Signed((200, {"result": "approved", "payment_id": "P1"}), secret="someone-else")
    assert isinstance(gateway(fake).pay(make_request()), Unknown)
    assert isinstance(gateway(fake).check(Route("own", "1"), "1", Money(100), {}), Unreachable)


@pytest.mark.parametrize("fault", [httpx.ReadTimeout("t"), httpx.RemoteProtocolError("reset")])
def test_fault_after_sending_is_unknown(fault):
    assert isinstance(gateway(Signed(fault)).pay(make_request()), Unknown)


def test_connection_refused_is_not_executed_on_pay_only():
    gw = gateway(Signed(httpx.ConnectError("refused")))
    assert gw.pay(make_request()).not_executed
    assert not gw.status(make_request()).not_executed


def test_check_and_balance():
    gw = gateway(Signed((200, {"result": "payable", "details": {"name": "Иванов"}, "provider_override": "beeline"}),
                        (200, {"result": "refused", "code": "amount_too_large"}),
                        (200, {"balance": "1234.50", "currency": "RUB"})))
    assert gw.check(Route("own", "1"), "1", Money(100), {}) == Payable({"name": "Иванов"}, "beeline")
    assert gw.check(Route("own", "1"), "1", Money(100), {}).code == Code.AMOUNT_TOO_LARGE
    assert gw.balance() == Money(123450)


def test_secret_and_signatures_never_reach_the_logs(caplog):
    caplog.set_level(logging.DEBUG)
    fake = Signed((200, {"result": "approved", "payment_id": "P1"}), secret="wrong")
    gw = gateway(fake)
    gw.pay(make_request())
    text = caplog.text + repr(gw) + repr(gw.options)
    assert caplog.records and SECRET not in text
    assert fake.seen[0].headers["X-Kiosk-Signature"] not in text


# -- contract against the reference server ------------------------------------------------------------
@pytest.fixture(scope="module")
def server():
    emulator = JsonApiEmulator(key_id="dealer-7", secret=SECRET)
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def own(server):
    server.control("reset")
    gw = JsonApiGateway("own", {"url": server.base_url, "key_id": "dealer-7", "hmac_secret": SECRET, "timeout": 2})
    yield gw
    gw.close()


def test_contract_pay_is_idempotent_by_key(own, server):
    request = make_request()
    first = own.pay(request)
    assert isinstance(first, Approved) and own.pay(request) == first and own.status(request) == first
    assert len(server.ledger.bookings) == 1


def test_contract_not_found_status_voids_an_older_request_but_not_a_new_one(own, server):
    request = make_request(operation=2)
    assert own.status(request).not_executed
    key = request.idempotency_key
    assert server.pay(key, 1, b'{"provider":"1","account":"9161234567","amount":"100.00",'
                      b'"currency":"RUB"}')[0] == 409
    assert isinstance(own.pay(request), Approved)


def test_contract_lost_reply_resolved_by_status(own, server):
    server.control("fault drop-after-booking 1 pay")
    request = make_request(operation=3)
    assert isinstance(own.pay(request), Unknown)
    assert isinstance(own.status(request), Approved)
    assert len(server.ledger.bookings) == 1


@pytest.mark.parametrize("fault", ["bad-signature", "malformed", "huge", "http-500", "drop-before-booking"])
def test_contract_faults_are_unknown(own, server, fault):
    server.control(f"fault {fault} 1 pay")
    assert isinstance(own.pay(make_request(operation=4)), Unknown)


def test_contract_decline_and_balance(own, server):
    assert own.check(Route("own", "1"), "9160000000", Money(100_00), {}) == Refused(
        Code.ACCOUNT_NOT_FOUND, "account not found", "account_not_found")
    server.control("balance 5000")
    assert own.balance() == Money(5000)
    assert own.pay(make_request(operation=5)).code == Code.DEALER_BALANCE_LOW
    assert not server.ledger.bookings


def test_contract_wrong_secret_is_refused(server):
    gw = JsonApiGateway("own", {"url": server.base_url, "key_id": "dealer-7", "hmac_secret": "guess"})
    try:
        assert gw.pay(make_request(operation=6)).code == Code.AUTH_FAILED
    finally:
        gw.close()


# -- the canonical string, as docs/jsonapi-openapi.yaml defines it -------------------------------------
def test_worked_examples_of_the_openapi_document():
    status = canonical("GET", canonical_target("/v1/payments/T10001%3A0000000042"), "1700000000000", b"")
    assert status == (b"GET\n/v1/payments/T10001:0000000042\n1700000000000\n"
                      b"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert sign(b"demo-secret", status) == "d85e5d05c31e86c890d81bf0fb88906a7f3b09ad80275aff2fa452357d3f5886"
    body = b'{"provider":"1","account":"9161234567","amount":"100.00","currency":"RUB"}'
    check = canonical("POST", canonical_target("/v1/check"), "1700000000000", body)
    assert hashlib.sha256(body).hexdigest() == "d1c0634a03fa9adecfae8dd80a1a38e6096a87dca07e628bfa1dd6eca2c0fc28"
    assert sign(b"demo-secret", check) == "c00905a82033bfef569062a19b0d592ef7177090d807ae7a1733ed172eb1cab2"


def test_the_target_is_the_decoded_path_however_it_was_escaped():
    assert canonical_target("/v1/payments/T1%3A2") == canonical_target("/v1/payments/T1:2") == "/v1/payments/T1:2"


def test_contract_a_key_with_a_colon_is_signed_so_the_server_accepts_it(own, server):
    request = replace(make_request(operation=7), idempotency_key="T10001:0000000007")
    assert own.status(request).not_executed  # was 401: the adapter signed %3A, the server the decoded ':'
    first = own.pay(request)
    assert isinstance(first, Approved) and own.status(request) == first
    assert server.ledger.find("T10001:0000000007") is not None


@pytest.mark.parametrize(("body", "problem"), [
    ({"provider": "1", "account": "9161234567", "amount": "100.00"}, "currency is required"),
    ({"provider": "1", "account": 9161234567, "amount": "100.00", "currency": "RUB"}, "account must be a string"),
    ({"provider": "1", "account": "9161234567", "amount": "100.00", "currency": "XYZ"}, "unknown currency 'XYZ'"),
    ({"provider": "1", "account": "9161234567", "amount": 100, "currency": "RUB"}, "amount must be a string"),
])
def test_contract_the_server_refuses_bodies_that_break_the_schema(server, body, problem):
    server.control("reset")
    for status, reply in (server.pay("K-1", int(time.time() * 1000), json.dumps(body).encode()),
                          server.check(json.dumps(body).encode())):
        assert status == 400 and reply["result"] == "bad_request" and problem in reply["message"]
    assert not server.ledger.bookings


def test_contract_a_refused_request_is_declined_not_unknown(server):
    server.control("reset")
    gw = JsonApiGateway("own", {"url": server.base_url, "key_id": "dealer-7", "hmac_secret": SECRET,
                                "timeout": 2})
    try:
        pay = gw.pay(replace(make_request(operation=8), credited=Money(100_00, "XYZ")))
        assert isinstance(pay, Declined) and pay.gateway_code == "bad_request" and "XYZ" in pay.message
        refused = gw.check(Route("own", "1"), "9161234567", Money(100_00, "XYZ"), {})
        assert isinstance(refused, Refused) and refused.gateway_code == "bad_request"
        assert not server.ledger.bookings
    finally:
        gw.close()
