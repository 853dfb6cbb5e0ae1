"""OSMP as real providers speak it: POST forms, getInfo, status, cancel, their account rules and repeat answers.

Each test runs the adapter against the emulator on loopback with the emulator's switch for that provider.
"""

from __future__ import annotations

import httpx
import pytest

from kiosk.emulators.processing.osmp import OsmpEmulator
from kiosk.gateways.base import Approved, Code, Declined, Payable, Refused, RetryLater, Route, Unknown
from kiosk.gateways.osmp import OsmpGateway
from kiosk.money import Money

from .support import make_request


@pytest.fixture(scope="module")
def server():
    emulator = OsmpEmulator()
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def connect(server):
    """Adapters for this test, closed at its end; the emulator starts afresh."""
    server.control("reset")
    made: list[OsmpGateway] = []

    def make(**options: object) -> OsmpGateway:
        gateway = OsmpGateway("main", {"url": server.base_url + "/osmp", "timeout": 2, **options})
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        gateway.close()


def raw(server: OsmpEmulator, **params: str) -> str:
    """One request as any client would send it; the reply's text."""
    return httpx.get(server.base_url + "/osmp", params=params, timeout=5).text


# -- transport --------------------------------------------------------------------------------------
def test_post_form_works_end_to_end(connect, server):
    gateway = connect(method="POST")
    assert isinstance(gateway.check(Route("main", "1"), "9161234567", Money(100_00), {}), Payable)
    outcome = gateway.pay(make_request())
    assert isinstance(outcome, Approved) and outcome.external_id
    assert len(server.ledger.bookings) == 1


# -- getInfo, check details, status, cancel -----------------------------------------------------------
def test_get_info_shows_the_payee_and_balance_without_registering_anything(connect, server):
    info = connect().info(Route("main", "1"), "9161234567")
    assert isinstance(info, Payable)
    assert info.details["FIO"] and info.details["balance"].startswith("-")
    assert info.details["comment"].startswith("Абонент ")  # the provider's <comment> reaches the payer too
    assert not server.ledger.bookings
    assert isinstance(connect().info(Route("main", "1"), "9161230000"), Refused)


def test_check_with_get_info_merges_both_answers_for_the_payer(connect):
    outcome = connect(get_info=True).check(Route("main", "1"), "9161234567", Money(100_00), {})
    assert isinstance(outcome, Payable) and {"FIO", "balance", "comment"} <= set(outcome.details)


def test_status_command_finds_a_booking_whose_reply_was_lost(connect, server):
    server.control("profile osmp-status")
    gateway = connect(profile="osmp-status")
    server.control("fault drop-after-booking 1 pay")
    request = make_request(operation=7)
    assert isinstance(gateway.pay(request), Unknown)
    booked = next(iter(server.ledger.bookings.values()))
    assert gateway.status(request) == Approved(booked.external_id, "OK")
    assert len(server.ledger.bookings) == 1


def test_status_not_found_resends_the_identical_pay_where_repeats_are_safe(connect, server):
    server.control("profile osmp-status")
    outcome = connect(profile="osmp-status").status(make_request(operation=8))
    assert isinstance(outcome, Approved) and len(server.ledger.bookings) == 1


def test_status_is_an_unknown_command_for_providers_without_it(connect, server):
    assert "<result>300</result>" in raw(server, command="status", txn_id="1")
    assert isinstance(connect().status(make_request()), Unknown)


def test_cancel_reverses_a_booking_and_a_repeat_pay_is_not_rebooked(connect, server):
    gateway = connect()
    request = make_request(operation=9)
    booked = gateway.pay(request)
    balance = server.ledger.balance
    assert isinstance(booked, Approved)
    assert gateway.cancel(request, booked.external_id) == Approved(booked.external_id, "cancelled")
    assert server.ledger.balance == balance + request.credited.minor
    repeat = gateway.pay(request)  # 300 "transaction was cancelled": the txn_id is spent, nothing is booked again
    assert isinstance(repeat, Declined) and "cancelled" in repeat.message
    assert len(server.ledger.bookings) == 1 and server.ledger.balance == balance + request.credited.minor
    assert isinstance(gateway.cancel(make_request(operation=10)), Declined)


# -- accounts and sums --------------------------------------------------------------------------------
@pytest.mark.parametrize("account", ["ab.12-34/5", "ЛС-0012345", "x" * 200, "user@example.org"])
def test_accounts_of_letters_dots_and_symbols_up_to_200_are_accepted(connect, account):
    assert isinstance(connect().check(Route("main", "7"), account, Money(100_00), {}), Payable)


def test_account_rules_are_per_provider(connect, server):
    server.control(r"account-format 1 \d{10}")
    gateway = connect()
    assert gateway.check(Route("main", "1"), "abc", Money(100_00), {}) == Refused(
        Code.WRONG_FORMAT, "wrong account format", "4")
    assert isinstance(gateway.check(Route("main", "2"), "abc", Money(100_00), {}), Payable)
    assert isinstance(gateway.check(Route("main", "1"), "x" * 201, Money(100_00), {}), Refused)


@pytest.mark.parametrize("sum_text", ["1", "1.5", "10.45"])
def test_sums_with_fewer_than_two_decimals_are_accepted(server, sum_text):
    server.control("reset")
    reply = raw(server, command="pay", txn_id="77", account="9161234567", sum=sum_text, txn_date="20240301120000")
    assert "<result>0</result>" in reply and f"<sum>{sum_text}</sum>" in reply


# -- how real providers answer a repeated pay ----------------------------------------------------------
def test_ubilling_duplicate_300_after_a_lost_reply_means_booked(connect, server):
    server.control("profile ubilling")
    gateway = connect(profile="ubilling")
    server.control("fault drop-after-booking 1 pay")
    request = make_request(operation=11)
    assert isinstance(gateway.pay(request), Unknown)
    assert "Duplicate transaction" in raw(server, command="pay", txn_id=str(request.txn_id), account=request.account,
                                          sum="100.00", txn_date="20240301120005")
    outcome = gateway.resend(request)
    assert isinstance(outcome, Approved) and outcome.external_id == "" and "300" in outcome.message
    assert len(server.ledger.bookings) == 1


def test_ubilling_duplicate_answer_to_a_first_pay_is_unknown_not_declined(connect, server):
    server.control("profile ubilling")
    request = make_request(operation=12)
    assert isinstance(connect(profile="osmp").pay(request), Approved)
    # a fresh adapter whose journal knows nothing of the first booking must not call it declined
    assert isinstance(connect(profile="ubilling").pay(request), Unknown)


def test_old_abills_double_request_8_on_a_resend_means_booked(connect, server):
    server.control("profile abills-old")
    gateway = connect(profile="abills-old")
    server.control("fault drop-after-booking 1 pay")
    request = make_request(operation=13)
    assert isinstance(gateway.pay(request), Unknown)
    outcome = gateway.resend(request)
    assert isinstance(outcome, Approved) and "Double request" in outcome.message
    assert len(server.ledger.bookings) == 1


def test_old_abills_other_technical_8_on_a_resend_is_retried_not_booked(connect, server):
    server.control("profile abills-old")
    server.control("fault http-503 1 pay")
    gateway = connect(profile="abills-old")
    assert isinstance(gateway.pay(make_request(operation=14)), Unknown)
    assert isinstance(gateway.resend(make_request(operation=14)), Approved)  # 503 came before booking: books now


def test_a_standard_profile_reads_double_8_as_unknown_never_as_booked(connect, server):
    server.control("profile abills-old")
    request = make_request(operation=15)
    connect().pay(request)
    outcome = connect(profile="osmp").resend(request)
    assert isinstance(outcome, RetryLater) and outcome.gateway_code == "8"  # technical: not a final decline


def test_rebooking_provider_books_every_repeat_which_is_why_it_is_never_resent(server):
    server.control("reset")
    server.control("profile rebooking")
    for _ in range(2):
        reply = raw(server, command="pay", txn_id="99", account="9161234567", sum="100.00",
                    txn_date="20240301120000")
        assert "<result>0</result>" in reply
    assert len(server.ledger.bookings) == 2


# -- replies that are not OSMP documents --------------------------------------------------------------
@pytest.mark.parametrize(("fault", "reason"), [
    ("html-page", "HTML page"),
    ("blank-line", "blank line before the <?xml"),
    ("cp1251", "Windows-1251"),
])
def test_non_xml_replies_after_booking_stay_unknown_and_say_why(connect, server, fault, reason):
    server.control(f"fault {fault} 1 pay")
    gateway = connect()
    request = make_request(operation=16)
    outcome = gateway.pay(request)
    assert isinstance(outcome, Unknown) and reason in outcome.reason
    assert isinstance(gateway.resend(request), Approved) and len(server.ledger.bookings) == 1
