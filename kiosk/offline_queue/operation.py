"""One payment as the journal holds it, its states, and the keys that identify it to the outside world."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from datetime import datetime
from typing import Any

from kiosk.errors import JournalError
from kiosk.gateways.base import PaymentRequest, Route
from kiosk.money import Money

COLLECTING, COMMITTED, DELIVERED, NEEDS_ATTENTION, CANCELLED = (
    "collecting", "committed", "delivered", "needs_attention", "cancelled")
# corrections: the payer got the cash back (after the provider reversed a booked payment, or it was never booked)
REFUNDED = "refunded"
STATES = (COLLECTING, COMMITTED, DELIVERED, NEEDS_ATTENTION, CANCELLED, REFUNDED)
# details key of the nonce a correction gave the operation's requests after its earlier ones were reversed or
# proved unbooked (a new account needs ids no processing system has seen); the operation's own key stays
REISSUED_NONCE = "reissued_nonce"
# last_outcome of money kept on the terminal as owed to the payer: provably never sent anywhere
NOT_SENT = "not_sent"
RECEIPT_STATES = ("none", "printed", "failed", "incomplete", "not_printed")


NONCE_DIGITS = 6  # the unrepeatable part of every id a processing system sees (one in a million per reuse)


def idempotency_key(terminal: str, operation: int, nonce: int | None = None) -> str:
    """The stable key every delivery attempt of one operation carries: 'T10001-0000000042-381904'.

    Without a nonce (operations opened before nonces existed) it is the old 'T10001-0000000042', so an
    operation already in flight keeps the key its gateway knows.
    """
    base = f"T{terminal}-{operation:010d}"
    return base if nonce is None else f"{base}-{nonce:0{NONCE_DIGITS}d}"


def txn_id(terminal: str, operation: int, nonce: int | None = None) -> int:
    """The same identity as one integer for protocols that want a number (OSMP txn_id).

    terminal · nonce (6 digits) · operation (8 digits): 19 digits for a 5-digit terminal, inside a signed
    64-bit integer, and at most 20 for a 6-digit one (the OSMP limit many providers keep).
    """
    if nonce is None:
        return int(terminal) * 10**10 + operation
    number = str(int(terminal))
    # Terminal numbers longer than 6 digits keep fewer nonce digits so the id still fits 20 digits.
    digits = max(2, min(NONCE_DIGITS, 12 - len(number)))
    return int(f"{number}{nonce % 10**digits:0{digits}d}{operation:08d}")


def session_id(terminal: str, operation: int, nonce: int | None = None) -> str:
    """The same identity as a CyberPlat SESSION: at most 20 Latin letters and digits."""
    if nonce is None:
        return idempotency_key(terminal, operation).replace("-", "N")
    # base 36 keeps terminal + operation + nonce inside 20 characters
    return f"T{terminal}N{_base36(operation)}R{_base36(nonce)}"


def _base36(number: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = [digits[number % 36]]
    number //= 36
    while number:
        number, rest = divmod(number, 36)
        out.append(digits[rest])
    return "".join(reversed(out))


@dataclass(slots=True)
class Operation:
    """One payment as the journal holds it."""

    operation: int
    terminal: str
    idempotency_key: str
    provider: str
    account: str
    fields: dict[str, str]
    currency: str
    state: str
    cash: int
    fee: int | None
    credited: int | None
    max_cash: int
    offline: bool
    created_at: str
    committed_at: str | None
    finished_at: str | None
    commit_reason: str | None
    pinned_gateway: str | None
    pinned_route: str | None
    next_attempt_ms: int | None
    attempts: int
    gateway: str | None
    external_id: str | None
    last_outcome: str | None
    last_code: str | None
    last_message: str | None
    attention_reason: str | None
    receipt_status: str
    details: dict[str, Any] = field(default_factory=dict)
    nonce: int | None = None
    lifetime_from: str | None = None
    session: str | None = None  # a SESSION minted after the centre forgot the first (None: the derived one)
    change_seq: int | None = None  # the journal-wide change sequence at this row's last write (journal upload)

    @classmethod
    def from_values(cls, values: list[Any]) -> Operation:
        """Build from a journal row's values in field order, its JSON columns already decoded."""
        op = cls(*values)
        op.offline = bool(op.offline)
        return op

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Operation:
        """Build from a journal row."""
        row = dict(row)
        row["fields"] = json.loads(row["fields"])
        row["details"] = json.loads(row["details"])
        row["offline"] = bool(row["offline"])
        return cls(**row)

    def money(self, minor: int | None) -> Money | None:
        """An amount of this operation's currency."""
        return None if minor is None else Money(minor, self.currency)

    def route(self) -> Route | None:
        """The route of the unresolved attempt, to resend it identically."""
        if not self.pinned_route:
            return None
        data = json.loads(self.pinned_route)
        return Route(data["gateway"], data["provider_code"], data["options"])

    def booked(self) -> str:
        """What support must know first: 'booked', 'not booked' (provably), or 'booked: unknown'."""
        if self.state == DELIVERED:
            return "booked"
        if self.state == REFUNDED:
            return "not booked (refunded)"
        if self.state in (COLLECTING, CANCELLED) or self.attempts == 0 or self.last_outcome == NOT_SENT:
            return "not sent"
        if self.pinned_gateway or self.last_outcome in ("unknown", "retry"):
            # an attempt whose outcome nobody knows: the money may be on the account already
            return "booked: unknown"
        return "not booked"

    def request_ids(self) -> tuple[str, int, str]:
        """(idempotency key, OSMP txn_id, CyberPlat SESSION): every id a processing system sees, derived here only."""
        reissued = self.details.get(REISSUED_NONCE)
        if isinstance(reissued, int):  # a correction's new ids (a new account after the first payment was reversed)
            return (idempotency_key(self.terminal, self.operation, reissued),
                    txn_id(self.terminal, self.operation, reissued),
                    self.session or session_id(self.terminal, self.operation, reissued))
        return (self.idempotency_key, txn_id(self.terminal, self.operation, self.nonce),
                self.session or session_id(self.terminal, self.operation, self.nonce))

    def request(self, route: Route, accepted_at: datetime) -> PaymentRequest:
        """The gateway request; the same bytes of identity on every attempt."""
        if self.fee is None or self.credited is None:
            raise JournalError(f"operation {self.operation} is not committed; nothing to deliver")
        key, number, session = self.request_ids()
        return PaymentRequest(
            terminal=self.terminal, operation=self.operation, idempotency_key=key, txn_id=number, session_id=session,
            provider=self.provider, route=route, account=self.account, fields=dict(self.fields),
            cash=Money(self.cash, self.currency), fee=Money(self.fee, self.currency),
            credited=Money(self.credited, self.currency), accepted_at=accepted_at, details=dict(self.details),
        )


# the journal columns of an operation, in the order of its fields
OPERATION_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclass_fields(Operation))
