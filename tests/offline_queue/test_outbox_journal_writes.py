"""The journal writes the outbox makes from many delivery threads: they share commits and stay independent."""

from __future__ import annotations

import sqlite3
import threading
import time
from zoneinfo import ZoneInfo

import pytest

from kiosk.catalog import load_catalog
from kiosk.clock import ManualClock
from kiosk.config import DEMO_DIR
from kiosk.gateways.base import Route
from kiosk.offline_queue.journal import Journal
from kiosk.offline_queue.reconcile import commit_operation

CATALOG = load_catalog(DEMO_DIR / "catalog.toml")


@pytest.fixture
def journal(tmp_path):
    j = Journal(tmp_path / "journal.sqlite", "10001", "RUB", ManualClock(ZoneInfo("Europe/Moscow")).now)
    yield j
    j.close()


def committed(journal: Journal) -> int:
    op = journal.open_operation("mts", "9123456789", {"account": "9123456789"}, max_cash=10000)
    journal.record_bill(op.operation, 10000, "virtual", f"e{op.operation}")
    return commit_operation(journal, CATALOG, op.operation, "pay").operation


def test_attempts_from_many_threads_are_all_journaled_with_their_outcomes(journal, tmp_path):
    numbers = [committed(journal) for _ in range(24)]
    barrier = threading.Barrier(len(numbers))

    def deliver(number: int) -> None:
        barrier.wait()
        attempt = journal.begin_attempt(number, Route("main", "1"), "pay")
        journal.settle(number, state="delivered", unpin=True, gateway="main", external_id=f"X{number}",
                       finish=(attempt, "approved", "", "OK", f"X{number}"))

    threads = [threading.Thread(target=deliver, args=(n,)) for n in numbers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # read back through a second connection: what is there is committed, not just in this connection's cache
    other = sqlite3.connect(tmp_path / "journal.sqlite")
    try:
        rows = other.execute("SELECT operation, outcome, external_id, finished_at IS NOT NULL FROM attempts "
                             "ORDER BY operation").fetchall()
        states = dict(other.execute("SELECT operation, state FROM operations").fetchall())
    finally:
        other.close()
    assert rows == [(n, "approved", f"X{n}", 1) for n in numbers]
    assert all(states[n] == "delivered" for n in numbers)


def test_a_failing_write_fails_alone_and_the_others_in_its_commit_land(journal):
    number = committed(journal)
    attempt = journal.begin_attempt(number, Route("main", "1"), "pay")
    errors: list[BaseException] = []

    def bad() -> None:
        try:
            journal._grouped(lambda conn: conn.execute("INSERT INTO attempts (operation) VALUES (NULL)"))
        except BaseException as exc:
            errors.append(exc)

    def good() -> None:
        journal.settle(number, next_attempt_ms=1, finish=(attempt, "unknown", "", "lost", ""))

    with journal._lock:  # hold the journal so both writes queue up for one commit
        threads = [threading.Thread(target=bad), threading.Thread(target=good)]
        for thread in threads:
            thread.start()
        while len(journal._waiting) < 2:
            time.sleep(0.001)
    for thread in threads:
        thread.join()
    assert len(errors) == 1 and isinstance(errors[0], sqlite3.IntegrityError)
    assert journal.attempts(number)[0]["outcome"] == "unknown" and journal.get(number).next_attempt_ms == 1
