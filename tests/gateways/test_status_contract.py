"""One contract for every adapter, over HTTP against its emulator: status() proves executed / not executed /
unknown, and cancel() reverses a booking where the protocol has it (OSMP) and is refused where it has not.

Corrections (issue 15) rely on exactly this: a first payment is paid again elsewhere only after a status query
proved it not executed, and a wrong one is reversed at the provider only where the protocol can.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kiosk.emulators.processing.core import ProcessingEmulator
from kiosk.emulators.processing.cyberplat import CyberplatEmulator
from kiosk.emulators.processing.jsonapi import JsonApiEmulator
from kiosk.emulators.processing.osmp import OsmpEmulator
from kiosk.gateways.base import Approved, Execution, Gateway, execution
from kiosk.gateways.cyberplat import CyberplatGateway
from kiosk.gateways.jsonapi import JsonApiGateway
from kiosk.gateways.osmp import OsmpGateway

from .support import make_request

VENDOR = Path(__file__).parent / "data" / "cyberplat"


@dataclass
class Side:
    """An emulator and how to make its adapter."""

    server: ProcessingEmulator
    connect: Callable[[str], Gateway]
    code: str  # the provider code a route names at this gateway
    setup: tuple[str, ...] = ()  # control lines after each reset


def osmp() -> Side:
    server = OsmpEmulator(profile="osmp-status")
    return Side(server, lambda url: OsmpGateway("g", {"url": url + "/osmp", "timeout": 3,
                                                      "profile": "osmp-status"}), "1",
                ("profile osmp-status",))


def json_api() -> Side:
    server = JsonApiEmulator(key_id="dealer-7", secret="hmac-Secret-42")
    return Side(server, lambda url: JsonApiGateway("g", {"url": url, "key_id": "dealer-7",
                                                         "hmac_secret": "hmac-Secret-42", "timeout": 3}), "1")


def cyberplat() -> Side:
    server = CyberplatEmulator(VENDOR, key_password="1111111111")
    options = {"sd": "17031", "ap": "17032", "op": "17034", "timeout": 3, "status_polls": 1,
               "status_interval_seconds": 0, "secret_key": str(VENDOR / "secret.key"),
               "secret_key_password": "1111111111", "public_keys": str(VENDOR / "pubkeys.key"),
               "server_key_serial": 17033}
    return Side(server, lambda url: CyberplatGateway("g", {**options, "url": url + "/cgi-bin"}), "mts")


@pytest.fixture(scope="module", params=[osmp, json_api, cyberplat], ids=["osmp", "json", "cyberplat"])
def side(request) -> Iterator[Side]:
    made: Side = request.param()
    made.server.start()
    yield made
    made.server.stop()


@pytest.fixture
def gateway(side: Side) -> Iterator[Gateway]:
    side.server.control("reset")
    for line in side.setup:
        side.server.control(line)
    made = side.connect(side.server.base_url)
    yield made
    made.close()


def test_status_proves_a_booked_payment_executed(side, gateway):
    request = make_request(operation=1, code=side.code)
    booked = gateway.pay(request)
    assert isinstance(booked, Approved)
    assert gateway.executed(request) is Execution.EXECUTED
    answer = gateway.status(request)
    assert execution(answer) is Execution.EXECUTED and answer.external_id == booked.external_id


def test_the_pure_query_proves_a_payment_never_sent_not_executed_and_pays_nothing(side, gateway):
    # (OSMP's status() would go on to resend where repeats are safe; executed() never does)
    assert gateway.executed(make_request(operation=2, code=side.code)) is Execution.NOT_EXECUTED
    assert side.server.ledger.bookings == {}


def test_status_without_an_answer_is_unknown(side, gateway):
    side.server.control("fault http-500 3")
    assert gateway.executed(make_request(operation=3, code=side.code)) is Execution.UNKNOWN


def test_cancel_reverses_a_booking_where_the_protocol_has_it(side, gateway):
    request = make_request(operation=4, code=side.code)
    booked = gateway.pay(request)
    assert isinstance(booked, Approved)
    if not gateway.cancellable:
        with pytest.raises(NotImplementedError, match="has no cancel"):
            gateway.cancel(request, booked.external_id)
        return
    assert isinstance(gateway.cancel(request, booked.external_id), Approved)
    assert [b.cancelled for b in side.server.ledger.bookings.values()] == [True]
