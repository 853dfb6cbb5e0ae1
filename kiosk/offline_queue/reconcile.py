"""Committing with the provider's fee, and start-up reconciliation after a crash or power cut."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from kiosk.catalog import Catalog
from kiosk.drivers.validator import Stacked, StackedAtStart
from kiosk.fees import NoFee
from kiosk.money import Money
from kiosk.offline_queue.journal import COLLECTING, NEEDS_ATTENTION, Journal, Operation

log = logging.getLogger(__name__)


def commit_operation(journal: Journal, catalog: Catalog, number: int, reason: str) -> Operation:
    """Fix the amount of a collecting operation and split it into fee and credited by the provider's rule."""
    op = journal.get(number)
    provider = catalog.providers.get(op.provider)
    # A provider dropped from the catalog mid-operation: take no fee rather than guess one.
    rule = provider.fee if provider is not None else NoFee()
    return journal.commit(number, rule.split(Money(op.cash, op.currency)), reason)


@dataclass(slots=True)
class Summary:
    """What start-up reconciliation found and did."""

    committed: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    interrupted_attempts: list[int] = field(default_factory=list)
    rescheduled: list[int] = field(default_factory=list)
    uncertain_bills: list[int] = field(default_factory=list)
    waiting: int = 0
    waiting_total: int = 0
    needs_attention: int = 0

    def text(self) -> str:
        """One line for the log."""
        return (f"reconciled: {len(self.committed)} committed with money, {len(self.cancelled)} empty cancelled, "
                f"{len(self.interrupted_attempts)} interrupted attempts to resolve, {self.waiting} waiting "
                f"({Money(self.waiting_total).decimal_text()}), {self.needs_attention} need attention, "
                f"{len(self.uncertain_bills)} uncertain bills listed")


def book_late_bill(journal: Journal, catalog: Catalog, validator: str, event: Stacked, why: str) -> int:
    """A bill stacked with no operation collecting gets an operation of its own, for the last payer's account."""
    last = journal.last_operation()
    provider, account, fields = ("unassigned", "", {}) if last is None else (last.provider, last.account, last.fields)
    op = journal.open_operation(provider, account, fields, max_cash=event.bill.value,
                                details={"late_bill_after": last.operation if last else None})
    journal.record_bill(op.operation, event.bill.value, validator, event.event_id)
    commit_operation(journal, catalog, op.operation, "late_bill")
    journal.incident("late_bill", f"bill {event.event_id} of {event.bill.value} kopecks {why}; "
                                  f"booked as operation {op.operation}", op.operation)
    return op.operation


def recover_bills(journal: Journal, catalog: Catalog, validator: str, stacked: list[Stacked]) -> list[int]:
    """Credit bills the device stacked but the journal never heard of (a crash in between).

    Such a bill was stacked while the newest collecting operation was open (the validator is enabled only
    then), so it is credited there; if none is collecting any more it is booked as a late bill.
    """
    credited = []
    for event in stacked:
        if journal.bill_recorded(validator, event.event_id) is not None:
            continue
        collecting = journal.in_state(COLLECTING)
        if not collecting:
            credited.append(book_late_bill(journal, catalog, validator, event, "was found after a restart"))
            continue
        target = collecting[-1].operation
        journal.record_bill(target, event.bill.value, validator, event.event_id)
        journal.incident("recovered_bill", f"bill {event.event_id} of {event.bill.value} kopecks was stacked "
                                           "but not journaled before a restart; credited now", target)
        credited.append(target)
    return credited


def credit_stacked_at_start(journal: Journal, catalog: Catalog, validator: str,
                            reports: list[StackedAtStart]) -> list[int]:
    """Credit, exactly once, the bills the device said at start it had stacked before the restart.

    A STACK still pending for the bill's value means the crash came between that STACK and the bill's record
    (record_bill clears the pending STACK in the same transaction): the bill belongs to that operation. With
    none pending the bill was credited before the crash, unless no host can have seen it stacked.
    Runs before reconcile(), which lists the STACKs still pending as uncertain.
    """
    credited = []
    for report in reports:
        operation = journal.pending_stack(validator, report.bill.value)
        if operation is None and report.maybe_credited:
            log.info("bill %s reported stacked at start was credited before the restart", report.event_id)
            continue
        as_stacked = Stacked(report.bill, report.event_id)
        if operation is None or journal.get(operation).state != COLLECTING:
            credited.append(book_late_bill(journal, catalog, validator, as_stacked, "was stacked before a restart"))
            continue
        journal.record_bill(operation, report.bill.value, validator, report.event_id)
        journal.incident("recovered_bill", f"bill {report.event_id} of {report.bill.value} kopecks was stacked "
                                           "before a restart but not journaled; credited now", operation)
        credited.append(operation)
    return credited


def reconcile(journal: Journal, catalog: Catalog) -> Summary:
    """Commit operations caught collecting with money, cancel empty ones, mark interrupted attempts unknown."""
    summary = Summary()
    for operation, denomination, validator, commanded_at in journal.take_pending_stacks():
        # STACK was sent and no answer was journaled: the bill may be in the cassette or back with the payer.
        # It is listed for support (the encashment count settles it), never credited on a guess.
        journal.incident("uncertain_bill", f"STACK of a {Money(denomination).decimal_text()} bill was sent to "
                                           f"{validator} at {commanded_at} and the outcome was lost in a restart",
                         operation, denomination)
        summary.uncertain_bills.append(operation)
    for op in journal.in_state(COLLECTING):
        if op.cash > 0:
            commit_operation(journal, catalog, op.operation, "reconciled")
            summary.committed.append(op.operation)
        else:
            journal.cancel(op.operation, "reconciled_empty")
            summary.cancelled.append(op.operation)
    for attempt, operation in journal.open_attempts():
        # The request may have left before the crash: its outcome is unknown, and the pin stays,
        # so the next delivery asks that gateway's status before anything else.
        journal.finish_attempt(attempt, "unknown", "", "interrupted by restart")
        summary.interrupted_attempts.append(operation)
    now_ms = int(journal.now().timestamp() * 1000)
    for operation in journal.unscheduled():
        journal.settle(operation, next_attempt_ms=now_ms)
        summary.rescheduled.append(operation)
    summary.waiting, summary.waiting_total = journal.waiting()
    summary.needs_attention = journal.count(NEEDS_ATTENTION)
    log.info("%s", summary.text())
    return summary
