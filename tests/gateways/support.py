"""Helpers shared by the gateway tests."""

from __future__ import annotations

from datetime import UTC, datetime

from kiosk.gateways.base import PaymentRequest, Route
from kiosk.money import Money


def make_request(operation: int = 1, account: str = "9161234567", kopecks: int = 100_00, gateway: str = "main",
                 code: str = "1", fields: dict[str, str] | None = None) -> PaymentRequest:
    """A committed operation as the outbox would hand it to a gateway."""
    return PaymentRequest(
        terminal="10001", operation=operation, idempotency_key=f"10001-{operation}",
        txn_id=10001_000_000 + operation, session_id=f"10001N{operation}", provider="mts",
        route=Route(gateway, code), account=account, fields=fields or {}, cash=Money(kopecks),
        fee=Money(0), credited=Money(kopecks), accepted_at=datetime(2024, 3, 1, 9, 0, 5, tzinfo=UTC),
    )


