"""Start-up reconciliation: whatever a power cut interrupted is finished, nothing is discarded."""

import logging
from zoneinfo import ZoneInfo

from kiosk.catalog import load_catalog
from kiosk.clock import ManualClock
from kiosk.config import DEMO_DIR
from kiosk.drivers.validator import Bill, Stacked
from kiosk.gateways.base import Route
from kiosk.offline_queue.journal import Journal
from kiosk.offline_queue.reconcile import commit_operation, reconcile, recover_bills

CATALOG = load_catalog(DEMO_DIR / "catalog.toml")


def make(tmp_path):
    return Journal(tmp_path / "j.sqlite", "10001", "RUB", ManualClock(ZoneInfo("Europe/Moscow")).now)


def test_collecting_with_money_is_committed_and_empty_is_cancelled(tmp_path, caplog):
    journal = make(tmp_path)
    with_money = journal.open_operation("energo", "1234567890", {}, max_cash=10**7).operation
    journal.record_bill(with_money, 100000, "v", "a")
    empty = journal.open_operation("mts", "9123456789", {}, max_cash=10**7).operation
    with caplog.at_level(logging.INFO, logger="kiosk.offline_queue.reconcile"):
        summary = reconcile(journal, CATALOG)
    assert summary.committed == [with_money] and summary.cancelled == [empty]
    op = journal.get(with_money)
    assert (op.state, op.commit_reason, op.fee, op.credited) == ("committed", "reconciled", 1500, 98500)
    assert journal.get(empty).state == "cancelled"
    assert "reconciled: 1 committed with money, 1 empty cancelled" in caplog.text
    journal.close()


def test_an_interrupted_attempt_becomes_unknown_and_stays_pinned(tmp_path):
    journal = make(tmp_path)
    number = journal.open_operation("mts", "9123456789", {}, max_cash=10**7).operation
    journal.record_bill(number, 10000, "v", "a")
    commit_operation(journal, CATALOG, number, "pay")
    journal.begin_attempt(number, Route("main", "1"), "pay")  # the power went out here
    summary = reconcile(journal, CATALOG)
    assert summary.interrupted_attempts == [number]
    assert journal.attempts(number)[0]["outcome"] == "unknown"
    assert journal.get(number).pinned_gateway == "main"
    journal.close()


def test_bills_the_device_stacked_but_the_journal_missed_are_credited_once(tmp_path):
    journal = make(tmp_path)
    number = journal.open_operation("mts", "9123456789", {}, max_cash=10**7).operation
    journal.record_bill(number, 10000, "v", "e1")
    replay = [Stacked(Bill(10000), "e1"), Stacked(Bill(5000), "e2")]
    assert recover_bills(journal, CATALOG, "v", replay) == [number]
    assert recover_bills(journal, CATALOG, "v", replay) == []  # a second restart changes nothing
    assert journal.get(number).cash == 15000
    journal.close()


def test_a_missed_bill_with_nothing_collecting_gets_its_own_operation(tmp_path):
    journal = make(tmp_path)
    number = journal.open_operation("mts", "9123456789", {}, max_cash=10**7).operation
    journal.record_bill(number, 10000, "v", "e1")
    commit_operation(journal, CATALOG, number, "pay")
    [late] = recover_bills(journal, CATALOG, "v", [Stacked(Bill(5000), "e2")])
    op = journal.get(late)
    assert (op.account, op.cash, op.state, op.commit_reason) == ("9123456789", 5000, "committed", "late_bill")
    assert journal.incidents()[0]["kind"] == "late_bill"
    journal.close()


def test_a_stack_whose_answer_was_lost_is_listed_as_uncertain_not_credited(tmp_path):
    journal = make(tmp_path)
    number = journal.open_operation("mts", "9123456789", {}, max_cash=10**7).operation
    journal.record_bill(number, 10000, "ccnet", "e1")
    journal.stack_commanded(number, 50000, "ccnet")  # the power went out before "stacked" came back
    summary = reconcile(journal, CATALOG)
    assert summary.uncertain_bills == [number]
    assert journal.get(number).cash == 10000  # never credited on a guess
    incident = journal.incidents()[0]
    assert incident["kind"] == "uncertain_bill" and incident["amount"] == 50000 and incident["operation"] == number
    assert reconcile(journal, CATALOG).uncertain_bills == []  # listed once
    journal.close()
