"""Router: circuit breaker per gateway, dealer balance awareness, pinned routes always kept."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from kiosk.catalog import Provider
from kiosk.fees import NoFee
from kiosk.gateways.base import (
    Approved,
    Code,
    Declined,
    Gateway,
    Payable,
    PaymentRequest,
    RetryLater,
    Route,
    Unknown,
    Unreachable,
)
from kiosk.gateways.router import CLOSED, HALF_OPEN, OPEN, Router
from kiosk.money import Money


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Fake(Gateway):
    """A gateway whose check answers and balance are set by the test."""

    protocol = "fake"

    def __init__(self, name: str, options: Mapping[str, object] | None = None, balance: Money | None = None) -> None:
        super().__init__(name, options or {"breaker_failures": 3, "breaker_reset_seconds": 10})
        self._balance = balance
        self.balance_calls = 0
        self.answer: Payable | Unreachable = Payable()

    def check(self, route, account, amount, fields):
        return self.answer

    def pay(self, request: PaymentRequest):
        return Approved("1")

    def status(self, request: PaymentRequest):
        return Approved("1")

    def balance(self) -> Money | None:
        self.balance_calls += 1
        return self._balance


def provider(*gateways: str) -> Provider:
    return Provider(id="mts", name={"en": "MTS"}, category="mobile", inn="7740000076", phone="", logo="",
                    fields=(), min_amount=Money(1000), max_amount=Money(1_500_000), fee=NoFee(), offline=True,
                    online_check=True, routes=tuple(Route(g, "1") for g in gateways))


@pytest.fixture
def clock():
    return Clock()


def names(routes):
    return [r.gateway for r in routes]


def test_breaker_opens_after_consecutive_failures_and_skips_the_route(clock):
    router = Router({"main": Fake("main"), "backup": Fake("backup")}, clock=clock)
    for _ in range(2):
        router.record("main", Unreachable("down"))
    assert router.state("main") == CLOSED
    router.record("main", RetryLater("refused", not_executed=True))
    assert router.state("main") == OPEN
    assert names(router.plan(provider("main", "backup"))) == ["backup"]


def test_an_answer_resets_the_failure_count(clock):
    router = Router({"main": Fake("main")}, clock=clock)
    for outcome in (Unknown(), Unknown(), Declined(Code.ACCOUNT_NOT_FOUND), Unknown(), Unknown()):
        router.record("main", outcome)
    assert router.state("main") == CLOSED


def test_half_open_lets_one_probe_through_and_closes_on_success(clock):
    router = Router({"main": Fake("main")}, clock=clock)
    for _ in range(3):
        router.record("main", Unknown())
    clock.now += 10
    assert router.state("main") == HALF_OPEN
    assert names(router.plan(provider("main"))) == ["main"]
    assert router.plan(provider("main")) == []  # the single probe is out
    router.record("main", Approved("1"))
    assert router.state("main") == CLOSED


def test_failed_probe_opens_again_for_a_full_cool_down(clock):
    router = Router({"main": Fake("main")}, clock=clock)
    for _ in range(3):
        router.record("main", Unknown())
    clock.now += 10
    router.plan(provider("main"))
    router.record("main", Unreachable())
    assert router.state("main") == OPEN
    clock.now += 9
    assert router.plan(provider("main")) == []


def test_a_probe_that_never_reports_does_not_shut_the_gateway_forever(clock):
    router = Router({"main": Fake("main")}, clock=clock)
    for _ in range(3):
        router.record("main", Unknown())
    clock.now += 10
    router.plan(provider("main"))
    clock.now += 10
    assert names(router.plan(provider("main"))) == ["main"]


def test_pinned_gateway_is_planned_even_with_its_circuit_open(clock):
    router = Router({"main": Fake("main"), "backup": Fake("backup")}, clock=clock)
    for _ in range(3):
        router.record("main", Unknown())
    assert names(router.plan(provider("main", "backup"), pinned="main")) == ["main"]
    assert names(router.plan(provider("backup"), pinned="main")) == ["main"]  # route dropped from the catalog


def test_reachable_does_not_spend_the_half_open_probe(clock):
    router = Router({"main": Fake("main")}, clock=clock)
    for _ in range(3):
        router.record("main", Unknown())
    clock.now += 10
    assert router.reachable(provider("main"))
    assert router.reachable(provider("main"))
    assert names(router.plan(provider("main"))) == ["main"]


def test_route_whose_dealer_balance_is_below_the_amount_is_skipped(clock):
    poor = Fake("main", {"balance_ttl_seconds": 30}, balance=Money(50_00))
    router = Router({"main": poor, "backup": Fake("backup")}, clock=clock)
    assert names(router.plan(provider("main", "backup"), amount=Money(100_00))) == ["backup"]
    assert names(router.plan(provider("main", "backup"), amount=Money(50_00))) == ["main", "backup"]
    assert names(router.plan(provider("main", "backup"))) == ["main", "backup"]
    assert poor.balance_calls == 1  # cached for balance_ttl_seconds
    clock.now += 30
    router.plan(provider("main"), amount=Money(1))
    assert poor.balance_calls == 2


def test_unreadable_balance_keeps_the_route(clock):
    class Broken(Fake):
        def balance(self):
            raise OSError("no route to host")

    router = Router({"main": Broken("main")}, clock=clock)
    assert names(router.plan(provider("main"), amount=Money(100))) == ["main"]


def test_check_moves_on_from_an_unreachable_gateway_and_records_it(clock):
    main, backup = Fake("main"), Fake("backup")
    main.answer = Unreachable("down")
    router = Router({"main": main, "backup": backup}, clock=clock)
    outcome, route = router.check(provider("main", "backup"), "9161234567", Money(100_00), {})
    assert isinstance(outcome, Payable) and route.gateway == "backup"
    for _ in range(2):
        router.check(provider("main", "backup"), "9161234567", Money(100_00), {})
    assert router.state("main") == OPEN
