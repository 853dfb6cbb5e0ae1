"""OSMP adapter: canned replies with the outgoing request asserted, then the real protocol against the emulator."""

from __future__ import annotations

import base64
import logging
from urllib.parse import parse_qs

import httpx
import pytest

from kiosk.emulators.processing.osmp import BILLION_LAUGHS, EXTERNAL_ENTITY, OsmpEmulator
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
from kiosk.gateways.osmp import OsmpGateway
from kiosk.money import Money

from .support import make_request

SECRET = "s3cr3t-Pa55"


def reply(result: int, comment: str = "", prv_txn: str = "", txn: str = "10001000001", extra: str = "") -> bytes:
    return (f"<?xml version='1.0'?><response><osmp_txn_id>{txn}</osmp_txn_id><prv_txn>{prv_txn}</prv_txn>"
            f"{extra}<result>{result}</result><comment>{comment}</comment></response>").encode()


class Canned:
    """A MockTransport that answers with canned bodies (or raises) and keeps every request it saw."""

    def __init__(self, *answers: bytes | int | Exception) -> None:
        self.answers = list(answers)
        self.seen: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, int):
            return httpx.Response(answer, content=b"error")
        return httpx.Response(200, content=answer, headers={"content-type": "text/xml"})


def gateway(canned: Canned, **options: object) -> OsmpGateway:
    opts = {"url": "https://prv.example/osmp", "username": "dealer", "password": SECRET,
            "timezone": "Europe/Moscow", **options}
    return OsmpGateway("main", opts, transport=canned.transport)


# -- the outgoing request -----------------------------------------------------------------------------
def test_pay_sends_txn_id_sum_local_date_fields_and_basic_auth():
    canned = Canned(reply(0, "OK", "777"))
    outcome = gateway(canned).pay(make_request(fields={"account": "9161234567", "contract": "A-1"}))
    assert outcome == Approved("777", "OK")
    sent = canned.seen[0]
    assert sent.method == "GET" and sent.url.host == "prv.example" and sent.url.path == "/osmp"
    params = dict(sent.url.params)
    assert params == {"command": "pay", "txn_id": "10001000001", "account": "9161234567", "sum": "100.00",
                      "prv_id": "1", "contract": "A-1", "txn_date": "20240301120005"}  # 09:00:05 UTC in Moscow
    assert sent.headers["authorization"] == "Basic " + base64.b64encode(f"dealer:{SECRET}".encode()).decode()


def test_post_method_sends_a_form_body():
    canned = Canned(reply(0, "OK", "1"))
    gateway(canned, method="POST").pay(make_request(kopecks=1045))
    sent = canned.seen[0]
    assert sent.method == "POST" and sent.headers["content-type"] == "application/x-www-form-urlencoded"
    form = {k: v[0] for k, v in parse_qs(sent.content.decode()).items()}
    assert form["sum"] == "10.45" and form["command"] == "pay"


def test_check_returns_named_and_unnamed_fields_for_the_payer():
    extra = '<fields><field1 name="FIO">Иванов И.</field1><field2>1500.00</field2></fields>'
    canned = Canned(reply(0, "OK", extra=extra))
    outcome = gateway(canned).check(Route("main", "1"), "9161234567", Money(5000), {})
    assert outcome == Payable({"FIO": "Иванов И.", "disp2": "1500.00"})
    assert dict(canned.seen[0].url.params)["command"] == "check"


# -- the result-code table ----------------------------------------------------------------------------
@pytest.mark.parametrize(("result", "expected"), [
    (1, RetryLater("", gateway_code="1")),
    (90, RetryLater("", gateway_code="90")),
    (4, Declined(Code.WRONG_FORMAT, "", "4")),
    (5, Declined(Code.ACCOUNT_NOT_FOUND, "", "5")),
    (7, Declined(Code.FORBIDDEN, "", "7")),
    (8, Declined(Code.PROVIDER_UNAVAILABLE, "", "8")),
    (31, Declined(Code.WRONG_FORMAT, "", "31")),
    (32, Declined(Code.OTHER, "", "32")),
    (79, Declined(Code.ACCOUNT_INACTIVE, "", "79")),
    (241, Declined(Code.AMOUNT_TOO_SMALL, "", "241")),
    (242, Declined(Code.AMOUNT_TOO_LARGE, "", "242")),
    (243, Declined(Code.PROVIDER_UNAVAILABLE, "", "243")),
    (300, Declined(Code.OTHER, "", "300")),
])
def test_result_codes_map_to_outcomes(result, expected):
    assert gateway(Canned(reply(result))).pay(make_request()) == expected


def test_unlisted_result_code_is_unknown_not_declined():
    assert isinstance(gateway(Canned(reply(17))).pay(make_request()), Unknown)


def test_duplicate_looking_300_is_unknown():
    assert isinstance(gateway(Canned(reply(300, "Duplicate transaction"))).pay(make_request()), Unknown)


def test_any_300_on_a_resend_is_unknown_and_technical_codes_do_not_end_it():
    gw = gateway(Canned(reply(300, "error"), reply(8), reply(0, "OK", "5")))
    request = make_request()
    assert isinstance(gw.resend(request), Unknown)
    assert isinstance(gw.resend(request), RetryLater)
    assert gw.resend(request) == Approved("5", "OK")


def test_reply_for_another_txn_id_is_unknown():
    assert isinstance(gateway(Canned(reply(0, "OK", "1", txn="42"))).pay(make_request()), Unknown)


def test_refusals_on_check():
    gw = gateway(Canned(reply(5, "нет такого"), reply(1)))
    assert gw.check(Route("main"), "1", Money(100), {}) == Refused(Code.ACCOUNT_NOT_FOUND, "нет такого", "5")
    assert isinstance(gw.check(Route("main"), "1", Money(100), {}), Unreachable)


# -- faults are never declines ------------------------------------------------------------------------
@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY, b"<response><result>0</res", b"",
                                  b"<html>gateway</html>", b"<response><result>zero</result></response>"])
def test_hostile_or_malformed_xml_is_refused_never_declined(body):
    gw = gateway(Canned(body))
    assert isinstance(gw.pay(make_request()), Unknown)
    assert isinstance(gw.check(Route("main"), "9161234567", Money(100), {}), Unreachable)


@pytest.mark.parametrize(("body", "reason"), [
    (b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head></html>", "HTML page ('502 Bad Gateway')"),
    (b"\n<?xml version='1.0'?><response><result>0</result></response>", "blank line before the <?xml"),
    ("<?xml version='1.0'?><response><result>5</result><comment>Нет такого</comment></response>".encode("cp1251"),
     "not UTF-8 and declares no encoding"),
])
def test_replies_real_frontends_send_with_http_200_stay_unknown_with_the_reason(body, reason):
    outcome = gateway(Canned(body)).pay(make_request())
    assert isinstance(outcome, Unknown) and reason in outcome.reason  # never Declined, even for a result 5 inside
    check = gateway(Canned(body)).check(Route("main"), "9161234567", Money(100), {})
    assert isinstance(check, Unreachable) and reason in check.reason


def test_windows_1251_with_its_declaration_is_read():
    body = ('<?xml version="1.0" encoding="windows-1251"?><response><osmp_txn_id>10001000001</osmp_txn_id>'
            "<result>5</result><comment>Нет такого</comment></response>").encode("cp1251")
    assert gateway(Canned(body)).pay(make_request()) == Declined(Code.ACCOUNT_NOT_FOUND, "Нет такого", "5")


def test_the_providers_comment_reaches_the_payer_unless_it_only_says_ok():
    named = gateway(Canned(reply(0, "Иванов Иван, долг 150.00"))).check(Route("main"), "1", Money(100), {})
    assert named == Payable({"comment": "Иванов Иван, долг 150.00"})
    for plain in ("OK", "ok.", "Success", "OK (repeated)"):
        assert gateway(Canned(reply(0, plain))).check(Route("main"), "1", Money(100), {}) == Payable({})


def test_get_info_asks_by_account_without_a_txn_id():
    canned = Canned(reply(0, "OK", extra='<fields><field1 name="FIO">Петров П.</field1></fields>'))
    assert gateway(canned).info(Route("main", "3"), "ab.12") == Payable({"FIO": "Петров П."})
    assert dict(canned.seen[0].url.params) == {"command": "getInfo", "account": "ab.12", "prv_id": "3"}


def test_status_sends_the_txn_id_and_reads_the_booking():
    canned = Canned(reply(0, "OK", "55"))
    assert gateway(canned, profile="osmp-status").status(make_request()) == Approved("55", "OK")
    params = dict(canned.seen[0].url.params)
    assert params["command"] == "status" and params["txn_id"] == "10001000001"


def test_unknown_profile_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="option 'profile' must be one of .*ubilling"):
        gateway(Canned(reply(0)), profile="qiwi-ish")


def test_reply_larger_than_the_limit_is_unknown():
    assert isinstance(gateway(Canned(reply(0, "x" * 5000)), max_reply_bytes=1000).pay(make_request()), Unknown)


def test_connection_refused_is_not_executed_only_on_first_pay():
    gw = gateway(Canned(httpx.ConnectError("refused")))
    assert gw.pay(make_request()) == RetryLater("ConnectError: refused", not_executed=True, gateway_code="not-sent")
    resend = gw.resend(make_request())
    assert isinstance(resend, RetryLater) and not resend.not_executed


@pytest.mark.parametrize("fault", [httpx.ReadTimeout("t"), httpx.RemoteProtocolError("reset"), httpx.WriteError("w"),
                                   500, 502, 503])
def test_fault_after_sending_is_unknown(fault):
    assert isinstance(gateway(Canned(fault)).pay(make_request()), Unknown)


def test_auth_refused_is_a_failover_decline_on_pay_but_not_on_a_resend():
    gw = gateway(Canned(401))
    assert gw.pay(make_request()) == Declined(Code.AUTH_FAILED, "HTTP 401", "http-401")
    assert isinstance(gw.resend(make_request()), RetryLater)


def test_secrets_never_reach_the_logs(caplog):
    caplog.set_level(logging.DEBUG)
    gw = gateway(Canned(reply(0, "OK", "1"), BILLION_LAUGHS, httpx.ConnectError("refused")))
    for _ in range(3):
        gw.pay(make_request())
    gw.check(Route("main"), "9161234567", Money(100), {})
    text = caplog.text + repr(gw)
    assert caplog.records and SECRET not in text
    assert base64.b64encode(f"dealer:{SECRET}".encode()).decode() not in text


# -- contract: the real protocol against the emulator on loopback ------------------------------------
@pytest.fixture(scope="module")
def server():
    emulator = OsmpEmulator(username="dealer", password=SECRET)
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def osmp(server):
    server.control("reset")
    gw = OsmpGateway("main", {"url": server.base_url + "/osmp", "username": "dealer", "password": SECRET,
                              "timeout": 2})
    yield gw
    gw.close()


def test_contract_check_shows_the_subscriber_and_refuses_unknown_accounts(osmp):
    payable = osmp.check(Route("main", "1"), "9161234567", Money(10000), {})
    assert isinstance(payable, Payable) and payable.details["FIO"]
    refused = osmp.check(Route("main", "1"), "9161230000", Money(10000), {})
    assert refused == Refused(Code.ACCOUNT_NOT_FOUND, "account not found", "5")


def test_contract_pay_then_resend_books_once(osmp, server):
    request = make_request()
    first = osmp.pay(request)
    assert isinstance(first, Approved)
    assert osmp.resend(request) == Approved(first.external_id, "OK (repeated)")
    assert len(server.ledger.bookings) == 1


def test_contract_lost_reply_after_booking_resolves_by_identical_resend(osmp, server):
    server.control("fault drop-after-booking 1 pay")
    request = make_request(operation=2)
    assert isinstance(osmp.pay(request), Unknown)
    assert len(server.ledger.bookings) == 1
    assert isinstance(osmp.resend(request), Approved)
    assert len(server.ledger.bookings) == 1


def test_contract_broken_duplicate_server_gives_unknown_not_declined(osmp, server):
    server.control("broken-duplicates on")
    server.control("fault drop-after-booking 1 pay")
    request = make_request(operation=3)
    assert isinstance(osmp.pay(request), Unknown)
    assert isinstance(osmp.resend(request), Unknown)
    assert len(server.ledger.bookings) == 1


@pytest.mark.parametrize("fault", ["drop-before-booking", "http-500", "http-503", "malformed", "huge",
                                   "billion-laughs", "external-entity"])
def test_contract_faults_are_unknown_then_resolved(osmp, server, fault):
    server.control(f"fault {fault} 1 pay")
    request = make_request(operation=4)
    assert isinstance(osmp.pay(request), Unknown)
    assert isinstance(osmp.resend(request), Approved)
    assert len(server.ledger.bookings) == 1


def test_contract_timeout_after_booking_is_unknown(server):
    server.control("reset")
    server.control("hang 0.4")
    server.control("fault timeout 1 pay")
    gw = OsmpGateway("main", {"url": server.base_url + "/osmp", "username": "dealer", "password": SECRET,
                              "timeout": 0.1})
    try:
        assert isinstance(gw.pay(make_request(operation=5)), Unknown)
    finally:
        gw.close()


def test_contract_decline_books_nothing(osmp, server):
    assert osmp.pay(make_request(account="9160000000")) == Declined(Code.ACCOUNT_NOT_FOUND, "account not found", "5")
    assert osmp.pay(make_request(operation=6, kopecks=50)).code == Code.AMOUNT_TOO_SMALL
    assert not server.ledger.bookings


def test_contract_wrong_password_is_refused(server):
    server.control("reset")
    gw = OsmpGateway("main", {"url": server.base_url + "/osmp", "username": "dealer", "password": "nope"})
    try:
        assert gw.pay(make_request()).code == Code.AUTH_FAILED
        assert not server.ledger.bookings
    finally:
        gw.close()


def test_contract_stopped_server_is_not_executed():
    emulator = OsmpEmulator()
    emulator.start()
    url = emulator.base_url + "/osmp"
    emulator.stop()
    gw = OsmpGateway("main", {"url": url, "timeout": 1})
    try:
        outcome = gw.pay(make_request())
        assert isinstance(outcome, RetryLater) and outcome.not_executed
    finally:
        gw.close()
