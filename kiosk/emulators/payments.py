"""Payments written straight into a journal as the session and the outbox write them: history for the upload and
lookup tests and benchmarks, without devices or gateways."""

from __future__ import annotations

from typing import Any

from kiosk.clock import ManualClock
from kiosk.fees import PercentFee
from kiosk.gateways.base import Route
from kiosk.money import Money
from kiosk.offline_queue.journal import Journal

FEE = PercentFee(ppm=20_000)  # 2 %
ROUTE = Route("osmp", "mts-code", {})


def pay(journal: Journal, clock: ManualClock, bills: tuple[int, ...] = (10000, 5000), account: str = "9123456789",
        delivered: bool = True, provider: str = "mts", details: dict[str, Any] | None = None) -> int:
    """One payment: opened (with `details`, e.g. a utility split), bills stacked, committed with a 2 % fee, one
    delivery attempt (approved, or an unknown outcome that leaves it pinned), the receipt printed. Its number."""
    op = journal.open_operation(provider, account, {"account": account}, max_cash=1_500_000, details=details)
    for index, value in enumerate(bills):
        clock.advance(2)
        journal.record_bill(op.operation, value, "ccnet", f"e{op.operation}-{index}")
    journal.commit(op.operation, FEE.split(Money(sum(bills), "RUB")), "payer pressed pay")
    attempt = journal.begin_attempt(op.operation, ROUTE, "pay")
    clock.advance(1)
    if delivered:
        journal.settle(op.operation, state="delivered", unpin=True, gateway="osmp", external_id=f"prv{op.operation}",
                       last_outcome="approved", last_code="0", last_message="OK",
                       finish=(attempt, "approved", "0", "OK", f"prv{op.operation}"))
    else:
        journal.settle(op.operation, next_attempt_ms=0, last_outcome="unknown", last_code="timeout",
                       last_message="no reply in 30 s", finish=(attempt, "unknown", "timeout", "no reply in 30 s", ""))
    journal.set_receipt(op.operation, "printed")
    return op.operation
