"""Keys of the debt lookup, and payments booked through it exactly once per idempotency key.

The database decides races: one row per (dealer, key), inserted with ON CONFLICT DO NOTHING, and a voided key
turns into a booking only by a conditional UPDATE that loses to any later not_found. So two servers, a resend and
a status query crossing a pay in flight can never book a key twice, nor book one a not_found has voided."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from provisioning import audit
from provisioning.charges.models import ChargeKey, ChargePayment
from provisioning.config.vault import Vault
from provisioning.db.models import Terminal, utcnow


@dataclass(frozen=True)
class KeyHolder:
    """Who a key belongs to: the dealer, the provider it may ask about, the one terminal it is bound to (if any)."""

    key_id: str
    dealer_id: int
    provider: str
    terminal: str
    secret: bytes


def create_key(session: Session, vault: Vault, dealer_id: int, provider: str, actor: str,
               terminal: Terminal | None = None) -> tuple[str, str]:
    """A new key for a provider (optionally bound to one terminal): its id and secret, the secret shown once."""
    key_id = f"{provider[:40]}.{secrets.token_hex(8)}"
    secret = secrets.token_urlsafe(32)
    session.add(ChargeKey(key_id=key_id, dealer_id=dealer_id, provider=provider,
                          terminal_id=terminal.id if terminal else None, secret=vault.seal(secret),
                          created_by=actor, created_at=utcnow()))
    audit.record(session, actor=actor, action="charges.key", dealer_id=dealer_id, target=key_id,
                 after=json.dumps({"provider": provider, "terminal": terminal.number if terminal else ""}))
    return key_id, secret


def revoke_key(session: Session, dealer_id: int, key_id: str, actor: str) -> bool:
    """Stop accepting a key; False when the dealer has no such key."""
    row = session.scalar(select(ChargeKey).where(ChargeKey.key_id == key_id, ChargeKey.dealer_id == dealer_id))
    if row is None:
        return False
    row.revoked_at = row.revoked_at or utcnow()
    audit.record(session, actor=actor, action="charges.key_revoke", dealer_id=dealer_id, target=key_id)
    return True


def keys(session: Session, dealer_id: int) -> list[ChargeKey]:
    """A dealer's keys, newest first."""
    return list(session.scalars(select(ChargeKey).where(ChargeKey.dealer_id == dealer_id)
                                .order_by(ChargeKey.id.desc())))


def holder(session: Session, vault: Vault, key_id: str) -> KeyHolder | None:
    """The holder of a live key, or None for an unknown or revoked one."""
    row = session.scalar(select(ChargeKey).where(ChargeKey.key_id == key_id))
    if row is None or row.revoked_at is not None:
        return None
    terminal = session.get(Terminal, row.terminal_id) if row.terminal_id else None
    return KeyHolder(row.key_id, row.dealer_id, row.provider, terminal.number if terminal else "",
                     vault.open(row.secret).encode())


def fingerprint(provider: str, account: str, amount: int) -> str:
    """What a repeat of a pay must match to get the first answer."""
    return hashlib.sha256(json.dumps([provider, account, amount]).encode()).hexdigest()


@dataclass(frozen=True)
class Pay:
    """A validated pay request."""

    key: str
    timestamp: int
    provider: str
    account: str
    amount: int
    terminal: str
    operation: int | None
    details: dict[str, Any]
    registry_id: int | None
    key_id: str


def _insert(session: Session, values: dict[str, Any]) -> bool:
    """Insert the key's row unless one exists; whether this call inserted it."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(ChargePayment).values(**values).on_conflict_do_nothing(
        index_elements=["dealer_id", "idempotency_key"]).returning(ChargePayment.id)
    # RETURNING, not rowcount: the driver's rowcount of a single insert is not reliable on every database
    return session.execute(statement).first() is not None


def _row(session: Session, dealer_id: int, key: str) -> ChargePayment:
    row = session.scalar(select(ChargePayment).where(ChargePayment.dealer_id == dealer_id,
                                                     ChargePayment.idempotency_key == key)
                         .execution_options(populate_existing=True))
    assert row is not None, "the key's row exists: it was inserted or found in conflict"
    return row


def reply_of(row: ChargePayment) -> dict[str, Any]:
    """The answer a decided key gets, every time it is asked."""
    if row.state == "booked":
        return {"result": "approved", "payment_id": f"C{row.id}", "message": ""}
    code, _, message = json.loads(row.details).get("declined", "other:").partition(":")
    return {"result": "declined", "code": code, "message": message}


def book(session: Session, dealer_id: int, pay: Pay, decline: tuple[str, str] | None) -> tuple[int, dict[str, Any]]:
    """Book `pay` (or record its decline) once per key; a repeat gets the first answer (HTTP status, JSON body)."""
    details = dict(pay.details)
    if decline is not None:
        details["declined"] = f"{decline[0]}:{decline[1]}"
    values = {"dealer_id": dealer_id, "idempotency_key": pay.key, "state": "booked" if decline is None else "declined",
              "voided_until": -1, "provider": pay.provider, "account": pay.account, "amount": pay.amount,
              "fingerprint": fingerprint(pay.provider, pay.account, pay.amount), "terminal": pay.terminal,
              "operation": pay.operation, "details": json.dumps(details, ensure_ascii=False),
              "registry_id": pay.registry_id, "key_id": pay.key_id, "booked_at": utcnow()}
    for _ in range(3):  # a voided key is turned into a booking by a conditional update that may lose a race once
        if _insert(session, values):
            return 200, reply_of(_row(session, dealer_id, pay.key))
        row = _row(session, dealer_id, pay.key)
        if row.state != "voided":
            if row.fingerprint != values["fingerprint"]:
                return 422, {"result": "key_reused", "message": "Idempotency-Key used for another payment"}
            return 200, reply_of(row)
        if pay.timestamp <= row.voided_until:
            return 409, {"result": "superseded", "message": "a status query reported this key not found"}
        taken = session.execute(update(ChargePayment).where(
            ChargePayment.id == row.id, ChargePayment.state == "voided",
            ChargePayment.voided_until < pay.timestamp).values(**values))
        if taken.rowcount:  # type: ignore[attr-defined]
            return 200, reply_of(_row(session, dealer_id, pay.key))
    return 200, {"result": "retry", "code": "temporary", "message": "the key is being decided; ask its status"}


def status(session: Session, dealer_id: int, key: str, timestamp: int) -> tuple[int, dict[str, Any]]:
    """The answer given to a key; not_found voids every pay with it signed at or before `timestamp`."""
    if _insert(session, {"dealer_id": dealer_id, "idempotency_key": key, "state": "voided",
                         "voided_until": timestamp, "details": "{}"}):
        return 404, {"result": "not_found"}
    row = _row(session, dealer_id, key)
    if row.state != "voided":
        return 200, reply_of(row)
    session.execute(update(ChargePayment).where(ChargePayment.id == row.id, ChargePayment.state == "voided",
                                                ChargePayment.voided_until < timestamp)
                    .values(voided_until=timestamp))
    row = _row(session, dealer_id, key)  # a pay may have taken the key in between: then its answer stands
    return (404, {"result": "not_found"}) if row.state == "voided" else (200, reply_of(row))
