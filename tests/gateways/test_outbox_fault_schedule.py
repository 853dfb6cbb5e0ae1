"""The real journal and outbox against two real processing emulators under random fault schedules.

test_fault_schedule.py proves the adapters with a delivery loop of its own; this proves the product: the
Outbox and Journal that a terminal runs, with the OSMP adapter as the main route and the JSON API as the backup.
Whatever the schedule of dropped connections, lost replies, hostile replies and outages: nothing is ever booked
twice, and once the faults stop every operation is booked exactly once (or, for an unknown account, declined
with nothing booked). The schedule runs once per provider profile; with a provider that re-books every repeat,
an unknown outcome goes to a person (needs attention, booked at most once) instead of being resent.
"""

from __future__ import annotations

import random
import shutil
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from kiosk.catalog import Catalog, Category
from kiosk.clock import ManualClock
from kiosk.gateways.router import Router
from kiosk.offline_queue.journal import DELIVERED, NEEDS_ATTENTION, Journal, idempotency_key, txn_id
from kiosk.offline_queue.outbox import Outbox
from kiosk.offline_queue.reconcile import commit_operation

from .fault_rig import (
    FAULTS,
    PROFILES,
    PROVIDER,
    Servers,
    heal,
    osmp_bookings,
    running_servers,
    switched_gateways,
)

SERVERS: Servers = {}
SECRET = "outbox-secret"
CATALOG = Catalog(1, (Category("mobile", {"ru": "Связь", "en": "Mobile"}),), {"mts": PROVIDER})
TERMINAL = "10001"


def bookings(journal: Journal, number: int) -> dict[str, int]:
    """Where one operation is booked, per gateway (each emulator keys bookings by its protocol's id)."""
    nonce = journal.get(number).nonce
    return {"main": osmp_bookings(SERVERS["main"], txn_id(TERMINAL, number, nonce)),
            "backup": int(SERVERS["backup"].ledger.find(idempotency_key(TERMINAL, number, nonce)) is not None)}


class OutboxDelivery(RuleBasedStateMachine):
    """Payments committed to a real journal, faults and outages, and the real outbox's delivery cycles."""

    PROFILE = "osmp"

    def __init__(self) -> None:
        super().__init__()
        self.switches, self.gateways = switched_gateways(SERVERS, SECRET, self.PROFILE)
        self.clock = ManualClock(ZoneInfo("Europe/Moscow"))
        self.folder = Path(tempfile.mkdtemp(prefix="kiosk-outbox-"))
        self.journal = Journal(self.folder / "journal.sqlite", TERMINAL, "RUB", self.clock.now)
        self.outbox = Outbox(self.journal, Router(self.gateways, clock=self.clock.monotonic), CATALOG,
                             concurrency=1, lifetime=10**9, rng=random.Random(0))
        self.numbers: list[int] = []

    @rule(missing=st.booleans(), kopecks=st.integers(100, 1_000_000))
    def new_payment(self, missing: bool, kopecks: int) -> None:
        account = "9160000000" if missing else f"916{len(self.numbers) + 1:07d}"
        number = self.journal.open_operation("mts", account, {"account": account}, max_cash=kopecks).operation
        self.journal.record_bill(number, kopecks, "virtual", f"bill-{number}")
        commit_operation(self.journal, CATALOG, number, "pay")
        self.numbers.append(number)

    @rule(gateway=st.sampled_from(["main", "backup"]), fault=st.sampled_from(FAULTS),
          command=st.sampled_from([None, "pay", "status"]), count=st.integers(1, 3))
    def inject_fault(self, gateway: str, fault: str, command: str | None, count: int) -> None:
        SERVERS[gateway].faults.add(fault, count, command)

    @rule(gateway=st.sampled_from(["main", "backup"]), down=st.booleans())
    def outage(self, gateway: str, down: bool) -> None:
        self.switches[gateway].down = down

    @rule()
    def deliver(self) -> None:
        self.clock.advance(1)
        for number in self.numbers:
            self.outbox.deliver(number)  # a no-op for operations already delivered or declined

    @invariant()
    def never_booked_twice(self) -> None:
        for number in self.numbers:
            where = bookings(self.journal, number)
            assert sum(where.values()) <= 1, (number, where, self.journal.attempts(number))
            op = self.journal.get(number)
            if op.state == DELIVERED:
                assert where[op.gateway] == 1, (number, where, self.journal.attempts(number))
            if op.state == NEEDS_ATTENTION:
                limit = 1 if "books a repeated pay again" in (op.attention_reason or "") else 0
                assert sum(where.values()) <= limit, (number, where, self.journal.attempts(number))

    def teardown(self) -> None:
        try:
            heal(SERVERS, self.switches)
            for _ in range(20):
                if not self.journal.in_state("committed"):
                    break
                self.clock.advance(5)  # past every breaker's cool-down
                self.deliver()
            for number in self.numbers:
                op, where = self.journal.get(number), bookings(self.journal, number)
                if op.state == NEEDS_ATTENTION and "books a repeated pay again" in (op.attention_reason or ""):
                    assert self.PROFILE == "rebooking" and sum(where.values()) <= 1, (number, where)
                elif op.account.endswith("0000"):
                    assert op.state == NEEDS_ATTENTION and sum(where.values()) == 0, (number, where)
                else:
                    assert op.state == DELIVERED and sum(where.values()) == 1, (
                        number, where, self.journal.attempts(number))
        finally:
            self.journal.close()
            shutil.rmtree(self.folder, ignore_errors=True)
            for gateway in self.gateways.values():
                gateway.close()


@pytest.fixture(scope="module", autouse=True)
def servers():
    with running_servers(SERVERS, SECRET):
        yield


def schedules_for(profile: str) -> type:
    """The state machine's test case with the OSMP emulator and adapter playing one provider profile."""
    machine = type(f"OutboxDelivery_{profile.replace('-', '_')}", (OutboxDelivery,), {"PROFILE": profile})
    machine.TestCase.settings = settings(max_examples=12, stateful_step_count=25, deadline=None,
                                         derandomize=True, database=None,
                                         suppress_health_check=[HealthCheck.too_slow])
    return pytest.mark.slow(machine.TestCase)


(TestOutboxOsmp, TestOutboxOsmpStatus, TestOutboxUbilling, TestOutboxAbillsOld,
 TestOutboxRebooking) = (schedules_for(profile) for profile in PROFILES)
