"""Start-up reconciliation: whatever a power cut interrupted is finished, nothing is discarded."""

import logging
from zoneinfo import ZoneInfo

from kiosk.catalog import load_catalog
from kiosk.clock import ManualClock
from kiosk.config import DEMO_DIR
from kiosk.drivers.validator import Bill, Stacked
from kiosk.gateways.base import Route
from kiosk.offline_queue.journal import Journal
from kiosk.offline_queue.reconcile import (
    check_cassette,
    commit_operation,
    credit_reported_stack,
    reconcile,
    recover_bills,
    settle_start_up,
)

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
    journal.stack_commanded(number, 5000, "v")  # STACK was sent; the crash came before "stacked" was journaled
    replay = [Stacked(Bill(10000), "e1"), Stacked(Bill(5000), "e2")]
    assert recover_bills(journal, CATALOG, "v", replay) == [number]
    assert recover_bills(journal, CATALOG, "v", replay) == []  # a second restart changes nothing
    assert journal.get(number).cash == 15000
    assert journal.pending_stacks() == []
    journal.close()


def test_a_replayed_bill_with_no_pending_stack_is_owed_cash_not_credited_to_a_guessed_account(tmp_path):
    # A restored journal plus a device replaying its recent stacks: the bill is not the last payer's to guess.
    journal = make(tmp_path)
    number = journal.open_operation("mts", "9123456789", {}, max_cash=10**7).operation
    journal.record_bill(number, 10000, "v", "e1")
    commit_operation(journal, CATALOG, number, "pay")
    [held] = recover_bills(journal, CATALOG, "v", [Stacked(Bill(5000), "e2")])
    op = journal.get(held)
    assert (op.account, op.provider, op.cash, op.fee, op.state) == ("", "unassigned", 5000, 0, "needs_attention")
    assert op.booked() == "not sent" and "owed cash" in op.attention_reason
    owed = [i for i in journal.incidents() if i["kind"] == "owed_cash"]
    assert len(owed) == 1 and owed[0]["amount"] == 5000
    assert "restore_detected" in [i["kind"] for i in journal.incidents()]  # the device knows more than the journal
    assert journal.get(number).cash == 10000  # the previous payer's payment is untouched
    assert recover_bills(journal, CATALOG, "v", [Stacked(Bill(5000), "e2")]) == []  # held once
    journal.close()


def test_a_bill_with_no_pending_stack_is_not_credited_to_whatever_is_collecting(tmp_path):
    journal = make(tmp_path)
    number = journal.open_operation("mts", "9123456789", {}, max_cash=10**7).operation
    [held] = recover_bills(journal, CATALOG, "v", [Stacked(Bill(5000), "e9")])
    assert held != number and journal.get(number).cash == 0
    journal.close()


def test_a_device_report_of_a_pending_stack_credits_that_operation(tmp_path):
    # CCNET at restart: "bill stacked" (or power-up with a bill in the stacker) and the journal's pending STACK
    journal = make(tmp_path)
    number = journal.open_operation("mts", "9123456789", {}, max_cash=10**7).operation
    journal.stack_commanded(number, 10000, "ccnet")
    summary = reconcile(journal, CATALOG, keep_pending=True)
    assert journal.get(number).state == "collecting" and summary.cancelled == []
    assert credit_reported_stack(journal, "ccnet", None, "device reported stacked at start-up") == number
    summary = settle_start_up(journal, CATALOG, summary)
    op = journal.get(number)
    assert (op.cash, op.state) == (10000, "committed") and summary.committed == [number]
    assert summary.uncertain_bills == [] and "uncertain_bill" not in [i["kind"] for i in journal.incidents()]
    journal.close()


def test_a_pending_stack_the_device_says_nothing_about_stays_uncertain_after_start_up(tmp_path):
    journal = make(tmp_path)
    number = journal.open_operation("mts", "9123456789", {}, max_cash=10**7).operation
    journal.stack_commanded(number, 10000, "ccnet")
    summary = settle_start_up(journal, CATALOG, reconcile(journal, CATALOG, keep_pending=True))
    assert summary.uncertain_bills == [number] and summary.cancelled == [number]
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


def test_bills_the_cassette_holds_beyond_the_journal_are_owed_and_numbering_jumps(tmp_path):
    # The validator's own count (its cassette's bills) is evidence of a restore that no replay reaches.
    journal = make(tmp_path)
    number = journal.open_operation("mts", "9123456789", {}, max_cash=10**7).operation
    journal.record_bill(number, 10000, "v", "e1")
    commit_operation(journal, CATALOG, number, "pay")
    held = check_cassette(journal, "v", [("e1", 10000), ("gone-1", 5000), ("gone-2", 100000)])
    assert [journal.get(n).cash for n in held] == [5000, 100000]
    assert all(journal.get(n).state == "needs_attention" and journal.get(n).account == "" for n in held)
    assert "restore_detected" in [i["kind"] for i in journal.incidents()]
    assert journal.open_operation("mts", "9123456789", {}, max_cash=1).operation > 1000
    assert check_cassette(journal, "v", [("e1", 10000), ("gone-1", 5000), ("gone-2", 100000)]) == []
    journal.close()
