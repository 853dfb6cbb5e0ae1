"""The outbox: exactly-once delivery through lost replies, outages, failover, restarts and lifetimes."""

import random
import time
from zoneinfo import ZoneInfo

import pytest

from kiosk.catalog import load_catalog
from kiosk.clock import ManualClock
from kiosk.config import DEMO_DIR
from kiosk.gateways.base import Code, Declined, Unknown
from kiosk.gateways.router import Router
from kiosk.gateways.virtual import VirtualGateway
from kiosk.offline_queue.journal import Journal
from kiosk.offline_queue.outbox import Outbox
from kiosk.offline_queue.reconcile import commit_operation

CATALOG = load_catalog(DEMO_DIR / "catalog.toml")


class Harness:
    """A journal, two virtual gateways and an outbox on a manual clock."""

    def __init__(self, tmp_path, main="ok", backup="ok"):
        self.clock = ManualClock(ZoneInfo("Europe/Moscow"))
        self.tmp_path = tmp_path
        self.journal = Journal(tmp_path / "journal.sqlite", "10001", "RUB", self.clock.now)
        self.main = VirtualGateway("main", {"mode": main, "ledger": str(tmp_path / "main.sqlite")})
        self.backup = VirtualGateway("backup", {"mode": backup, "ledger": str(tmp_path / "backup.sqlite")})
        self.outbox = self._outbox()

    def _outbox(self):
        return Outbox(self.journal, Router({"main": self.main, "backup": self.backup}), CATALOG,
                      concurrency=2, backoff_base=5, backoff_max=60, lifetime=3600, rng=random.Random(1))

    def committed(self, provider="mts", account="9123456789", cash=10000):
        op = self.journal.open_operation(provider, account, {"account": account}, max_cash=cash)
        self.journal.record_bill(op.operation, cash, "virtual", f"e{op.operation}")
        return commit_operation(self.journal, CATALOG, op.operation, "pay").operation

    def bookings(self, number):
        return [b for g in (self.main, self.backup) for b in g.bookings() if b["operation"] == number]

    def restart(self):
        """Everything in memory is lost; the files stay."""
        self.outbox.stop()
        self.journal.close()
        self.journal = Journal(self.tmp_path / "journal.sqlite", "10001", "RUB", self.clock.now)
        self.outbox = self._outbox()

    def close(self):
        self.outbox.stop()
        self.journal.close()
        self.main.close()
        self.backup.close()


@pytest.fixture
def harness(tmp_path):
    h = Harness(tmp_path)
    yield h
    h.close()


def test_approved_is_delivered_with_the_external_id(harness):
    number = harness.committed()
    assert harness.outbox.deliver(number) == "delivered"
    op = harness.journal.get(number)
    assert op.external_id == f"MAIN-{op.idempotency_key}" and op.gateway == "main" and op.pinned_gateway is None
    assert op.idempotency_key.startswith("T10001-0000000001-")
    assert [a["outcome"] for a in harness.journal.attempts(number)] == ["approved"]


def test_lost_reply_after_booking_is_resolved_by_status_not_rebooked(harness):
    harness.main.set_mode("lose-reply")
    number = harness.committed()
    assert harness.outbox.deliver(number) == "committed"
    op = harness.journal.get(number)
    assert op.pinned_gateway == "main" and op.last_outcome == "unknown"
    harness.main.set_mode("ok")
    assert harness.outbox.deliver(number) == "delivered"
    assert [a["verb"] for a in harness.journal.attempts(number)] == ["pay", "status"]
    assert len(harness.bookings(number)) == 1


def test_unknown_outcome_never_fails_over_to_another_gateway(harness, monkeypatch):
    harness.main.set_mode("timeout-before")
    monkeypatch.setattr(harness.main, "status", lambda request: Unknown("still no answer"))
    number = harness.committed()
    for _ in range(5):
        assert harness.outbox.deliver(number) == "committed"
        harness.clock.advance(120)
    assert {a["gateway"] for a in harness.journal.attempts(number)} == {"main"}
    assert harness.backup.requests == 0


def test_status_that_proves_nothing_was_booked_unpins_and_allows_failover(harness):
    harness.main.set_mode("timeout-before")
    number = harness.committed()
    harness.outbox.deliver(number)
    harness.main.set_mode("down")
    # main's status cannot be asked while it is down: still pinned
    assert harness.outbox.deliver(number) == "committed"
    assert harness.journal.get(number).pinned_gateway == "main"
    harness.main.set_mode("ok")
    assert harness.outbox.deliver(number) == "delivered"  # status: never registered → pay again
    assert len(harness.bookings(number)) == 1


def test_refused_connection_fails_over_to_the_backup_route(harness):
    harness.main.set_mode("down")
    number = harness.committed()
    assert harness.outbox.deliver(number) == "delivered"
    assert [(a["gateway"], a["outcome"]) for a in harness.journal.attempts(number)] == [
        ("main", "retry_not_executed"), ("backup", "approved")]
    assert harness.bookings(number)[0]["gateway"] == "backup"


def test_all_routes_down_backs_off_exponentially_with_jitter(harness):
    harness.main.set_mode("down")
    harness.backup.set_mode("down")
    number = harness.committed()
    delays = []
    for _ in range(5):
        now_ms = int(harness.clock.now().timestamp() * 1000)
        assert harness.outbox.deliver(number) == "committed"
        delays.append((harness.journal.get(number).next_attempt_ms - now_ms) / 1000)
        harness.clock.advance(delays[-1])
    assert all(0 < delay <= 60 for delay in delays)
    assert delays[0] < delays[-1]
    assert delays[-1] >= 30  # capped at 60, never below half of it


def test_backoff_policy_bounds():
    outbox = Outbox.__new__(Outbox)
    outbox.backoff_base, outbox.backoff_max, outbox.rng = 5.0, 900.0, random.Random(3)
    for attempts in range(1, 20):
        nominal = min(900.0, 5.0 * 2 ** (attempts - 1))
        for _ in range(20):
            assert nominal / 2 <= outbox.backoff(attempts) <= nominal


def test_final_decline_needs_attention_and_stays_visible(harness):
    number = harness.committed(account="9120000000")
    assert harness.outbox.deliver(number) == "needs_attention"
    op = harness.journal.get(number)
    assert "declined by main" in op.attention_reason and op.cash == 10000
    assert harness.journal.in_state("needs_attention")[0].operation == number
    harness.journal.requeue(number)
    assert harness.journal.get(number).state == "committed"


def test_route_decline_fails_over(harness, monkeypatch):
    monkeypatch.setattr(harness.main, "pay", lambda request: Declined(Code.DEALER_BALANCE_LOW, "no funds"))
    number = harness.committed()
    assert harness.outbox.deliver(number) == "delivered"
    assert harness.bookings(number)[0]["gateway"] == "backup"


def test_not_delivered_within_its_lifetime_needs_attention(harness):
    harness.main.set_mode("down")
    harness.backup.set_mode("down")
    number = harness.committed()
    harness.outbox.deliver(number)
    harness.clock.advance(3601)
    assert harness.outbox.deliver(number) == "needs_attention"
    assert "not delivered within 1 h" in harness.journal.get(number).attention_reason


def test_an_adapter_that_raises_is_treated_as_unknown(harness, monkeypatch):
    def boom(request):
        raise RuntimeError("bug in adapter")

    monkeypatch.setattr(harness.main, "pay", boom)
    number = harness.committed()
    assert harness.outbox.deliver(number) == "committed"
    op = harness.journal.get(number)
    assert op.pinned_gateway == "main" and op.last_outcome == "unknown"
    assert harness.backup.requests == 0


def test_pin_survives_a_restart(harness):
    harness.main.set_mode("lose-reply")
    number = harness.committed()
    harness.outbox.deliver(number)
    harness.restart()
    harness.main.set_mode("ok")
    assert harness.outbox.deliver(number) == "delivered"
    assert len(harness.bookings(number)) == 1


def test_run_due_delivers_many_with_bounded_concurrency(harness):
    numbers = [harness.committed(cash=1000 * (i + 1)) for i in range(20)]
    while harness.outbox.run_due(wait=True):
        pass
    assert all(harness.journal.get(n).state == "delivered" for n in numbers)
    assert sum(len(harness.bookings(n)) for n in numbers) == 20


def test_background_loop_delivers_and_stops(harness):
    number = harness.committed()
    harness.outbox.start()
    harness.outbox.kick()
    for _ in range(200):
        if harness.journal.get(number).state == "delivered":
            break
        time.sleep(0.01)
    harness.outbox.stop()
    assert harness.journal.get(number).state == "delivered"
