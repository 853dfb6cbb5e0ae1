"""Test helpers: a journaled, committed payment with a chosen fee, without a session."""

from __future__ import annotations

from kiosk.fees import Split
from kiosk.money import Money
from kiosk.offline_queue.journal import Journal, Operation


def committed(journal: Journal, cash: int = 15000, fee: int = 300, provider: str = "mts",
              account: str = "9123456789") -> Operation:
    """An operation that took `cash` in one bill and is committed with `fee`."""
    op = journal.open_operation(provider, account, {"account": account}, max_cash=1_500_000)
    journal.record_bill(op.operation, cash, "virtual", f"bill-{op.operation}")
    split = Split(cash=Money(cash), fee=Money(fee), credited=Money(cash - fee))
    return journal.commit(op.operation, split, "pay")
