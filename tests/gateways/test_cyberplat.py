"""CyberPlat: the signed envelope, canned replies with the outgoing request asserted, and the emulator contract."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from urllib.parse import unquote_to_bytes

import httpx
import pytest

from kiosk.emulators.processing.cyberplat import CyberplatEmulator, write_keys
from kiosk.gateways.base import Approved, Code, Declined, Payable, RetryLater, Route, Unknown, Unreachable
from kiosk.gateways.cyberplat import CyberplatGateway
from kiosk.gateways.cyberplat_sign import (
    KeyId,
    SignatureError,
    crc24,
    decode_fields,
    encode_fields,
    load_private_key,
    load_public_key,
    sign,
    verify,
)
from kiosk.money import Money

from .support import make_request


@pytest.fixture(scope="module")
def keys():
    with tempfile.TemporaryDirectory(prefix="kiosk-cyberplat-") as directory:
        options = write_keys(directory)
        yield Path(directory), options


def options(keys, **extra):
    return {"url": "https://cp.example/cgi-bin", "sd": "17031", "ap": "17032", "op": "17034",
            "status_interval_seconds": 0, "timezone": "Europe/Moscow", **keys[1], **extra}


class Processing:
    """A MockTransport playing CyberPlat with the emulator's server key: canned KEY=VALUE replies, signed."""

    def __init__(self, keys, *answers: dict[str, str] | Exception, corrupt: bool = False) -> None:
        self.server_key = load_private_key(keys[0] / "server-private.pem")
        self.dealer_key = load_public_key(keys[0] / "dealer-public.pem")
        self.answers, self.corrupt, self.seen = list(answers), corrupt, []
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        document = unquote_to_bytes(request.content.split(b"=", 1)[1].replace(b"+", b" "))
        data, signer = verify(document, {17033: self.dealer_key})
        self.seen.append((request, decode_fields(data), document))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        reply = sign(encode_fields(answer), self.server_key, KeyId("CYBERPLAT", 64182), KeyId("DEALER", 17033))
        if self.corrupt:
            reply = reply.replace(b"RESULT=0", b"RESULT=1")
        return httpx.Response(200, content=reply)


def test_envelope_round_trip_and_tamper_detection(keys):
    key = load_private_key(keys[0] / "dealer-private.pem")
    data = encode_fields({"SESSION": "ABC", "COMMENT": "Оплата"})
    for hash_name in ("md5", "sha256"):
        document = sign(data, key, KeyId("DEALER", 17033), KeyId("CYBERPLAT", 64182), hash_name, now=1_700_000_000)
        header = document[:36].decode()
        assert header[8:12] == "01SM" and int(header[:8]) == len(document)
        assert verify(document, {17033: key.public_key()}, hash_name) == (data, KeyId("DEALER", 17033))
        with pytest.raises(SignatureError):
            verify(document.replace(b"ABC", b"ABD"), {17033: key.public_key()}, hash_name)
        with pytest.raises(SignatureError):
            verify(document, {1: key.public_key()}, hash_name)
    assert "Оплата".encode("cp1251") in data
    assert crc24(b"") == 0xB704CE


@pytest.mark.parametrize("garbage", [b"", b"hello", b"0" * 36 + b"\r\n", b"<html>500</html>"])
def test_garbage_documents_are_signature_errors(keys, garbage):
    with pytest.raises(SignatureError):
        verify(garbage, {17033: load_public_key(keys[0] / "dealer-public.pem")})


def test_pay_checks_then_pays_in_one_session_signed_in_cp1251(keys):
    fake = Processing(keys, {"SESSION": "10001N1", "ERROR": "0", "RESULT": "0"},
                      {"SESSION": "10001N1", "ERROR": "0", "RESULT": "0", "TRANSID": "1000000000001"},
                      {"SESSION": "10001N1", "ERROR": "0", "RESULT": "7", "TRANSID": "1000000000001", "AUTHCODE": "9"})
    gw = CyberplatGateway("cp", options(keys), transport=fake.transport)
    outcome = gw.pay(make_request(kopecks=1045, code="mts", fields={"comment": "за май"}))
    assert outcome == Approved("1000000000001", "9")
    urls = [str(r.url) for r, _, _ in fake.seen]
    assert urls == ["https://cp.example/cgi-bin/mts/mts_pay_check.cgi", "https://cp.example/cgi-bin/mts/mts_pay.cgi",
                    "https://cp.example/cgi-bin/mts/mts_pay_status.cgi"]
    request, fields, document = fake.seen[0]
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.content.startswith(b"inputmessage=")
    assert {k: fields[k] for k in ("SD", "AP", "OP", "SESSION", "NUMBER", "AMOUNT", "AMOUNT_ALL", "ACCEPT_KEYS")} == {
        "SD": "17031", "AP": "17032", "OP": "17034", "SESSION": "10001N1", "NUMBER": "9161234567",
        "AMOUNT": "10.45", "AMOUNT_ALL": "10.45", "ACCEPT_KEYS": "64182"}
    assert "COMMENT=за май".encode("cp1251") in document
    assert fake.seen[2][1]["SESSION"] == "10001N1"


def test_reply_that_does_not_verify_is_unknown_never_approved(keys):
    fake = Processing(keys, {"ERROR": "0", "RESULT": "0", "TRANSID": "1"}, corrupt=True)
    gw = CyberplatGateway("cp", options(keys), transport=fake.transport)
    assert isinstance(gw.status(make_request()), Unknown)
    assert isinstance(gw.check(Route("cp", "mts"), "9161234567", Money(100), {}), Unreachable)


def test_error_table(keys):
    ok = {"ERROR": "0", "RESULT": "0"}
    cases = [
        ([{"ERROR": "23", "RESULT": "1"}], Declined(Code.ACCOUNT_NOT_FOUND, "", "23")),
        ([{"ERROR": "30", "RESULT": "1"}], RetryLater("check ERROR=30", not_executed=True, gateway_code="30")),
        ([ok, {"ERROR": "21", "RESULT": "1"}], Declined(Code.DEALER_BALANCE_LOW, "", "21")),
        ([ok, {"ERROR": "11", "RESULT": "1"}], RetryLater("session not registered", not_executed=True,
                                                           gateway_code="11")),
        ([ok, {"ERROR": "24", "RESULT": "1"}], RetryLater("", gateway_code="24")),
    ]
    for answers, expected in cases:
        gw = CyberplatGateway("cp", options(keys), transport=Processing(keys, *answers).transport)
        assert gw.pay(make_request(code="mts")) == expected
    for doubt in ("36", "1", "20", "99"):
        gw = CyberplatGateway("cp", options(keys), transport=Processing(keys, ok, {"ERROR": doubt}).transport)
        assert isinstance(gw.pay(make_request(code="mts")), Unknown)


def test_status_results(keys):
    def status(*answers):
        gw = CyberplatGateway("cp", options(keys, status_polls=2), transport=Processing(keys, *answers).transport)
        return gw.status(make_request(code="mts"))

    assert status({"ERROR": "11", "RESULT": "1"}).not_executed
    assert status({"ERROR": "0", "RESULT": "1"}).not_executed
    assert isinstance(status({"ERROR": "0", "RESULT": "3"}), Unknown)
    assert status({"ERROR": "0", "RESULT": "3"}, {"ERROR": "0", "RESULT": "7", "TRANSID": "5"}) == Approved("5")
    assert status({"ERROR": "24", "RESULT": "7"}).code == Code.OTHER
    assert not status(httpx.ConnectError("refused")).not_executed


def test_check_shows_addinfo_and_portability_override(keys):
    fake = Processing(keys, {"ERROR": "0", "RESULT": "0", "OPNAME": "MTS", "ADDINFO": "Иванов И.",
                             "GATEWAY_IN": "100", "GATEWAY_OUT": "200", "REST": "900.00"})
    gw = CyberplatGateway("cp", options(keys, portability={"200": "beeline"}), transport=fake.transport)
    outcome = gw.check(Route("cp", "mts"), "9161234567", Money(100), {})
    assert outcome == Payable({"OPNAME": "MTS", "ADDINFO": "Иванов И."}, "beeline")
    assert fake.seen[0][1]["REQ_TYPE"] == "1"
    assert gw.balance() == Money(90000)


def test_private_key_and_signatures_never_reach_the_logs(keys, caplog):
    caplog.set_level(logging.DEBUG)
    fake = Processing(keys, {"ERROR": "0", "RESULT": "0"}, corrupt=True)
    gw = CyberplatGateway("cp", options(keys), transport=fake.transport)
    gw.pay(make_request(code="mts"))
    text = caplog.text + repr(gw)
    pem = (keys[0] / "dealer-private.pem").read_text()
    assert caplog.records
    assert all(line not in text for line in pem.splitlines()[1:-1])
    signature_lines = fake.seen[0][2].split(b"BEGIN SIGNATURE\r\n")[1].decode().splitlines()[:-1]
    assert all(line not in text for line in signature_lines)


# -- contract against the emulator --------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(keys):
    emulator = CyberplatEmulator(keys[0])
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def cp(server, keys):
    server.control("reset")
    server.pending_polls = 0
    gw = CyberplatGateway("cp", {**options(keys), "url": server.base_url + "/cgi-bin", "timeout": 2})
    yield gw
    gw.close()


def test_contract_pay_books_once_and_status_confirms(cp, server):
    request = make_request(code="mts")
    first = cp.pay(request)
    assert isinstance(first, Approved)
    assert cp.status(request) == first
    assert cp.pay(request) == first  # session exists → same booking
    assert len(server.ledger.bookings) == 1


def test_contract_lost_pay_reply_is_resolved_by_status(cp, server):
    server.control("fault drop-after-booking 1 pay")
    request = make_request(operation=2, code="mts")
    assert isinstance(cp.pay(request), Unknown)
    assert isinstance(cp.status(request), Approved)
    assert len(server.ledger.bookings) == 1


def test_contract_pay_lost_before_booking_is_only_checked(cp, server):
    server.control("fault drop-before-booking 1 pay")
    request = make_request(operation=3, code="mts")
    assert isinstance(cp.pay(request), Unknown)
    assert cp.status(request).not_executed
    assert isinstance(cp.pay(request), Approved)
    assert len(server.ledger.bookings) == 1


def test_contract_in_progress_is_polled_to_final(cp, server):
    server.control("pending-polls 2")
    assert isinstance(cp.pay(make_request(operation=4, code="mts")), Approved)  # third poll is final
    server.control("pending-polls 5")
    request = make_request(operation=5, code="mts")
    assert isinstance(cp.pay(request), Unknown)  # still in progress after three polls
    assert isinstance(cp.status(request), Approved)


@pytest.mark.parametrize("fault", ["bad-signature", "malformed", "huge", "http-500"])
def test_contract_bad_replies_on_pay_are_unknown(cp, server, fault):
    server.control(f"fault {fault} 1 pay")
    assert isinstance(cp.pay(make_request(operation=5, code="mts")), Unknown)


def test_contract_refusals_and_portability(cp, server):
    assert cp.check(Route("cp", "mts"), "9160000000", Money(100_00), {}).code == Code.ACCOUNT_NOT_FOUND
    server.control("port 9161111111 beeline-gw")
    cp.portability["beeline-gw"] = "beeline"
    assert cp.check(Route("cp", "mts"), "9161111111", Money(100_00), {}).provider_override == "beeline"
    server.control("balance 100")
    assert cp.pay(make_request(operation=6, code="mts")).code == Code.DEALER_BALANCE_LOW
    assert not server.ledger.bookings


def test_contract_wrong_dealer_key_is_refused(server, keys):
    with tempfile.TemporaryDirectory() as other:
        stranger = write_keys(other)
        gw = CyberplatGateway("cp", {**options(keys), **stranger, "server_public_key": keys[1]["server_public_key"],
                                     "url": server.base_url + "/cgi-bin"})
        try:
            outcome = gw.pay(make_request(operation=7, code="mts"))
            assert isinstance(outcome, Declined) and outcome.code == Code.AUTH_FAILED
            assert not server.ledger.bookings
        finally:
            gw.close()
