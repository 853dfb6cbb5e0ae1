"""Committing with the provider's fee, and start-up reconciliation after a crash or power cut."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from kiosk.catalog import Catalog, Provider
from kiosk.drivers.validator import Stacked
from kiosk.fees import FeeRule, NoFee, Split
from kiosk.money import Money
from kiosk.offline_queue.journal import COLLECTING, NEEDS_ATTENTION, Journal, Operation

log = logging.getLogger(__name__)

UNASSIGNED = "unassigned"  # the provider of cash nobody's payment can claim


def acceptable(provider: Provider, split: Split) -> bool:
    """Whether a provider can be sent this payment: the cash reaches its minimum and the fee leaves something."""
    return split.cash >= provider.min_amount and split.credited.minor > 0


def commit_operation(journal: Journal, catalog: Catalog, number: int, reason: str) -> Operation:
    """Fix the amount of a collecting operation and split it into fee and credited by the provider's rule.

    A sum the provider cannot accept (cash below its minimum — the same test the Pay button waits for — or
    nothing left after the fee) is never sent and never charged a fee: it is kept in full as owed to the payer,
    needing attention.
    """
    op = journal.get(number)
    provider = catalog.providers.get(op.provider)
    cash = Money(op.cash, op.currency)
    if provider is None:
        # A provider dropped from the catalog mid-operation: take no fee rather than guess one.
        return journal.commit(number, NoFee().split(cash), reason, fee_rule=fee_words(
            "no fee: the provider is no longer in the catalog", "без комиссии: поставщика больше нет в каталоге"))
    split = provider.fee.split(cash)
    if not acceptable(provider, split):
        hold = (f"owed to the payer: {cash.decimal_text()} {cash.currency} is below what {provider.id} accepts "
                f"(minimum {provider.min_amount.decimal_text()}, and something must be left after the fee); not "
                "sent, no fee taken — pay it on to an account (kiosk journal pay-on) or hand it back")
        return journal.commit(number, Split(cash=cash, fee=Money(0, cash.currency), credited=cash), reason,
                              hold=hold, fee_rule=fee_words("no fee: the money is held as owed to the payer",
                                                            "без комиссии: деньги удержаны как долг плательщику"))
    return journal.commit(number, split, reason, fee_rule=rule_words(provider.fee))


def rule_words(rule: FeeRule) -> dict[str, str]:
    """A fee rule's words in every language the terminal speaks, as journaled at commit."""
    return {"en": rule.describe("en"), "ru": rule.describe("ru")}


def fee_words(english: str, russian: str) -> dict[str, str]:
    """Why no rule applied, in both languages."""
    return {"en": english, "ru": russian}


def pay_on(journal: Journal, catalog: Catalog, number: int, provider_id: str, account: str) -> Operation:
    """Send money held as owed on to an account, with that provider's fee; refused below its minimum."""
    op = journal.get(number)
    provider = catalog.providers.get(provider_id)
    if provider is None:
        raise ValueError(f"no provider {provider_id!r} in the catalog")
    problem = provider.account_field.problem(account)
    if problem:
        raise ValueError(f"{account!r} is not a valid account for {provider_id}: {problem}")
    split = provider.fee.split(Money(op.cash, op.currency))
    if not acceptable(provider, split):
        raise ValueError(f"operation {number}: {Money(op.cash, op.currency).decimal_text()} is below what "
                         f"{provider_id} accepts (minimum {provider.min_amount.decimal_text()})")
    return journal.pay_on(number, provider_id, account, split, fee_rule=rule_words(provider.fee))


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


def hold_found_cash(journal: Journal, validator: str, value: int, event_id: str, why: str) -> int:
    """Cash the journal cannot tie to any payment: journaled as owed, needing attention, credited to nobody."""
    op = journal.open_operation(UNASSIGNED, "", {}, max_cash=value, details={"found": why}, found_cash=True)
    journal.record_bill(op.operation, value, validator, event_id)
    cash = Money(value, op.currency)
    journal.commit(op.operation, Split(cash=cash, fee=Money(0, op.currency), credited=cash), "found_cash",
                   hold=f"owed cash needing attention: bill {event_id} of {cash.decimal_text()} {why}; it is "
                        "credited to nobody until support finds whose it is")
    return op.operation


def recover_bills(journal: Journal, catalog: Catalog, validator: str, stacked: list[Stacked]) -> list[int]:
    """Credit bills the device stacked but the journal never heard of (a crash in between).

    A bill is credited only to the collecting operation whose STACK for that value is pending in the journal
    (the evidence that it was that payer's). Anything else the device replays — after a restored journal, say —
    is never credited to a guessed account: it is held as owed cash needing attention.
    """
    credited: list[int] = []
    held: list[int] = []
    for event in stacked:
        if journal.bill_recorded(validator, event.event_id) is not None:
            continue
        target = journal.pending_stack_for(validator, event.bill.value)
        if target is None:
            held.append(hold_found_cash(journal, validator, event.bill.value, event.event_id,
                                        "was reported by the device at start-up with no pending stack in the "
                                        "journal — it may belong to a payment booked in a lost part of the "
                                        "history: check the processing systems' registries before paying it on"))
            continue
        journal.record_bill(target, event.bill.value, validator, event.event_id)
        journal.incident("recovered_bill", f"bill {event.event_id} of {event.bill.value} kopecks was stacked "
                                           "but not journaled before a restart; credited now", target)
        credited.append(target)
    if held:
        # The device remembers stackings this journal never saw: its history is older than the device's.
        journal.restore_detected(f"the validator replayed {len(held)} stacked bills the journal does not have")
    return credited + held


def check_cassette(journal: Journal, validator: str, contents: list[tuple[str, int]]) -> list[int]:
    """The device's own account of its cassette against the journal, after start-up recovery.

    A bill the cassette holds that the journal never heard of (and recovery could not tie to a pending stack)
    means the journal is missing history — a restored older copy: numbering jumps ahead and each such bill is
    held as owed cash needing attention, never lost and never credited to a guessed account.
    """
    missing = [(event_id, value) for event_id, value in contents if journal.bill_recorded(validator, event_id) is None]
    if not missing:
        return []
    total = Money(sum(value for _, value in missing)).decimal_text()
    journal.restore_detected(f"the validator's cassette holds {len(missing)} bills ({total}) the journal does not "
                             "account for")
    return [hold_found_cash(journal, validator, value, event_id, "is in the cassette but not in the journal "
                            "(restored from an older copy?) — it may belong to a payment booked in the lost part "
                            "of the history: check the processing systems' registries before paying it on")
            for event_id, value in missing]


def credit_reported_stack(journal: Journal, validator: str, value: int | None, evidence: str) -> int | None:
    """The device says a bill was stacked before a restart and the journal has that STACK pending: credit it.

    Without the value (a device that reports before its bill table is read), only a single pending STACK at
    this validator is unambiguous enough to credit.
    """
    pending = [(op, denomination) for op, denomination, name, _ in journal.pending_stacks() if name == validator
               and (value is None or denomination == value) and journal.get(op).state == COLLECTING]
    if not pending or (value is None and len(pending) != 1):
        return None
    target, value = pending[0]
    journal.record_bill(target, value, validator, f"pending-stack:{target}:{journal.pending_stack_id(target)}")
    journal.incident("recovered_bill", f"a {Money(value).decimal_text()} bill whose STACK was pending is "
                                       f"credited on the device's report: {evidence}", target, value)
    return target


def reconcile(journal: Journal, catalog: Catalog, keep_pending: bool = False) -> Summary:
    """Commit operations caught collecting with money, cancel empty ones, mark interrupted attempts unknown.

    With keep_pending, an operation with a STACK still pending is left collecting (with its pending stack), so
    the device's own start-up report can credit it; settle_start_up() finishes it once the device has spoken.
    """
    summary = Summary()
    waiting = {row[0] for row in journal.pending_stacks()} if keep_pending else set()
    if not keep_pending:
        _list_uncertain(journal, summary)
    _finish_collecting(journal, catalog, summary, skip=waiting)
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


def _finish_collecting(journal: Journal, catalog: Catalog, summary: Summary, skip: frozenset[int] | set[int] = frozenset()) -> None:
    """Operations caught collecting: with money they are committed (never dropped), empty ones cancelled."""
    for op in journal.in_state(COLLECTING):
        if op.operation in skip:
            continue
        if op.cash > 0:
            commit_operation(journal, catalog, op.operation, "reconciled")
            summary.committed.append(op.operation)
        else:
            journal.cancel(op.operation, "reconciled_empty")
            summary.cancelled.append(op.operation)


def _list_uncertain(journal: Journal, summary: Summary) -> None:
    for operation, denomination, validator, commanded_at in journal.take_pending_stacks():
        # STACK was sent and nothing (no journaled bill, no device report) says where the bill went: it may be
        # in the cassette or back with the payer. Listed for support; the encashment count settles it.
        journal.incident("uncertain_bill", f"STACK of a {Money(denomination).decimal_text()} bill was sent to "
                                           f"{validator} at {commanded_at} and the outcome was lost in a restart",
                         operation, denomination)
        summary.uncertain_bills.append(operation)


def settle_start_up(journal: Journal, catalog: Catalog, summary: Summary) -> Summary:
    """After the device's start-up reports: what is still pending is uncertain; finish what was left collecting."""
    _list_uncertain(journal, summary)
    _finish_collecting(journal, catalog, summary)
    summary.waiting, summary.waiting_total = journal.waiting()
    summary.needs_attention = journal.count(NEEDS_ATTENTION)
    return summary
