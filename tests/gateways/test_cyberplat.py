"""CyberPlat: the signed envelope, canned replies with the outgoing request asserted, and the emulator contract."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from urllib.parse import quote_plus, unquote_to_bytes

import httpx
import pytest

from kiosk.emulators.processing.cyberplat import DEMO_PASSWORD, CyberplatEmulator, write_demo_keys
from kiosk.gateways.base import Approved, Code, Declined, Payable, RetryLater, Route, Unknown, Unreachable
from kiosk.gateways.cyberplat import CyberplatGateway
from kiosk.gateways.cyberplat_sign import decode_fields, encode_fields, sign, verify
from kiosk.gateways.ipriv_keys import load_public_ring, load_secret_key
from kiosk.money import Money

from .support import make_request


@pytest.fixture(scope="module")
def keys():
    with tempfile.TemporaryDirectory(prefix="kiosk-cyberplat-") as directory:
        options = write_demo_keys(directory, bits=1024)
        yield Path(directory), options


def options(keys, **extra):
    return {"url": "https://cp.example/cgi-bin", "sd": "17031", "ap": "17032", "op": "17034",
            "status_interval_seconds": 0, "timezone": "Europe/Moscow", **keys[1], **extra}


class Processing:
    """A MockTransport playing CyberPlat with the centre's demo key: canned KEY=VALUE replies, signed."""

    def __init__(self, keys, *answers: dict[str, str] | Exception, corrupt: bool = False) -> None:
        self.server_key = load_secret_key(keys[0] / "centre" / "secret.key", DEMO_PASSWORD)
        self.dealer_keys = load_public_ring(keys[0] / "centre" / "pubkeys.key")
        self.answers, self.corrupt, self.seen = list(answers), corrupt, []
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        document = unquote_to_bytes(request.content.split(b"=", 1)[1].replace(b"+", b" "))
        data, signer = verify(document, self.dealer_keys)
        self.seen.append((request, decode_fields(data), document))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        reply = sign(encode_fields(answer), self.server_key)
        if self.corrupt:
            reply = reply.replace(b"RESULT=0", b"RESULT=1")
        return httpx.Response(200, content=reply)


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
        "AMOUNT": "10.45", "AMOUNT_ALL": "10.45", "ACCEPT_KEYS": "64200"}
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
        # pay answering 11 is asked about once more by pay_status, whose 11 alone allows a new SESSION
        ([ok, {"ERROR": "11", "RESULT": "1"}], RetryLater(
            "session not registered at the centre; start again under a new SESSION", not_executed=True,
            gateway_code="11", new_session=True)),
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


def test_password_private_key_and_signatures_never_reach_the_logs(keys, caplog):
    caplog.set_level(logging.DEBUG)
    fake = Processing(keys, {"ERROR": "0", "RESULT": "0"}, corrupt=True)
    gw = CyberplatGateway("cp", options(keys), transport=fake.transport)
    gw.pay(make_request(code="mts"))
    text = caplog.text + repr(gw) + repr(gw.options) + repr(vars(gw))
    armour_lines = (keys[0] / "terminal" / "secret.key").read_bytes().decode().split("BEGIN\r\n")[1]
    secret = load_secret_key(keys[0] / "terminal" / "secret.key", DEMO_PASSWORD).key.private_numbers()
    assert caplog.records
    assert DEMO_PASSWORD not in text and str(secret.d)[:40] not in text and str(secret.p)[:40] not in text
    assert all(line not in text for line in armour_lines.split("\r\nEND\r\n")[0].splitlines()[:-1])
    signature_lines = fake.seen[0][2].split(b"BEGIN SIGNATURE\r\n")[1].decode().splitlines()[:-1]
    assert all(line not in text for line in signature_lines)


def test_password_comes_from_a_variable_or_a_file_and_only_one_source(keys, tmp_path, monkeypatch):
    base = {k: v for k, v in options(keys).items() if k != "secret_key_password"}
    monkeypatch.setenv("CP_TEST_PASSWORD", DEMO_PASSWORD)
    CyberplatGateway("cp", {**base, "secret_key_password_env": "CP_TEST_PASSWORD"}).close()
    (tmp_path / "password").write_text(DEMO_PASSWORD + "\n")
    CyberplatGateway("cp", {**base, "secret_key_password_file": str(tmp_path / "password")}).close()
    with pytest.raises(ValueError, match="CP_UNSET_PASSWORD .* is not set"):
        CyberplatGateway("cp", {**base, "secret_key_password_env": "CP_UNSET_PASSWORD"})
    with pytest.raises(ValueError, match="give only one of secret_key_password, secret_key_password_env"):
        CyberplatGateway("cp", {**options(keys), "secret_key_password_env": "CP_TEST_PASSWORD"})
    with pytest.raises(ValueError, match="wrong password"):
        CyberplatGateway("cp", {**base, "secret_key_password": "nope"})


def test_configuration_names_the_missing_or_unknown_key(keys):
    with pytest.raises(ValueError, match="no key with serial 99999"):
        CyberplatGateway("cp", options(keys, server_key_serial=99999))
    with pytest.raises(ValueError, match="'secret_key'"):
        CyberplatGateway("cp", {k: v for k, v in options(keys).items() if k != "secret_key"})
    with pytest.raises(ValueError, match="key_serial 1 but .* holds key 17040"):
        CyberplatGateway("cp", options(keys, key_serial=1))


def test_operator_suffix_goes_on_check_and_pay_but_not_status(keys):
    fake = Processing(keys, {"ERROR": "0", "RESULT": "0"}, {"ERROR": "0", "RESULT": "0", "TRANSID": "1"},
                      {"ERROR": "0", "RESULT": "7", "TRANSID": "1"})
    gw = CyberplatGateway("cp", options(keys), transport=fake.transport)
    request = make_request(code="mm")
    request = request.__class__(**{**vars_of(request), "route": Route("main", "mm", {"operator": "205"})})
    assert gw.pay(request) == Approved("1")
    assert [str(r.url).rsplit("/", 2)[1:] for r, _, _ in fake.seen] == [
        ["mm_pay_check.cgi", "205"], ["mm_pay.cgi", "205"], ["mm", "mm_pay_status.cgi"]]


def vars_of(request):
    return {name: getattr(request, name) for name in request.__dataclass_fields__}


# -- contract against the emulator --------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(keys):
    emulator = CyberplatEmulator(keys[0] / "centre")
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def cp(server, keys):
    server.control("reset")
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


def test_reset_forgets_pending_polls_and_ported_numbers(server):
    server.control("pending-polls 4")
    server.control("port 9161111111 beeline-gw")
    server.control("reset")
    assert (server.pending_polls, server.ported) == (0, {})


def test_contract_refusals_and_portability(cp, server):
    assert cp.check(Route("cp", "mts"), "9160000000", Money(100_00), {}).code == Code.ACCOUNT_NOT_FOUND
    server.control("port 9161111111 beeline-gw")
    cp.portability["beeline-gw"] = "beeline"
    assert cp.check(Route("cp", "mts"), "9161111111", Money(100_00), {}).provider_override == "beeline"
    server.control("balance 100")
    assert cp.pay(make_request(operation=6, code="mts")).code == Code.DEALER_BALANCE_LOW
    assert not server.ledger.bookings


def test_contract_request_signed_by_a_key_the_centre_does_not_know_gets_error_6(server, keys):
    server.control("reset")
    with tempfile.TemporaryDirectory() as other:
        stranger = write_demo_keys(other, bits=1024)  # same serials, different keys: the signature fails
        own_ring = {"public_keys": keys[1]["public_keys"]}
        gw = CyberplatGateway("cp", {**options(keys), **stranger, **own_ring, "url": server.base_url + "/cgi-bin"})
        try:
            outcome = gw.pay(make_request(operation=7, code="mts"))
            assert isinstance(outcome, Declined) and outcome.code == Code.AUTH_FAILED
            assert outcome.gateway_code == "6"
            assert not server.ledger.bookings
        finally:
            gw.close()


def test_contract_get_with_inputmessage_and_operator_suffix(server, keys):
    secret = load_secret_key(keys[0] / "terminal" / "secret.key", DEMO_PASSWORD)
    ring = load_public_ring(keys[0] / "terminal" / "pubkeys.key")
    server.control("reset")
    fields = {"SD": "17031", "AP": "17032", "OP": "17034", "SESSION": "G1", "NUMBER": "9161234567",
              "AMOUNT": "10.00", "AMOUNT_ALL": "10.00", "COMMENT": "Оплата"}
    document = sign(encode_fields(fields), secret)
    form = "inputmessage=" + quote_plus(document)  # the raw Windows-1251 bytes, percent-encoded
    with httpx.Client(base_url=server.base_url) as client:
        checked = client.get("/cgi-bin/mm/mm_pay_check.cgi/205?" + form)
        paid_elsewhere = client.post("/cgi-bin/mm/mm_pay.cgi/206", content=form,
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        paid = client.get("/cgi-bin/mm/mm_pay.cgi/205?" + form)
        status = client.post("/cgi-bin/mm/mm_pay_status.cgi", files={"inputmessage": (None, document)})  # multipart
    replies = [decode_fields(verify(r.content, ring)[0]) for r in (checked, paid_elsewhere, paid, status)]
    assert [(r["RESULT"], r["ERROR"]) for r in replies] == [("0", "0"), ("1", "37"), ("0", "0"), ("7", "0")]
    assert len(server.ledger.bookings) == 1


def test_pem_keys_remain_an_extra_and_speak_the_same_envelope(keys, tmp_path):
    from cryptography.hazmat.primitives import serialization

    dealer = load_secret_key(keys[0] / "terminal" / "secret.key", DEMO_PASSWORD).key
    centre = load_secret_key(keys[0] / "centre" / "secret.key", DEMO_PASSWORD).key
    (tmp_path / "dealer.pem").write_bytes(dealer.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pem")))
    (tmp_path / "centre.pem").write_bytes(centre.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    pem = {"url": "https://cp.example/cgi-bin", "sd": "17031", "ap": "17032", "op": "17034", "key_serial": 17040,
           "private_key": str(tmp_path / "dealer.pem"), "private_key_password": "pem",
           "server_public_key": str(tmp_path / "centre.pem"), "server_key_serial": 64200}
    fake = Processing(keys, {"ERROR": "0", "RESULT": "0", "ADDINFO": "Иванов И."})
    gw = CyberplatGateway("cp", pem, transport=fake.transport)
    assert gw.check(Route("cp", "mts"), "9161234567", Money(100), {}) == Payable({"ADDINFO": "Иванов И."}, "")
    assert fake.seen[0][2].split(b"\r\n")[1] == b"17031               00017040"  # key name defaults to SD
    assert "private_key_password" not in gw.options


def test_contract_request_by_a_serial_missing_from_the_ring_gets_error_6_and_books_nothing(server, keys):
    from kiosk.gateways.ipriv_keygen import generate_key

    server.control("reset")
    stranger = generate_key("STRANGER", 99999, 1024).secret
    fields = {"SD": "17031", "SESSION": "S1", "NUMBER": "9161234567", "AMOUNT": "10.00", "AMOUNT_ALL": "10.00"}
    ring = load_public_ring(keys[0] / "terminal" / "pubkeys.key")
    with httpx.Client(base_url=server.base_url) as client:
        for step in ("pay_check", "pay"):
            reply = client.post(f"/cgi-bin/mts/mts_{step}.cgi",
                                content="inputmessage=" + quote_plus(sign(encode_fields(fields), stranger)),
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
            answer = decode_fields(verify(reply.content, ring)[0])  # the refusal itself is signed by the centre
            assert (answer["RESULT"], answer["ERROR"]) == ("1", "6")
            assert "99999" in answer["ERRMSG"]
    assert not server.ledger.bookings


def test_pem_key_problems_are_named_not_raised_raw(keys, tmp_path):
    base = {"url": "https://cp.example/cgi-bin", "sd": "1", "ap": "2", "op": "3", "key_serial": 1,
            "server_public_key": str(tmp_path / "none.pem"), "server_key_serial": 2}
    (tmp_path / "plain.pem").write_bytes(b"-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ValueError, match=r"missing\.pem: cannot read the private key"):
        CyberplatGateway("cp", {**base, "private_key": str(tmp_path / "missing.pem")})
    with pytest.raises(ValueError, match=r"plain\.pem: cannot load the PEM private key"):
        CyberplatGateway("cp", {**base, "private_key": str(tmp_path / "plain.pem"), "private_key_password": "x"})
