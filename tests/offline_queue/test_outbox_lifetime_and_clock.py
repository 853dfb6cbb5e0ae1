"""The outbox never gives up on an unknown outcome without asking, and blames a wrong clock, not the payment."""

from __future__ import annotations

import dataclasses
import random
import time as real_time
import types
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from kiosk.catalog import Catalog, Category
from kiosk.clock import ManualClock
from kiosk.emulators.processing.jsonapi import JsonApiEmulator
from kiosk.gateways import jsonapi
from kiosk.gateways.base import Route
from kiosk.gateways.jsonapi import JsonApiGateway
from kiosk.gateways.router import Router
from kiosk.offline_queue.journal import Journal
from kiosk.offline_queue.outbox import Outbox
from kiosk.offline_queue.reconcile import commit_operation

from . import test_outbox

CATALOG = test_outbox.CATALOG
harness = test_outbox.harness  # the same fixture: a journal, two virtual gateways, an outbox

TZ = ZoneInfo("Europe/Moscow")
SECRET = "clock-secret"


def test_a_lost_reply_past_its_lifetime_is_asked_about_and_found_booked(harness):
    # Booked at the gateway, reply lost; then the clock jumps a day ahead before the next cycle.
    harness.main.set_mode("lose-reply")
    number = harness.committed()
    assert harness.outbox.deliver(number) == "committed"
    harness.main.set_mode("ok")
    harness.clock.advance(24 * 3600)
    assert harness.outbox.deliver(number) == "delivered"
    assert [a["verb"] for a in harness.journal.attempts(number)] == ["pay", "status"]
    assert len(harness.bookings(number)) == 1


def test_an_unanswered_status_at_the_end_of_the_lifetime_says_booked_unknown(harness):
    harness.main.set_mode("lose-reply")
    number = harness.committed()
    harness.outbox.deliver(number)
    harness.main.set_mode("down")
    harness.clock.advance(3601)
    assert harness.outbox.deliver(number) == "needs_attention"
    op = harness.journal.get(number)
    assert "booked: unknown" in op.attention_reason and op.booked() == "booked: unknown"
    assert op.pinned_gateway == "main"  # a requeue asks that gateway again, never another
    assert harness.journal.attempts(number)[-1]["verb"] == "status"


def test_booked_unknown_is_distinct_from_declined(harness):
    harness.main.set_mode("decline")
    harness.backup.set_mode("decline")
    number = harness.committed()
    assert harness.outbox.deliver(number) == "needs_attention"
    assert harness.journal.get(number).booked() == "not booked"


def test_a_requeue_restarts_the_lifetime(harness):
    harness.main.set_mode("down")
    harness.backup.set_mode("down")
    number = harness.committed()
    harness.outbox.deliver(number)
    harness.clock.advance(3601)
    assert harness.outbox.deliver(number) == "needs_attention"
    harness.journal.requeue(number)
    # Still down: the requeued operation waits and retries instead of bouncing back at once.
    assert harness.outbox.deliver(number) == "committed"
    harness.main.set_mode("ok")
    harness.clock.advance(120)
    assert harness.outbox.deliver(number) == "delivered"


@pytest.fixture(scope="module")
def json_server():
    server = JsonApiEmulator(secret=SECRET)
    server.start()
    yield server
    server.stop()


def test_a_signature_refused_because_the_clock_is_behind_is_retried_later_with_a_clock_incident(
        tmp_path, json_server, monkeypatch):
    behind = 600.0  # ten minutes: outside the server's 5-minute signature window
    monkeypatch.setattr(jsonapi, "time", types.SimpleNamespace(time=lambda: real_time.time() - behind))
    clock = ManualClock(TZ, datetime.fromtimestamp(real_time.time() - behind, TZ))
    journal = Journal(tmp_path / "journal.sqlite", "10001", "RUB", clock.now)
    gateway = JsonApiGateway("backup", {"url": json_server.base_url, "key_id": "demo", "hmac_secret": SECRET,
                                        "timeout": 5})
    provider = dataclasses.replace(CATALOG.providers["mts"], routes=(Route("backup", "1"),))
    catalog = Catalog(1, (Category("mobile", {"en": "Mobile"}),), {"mts": provider})
    outbox = Outbox(journal, Router({"backup": gateway}), catalog, concurrency=1, lifetime=86400,
                    rng=random.Random(0))
    try:
        op = journal.open_operation("mts", "9161234567", {}, max_cash=10000)
        journal.record_bill(op.operation, 10000, "v", "e1")
        commit_operation(journal, catalog, op.operation, "pay")
        assert outbox.deliver(op.operation) == "committed"  # not a final decline
        after = journal.get(op.operation)
        assert (after.state, after.last_code, after.pinned_gateway) == ("committed", "clock", None)
        kinds = [i["kind"] for i in journal.incidents()]
        assert "clock" in kinds and "clock_skew" in kinds
        skew = journal.clock_skew()
        assert skew is not None and -700 < skew["seconds"] < -500
        # the clock is set right: the very same payment goes through
        monkeypatch.setattr(jsonapi, "time", real_time)
        clock.advance(behind + 3600)
        assert outbox.deliver(op.operation) == "delivered"
    finally:
        outbox.stop()
        gateway.close()
        journal.close()


def test_a_server_date_seen_before_this_outbox_existed_is_not_its_clock_evidence(tmp_path):
    """Server dates are kept per process: a Date another terminal (an earlier test) saw must not become this
    terminal's clock skew; one seen after its outbox started does."""
    from email.utils import format_datetime

    from kiosk.gateways.deadline import SERVER_DATES

    SERVER_DATES.note("127.0.0.9", format_datetime(datetime(2030, 1, 1, tzinfo=UTC), usegmt=True))
    h = test_outbox.Harness(tmp_path)
    try:
        number = h.committed()
        assert h.outbox.deliver(number) == "delivered"  # the virtual gateways send no Date
        assert h.journal.clock_skew() is None
        SERVER_DATES.note("127.0.0.9", format_datetime(datetime(2030, 1, 1, tzinfo=UTC), usegmt=True))
        assert h.outbox.deliver(h.committed()) == "delivered"
        skew = h.journal.clock_skew()
        assert skew is not None and skew["source"] == "127.0.0.9"
    finally:
        h.close()
