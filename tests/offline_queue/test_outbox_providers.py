"""The real outbox and journal against the OSMP emulator playing real providers, and its scheduling.

How an unknown outcome is resolved comes from the gateway's profile: a status query, an identical resend, or a
person; never a resend to a provider that books every repeat again. Scheduling: one hanging request does not
hold up the rest, and each gateway gets no more requests at once than its slots.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import httpx
import pytest

from kiosk.catalog import Catalog, Category, Provider
from kiosk.clock import ManualClock, SystemClock
from kiosk.emulators.processing.osmp import OsmpEmulator
from kiosk.fees import NoFee
from kiosk.gateways.base import Gateway, Route
from kiosk.gateways.osmp import OsmpGateway
from kiosk.gateways.router import Router
from kiosk.money import Money
from kiosk.offline_queue.journal import DELIVERED, NEEDS_ATTENTION, Journal
from kiosk.offline_queue.outbox import Outbox
from kiosk.offline_queue.reconcile import commit_operation


def provider(pid: str, gateway: str) -> Provider:
    """A provider paid through one gateway."""
    return Provider(id=pid, name={"en": pid}, category="mobile", inn="7740000076", phone="", logo="", fields=(),
                    min_amount=Money(100), max_amount=Money(1_500_000), fee=NoFee(), offline=True,
                    online_check=False, routes=(Route(gateway, "1"),))


CATALOG = Catalog(1, (Category("mobile", {"en": "Mobile"}),),
                  {"mts": provider("mts", "main"), "beeline": provider("beeline", "other")})


class Counting(httpx.BaseTransport):
    """A real HTTP transport that counts how many requests are at the gateway at once."""

    def __init__(self) -> None:
        self.inner, self.lock = httpx.HTTPTransport(), threading.Lock()
        self.now = self.peak = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        try:
            return self.inner.handle_request(request)
        finally:
            with self.lock:
                self.now -= 1

    def close(self) -> None:
        self.inner.close()


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, OsmpEmulator]]:
    running = {"main": OsmpEmulator(), "other": OsmpEmulator()}
    for server in running.values():
        server.start()
    yield running
    for server in running.values():
        server.stop()


class Rig:
    """A journal, OSMP gateways over counting transports and an outbox; each server playing `profile`."""

    def __init__(self, tmp_path, servers, profile: str = "osmp", clock=None, **options: object) -> None:
        self.servers = servers
        for server in servers.values():
            server.control("reset")
            server.control(f"profile {profile}")
        self.clock = clock or ManualClock(ZoneInfo("Europe/Moscow"))
        self.journal = Journal(tmp_path / "journal.sqlite", "10001", "RUB", self.clock.now)
        self.transports = {name: Counting() for name in servers}
        self.gateways: dict[str, Gateway] = {
            name: OsmpGateway(name, {"url": server.base_url + "/osmp", "timeout": 3, "profile": profile,
                                     **options}, transport=self.transports[name])
            for name, server in servers.items()}
        self.outbox = Outbox(self.journal, Router(self.gateways), CATALOG, concurrency=4, lifetime=10**9,
                             rng=random.Random(0))

    def committed(self, provider_id: str = "mts", kopecks: int = 100_00) -> int:
        op = self.journal.open_operation(provider_id, "9161234567", {"account": "9161234567"}, max_cash=kopecks)
        self.journal.record_bill(op.operation, kopecks, "virtual", f"bill-{op.operation}")
        return commit_operation(self.journal, CATALOG, op.operation, "pay").operation

    def verbs(self, number: int) -> list[str]:
        return [a["verb"] for a in self.journal.attempts(number)]

    def close(self) -> None:
        self.outbox.stop()
        self.journal.close()
        for gateway in self.gateways.values():
            gateway.close()


@pytest.fixture
def rig(tmp_path, servers) -> Iterator:
    made: list[Rig] = []

    def make(profile: str = "osmp", **kwargs: object) -> Rig:
        made.append(Rig(tmp_path, servers, profile, **kwargs))
        return made[-1]

    yield make
    for each in made:
        each.close()


# -- resolution by profile ----------------------------------------------------------------------------
def test_lost_reply_at_a_rebooking_provider_goes_to_a_person_and_is_never_resent(rig):
    r = rig("rebooking")
    r.servers["main"].control("fault drop-after-booking 1 pay")
    number = r.committed()
    assert r.outbox.deliver(number) == NEEDS_ATTENTION
    op = r.journal.get(number)
    assert "books a repeated pay again" in op.attention_reason and op.pinned_gateway == "main"
    r.outbox.deliver(number)  # nothing more happens to it
    assert r.verbs(number) == ["pay"] and len(r.servers["main"].ledger.bookings) == 1


def test_a_rebooking_provider_that_said_not_now_is_paid_again(rig):
    r = rig("rebooking")
    r.servers["main"].control("balance 0")  # answered with result 1: a definite "not booked, repeat later"
    number = r.committed()
    assert r.outbox.deliver(number) == "committed"
    r.servers["main"].control("balance 100000000")
    r.clock.advance(3600)
    assert r.outbox.deliver(number) == DELIVERED
    assert r.verbs(number) == ["pay", "resend"] and len(r.servers["main"].ledger.bookings) == 1


def test_ubilling_duplicate_answer_delivers_the_lost_reply_once(rig):
    r = rig("ubilling")
    r.servers["main"].control("fault drop-after-booking 1 pay")
    number = r.committed()
    assert r.outbox.deliver(number) == "committed"
    r.clock.advance(3600)
    assert r.outbox.deliver(number) == DELIVERED
    op = r.journal.get(number)
    assert r.verbs(number) == ["pay", "resend"] and "300" in op.last_message
    assert len(r.servers["main"].ledger.bookings) == 1


def test_a_provider_with_a_status_query_is_asked_not_resent(rig):
    r = rig("osmp-status")
    r.servers["main"].control("fault drop-after-booking 1 pay")
    number = r.committed()
    r.outbox.deliver(number)
    r.clock.advance(3600)
    assert r.outbox.deliver(number) == DELIVERED
    assert r.verbs(number) == ["pay", "status"] and len(r.servers["main"].ledger.bookings) == 1


def test_an_html_page_instead_of_the_reply_stays_unknown_and_the_journal_says_why(rig):
    r = rig()
    r.servers["main"].control("fault html-page 1 pay")
    number = r.committed()
    assert r.outbox.deliver(number) == "committed"
    op = r.journal.get(number)
    assert op.last_outcome == "unknown" and "HTML page" in op.last_message
    assert "HTML page" in r.journal.attempts(number)[0]["message"]


# -- scheduling ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_one_hanging_request_does_not_hold_up_the_others(rig):
    r = rig(clock=SystemClock(ZoneInfo("Europe/Moscow")))
    r.servers["main"].control("hang 2.5")
    r.servers["main"].control("fault timeout 1 pay")
    numbers = [r.committed() for _ in range(20)]
    started = time.monotonic()
    r.outbox.start()
    while time.monotonic() - started < 10:
        delivered = [n for n in numbers if r.journal.get(n).state == DELIVERED]
        if len(delivered) >= 19:
            break
        time.sleep(0.02)
    elapsed = time.monotonic() - started
    hanging = [n for n in numbers if n not in delivered]
    # the old outbox waited for its whole batch: the 19 others took as long as the hanging one
    assert len(delivered) == 19 and elapsed < 2.4, (len(delivered), elapsed)
    assert r.journal.get(hanging[0]).state == "committed"  # still at the gateway, its own deadline not reached
    r.outbox.stop()
    assert r.journal.get(hanging[0]).state == DELIVERED
    assert len(r.servers["main"].ledger.bookings) == 20


def test_each_gateway_gets_no_more_requests_at_once_than_its_slots(rig):
    r = rig(clock=SystemClock(ZoneInfo("Europe/Moscow")), max_concurrency=2)
    r.servers["main"].control("latency 150")
    mts = [r.committed("mts") for _ in range(6)]
    beeline = [r.committed("beeline") for _ in range(6)]
    while r.outbox.run_due(wait=True):
        pass
    assert all(r.journal.get(n).state == DELIVERED for n in mts + beeline)
    assert r.transports["main"].peak == 2 and r.transports["other"].peak <= 2


@pytest.mark.slow
def test_a_gateway_whose_slots_hang_does_not_stop_another_gateway(rig):
    r = rig(clock=SystemClock(ZoneInfo("Europe/Moscow")), max_concurrency=1)
    r.servers["main"].control("hang 2")
    r.servers["main"].control("fault timeout 1 pay")
    stuck = r.committed("mts")
    others = [r.committed("beeline") for _ in range(5)]
    started = time.monotonic()
    r.outbox.start()
    while time.monotonic() - started < 10 and not all(r.journal.get(n).state == DELIVERED for n in others):
        time.sleep(0.02)
    assert time.monotonic() - started < 1.9 and r.journal.get(stuck).state == "committed"
    r.outbox.stop()
    assert r.journal.get(stuck).state == DELIVERED
