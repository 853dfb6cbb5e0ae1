"""Charge registries in the database: an upload is stored whole in one transaction or refused whole (the refusal and
its errors are kept, no account of it is), and an account's current debt is its newest period's."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from provisioning import audit
from provisioning.charges.models import ChargeAccount, ChargePayment, ChargeRegistry
from provisioning.charges.parse import RegistryRefused, RowError, parse
from provisioning.db.models import utcnow
from provisioning.tenants import TenantError

PROVIDER = re.compile(r"[0-9A-Za-z_.-]{1,64}")
SPLITS = ("proportional", "in_order")
_CHUNK = 1000  # accounts per INSERT: one round trip each, however large the registry


class ChargesError(TenantError):
    """A request about charges that cannot be carried out (a bad provider code or split rule), naming the field."""


@dataclass(frozen=True)
class Loaded:
    """The outcome of one upload: the stored registry row, and the errors when it was refused."""

    registry: ChargeRegistry
    errors: list[RowError]
    more: int = 0

    @property
    def accepted(self) -> bool:
        """Whether the registry's accounts were stored."""
        return self.registry.status == "accepted"


def rub(kopecks: int) -> str:
    """Kopecks as a decimal text of roubles, exactly (no float): "1234.50", a credit "-150.00"."""
    sign = "-" if kopecks < 0 else ""
    return f"{sign}{abs(kopecks) // 100}.{abs(kopecks) % 100:02d}"


def check_provider(provider: str) -> str:
    """The provider code, or ChargesError saying what one looks like."""
    if not PROVIDER.fullmatch(provider):
        raise ChargesError("provider", f"{provider!r} is not a provider code (1-64 letters, digits, _ . -)")
    return provider


def load(session: Session, dealer_id: int, provider: str, filename: str, data: bytes, actor: str,
         split: str = "proportional", remote: str = "") -> Loaded:
    """Validate and store a registry; a refused one is recorded with its errors and stores no account."""
    check_provider(provider)
    if split not in SPLITS:
        raise ChargesError("split", f"split rule {split!r}: one of {', '.join(SPLITS)}")
    row = ChargeRegistry(dealer_id=dealer_id, provider=provider, split=split, filename=filename[:200],
                         sha256=hashlib.sha256(data).hexdigest(), uploaded_by=actor, uploaded_at=utcnow())
    try:
        parsed = parse(filename, data)
    except RegistryRefused as refused:
        row.status = "refused"
        row.errors = json.dumps([e.as_json() for e in refused.errors], ensure_ascii=False)
        session.add(row)
        session.flush()
        audit.record(session, actor=actor, action="charges.load", dealer_id=dealer_id,
                     target=f"{provider} {filename[:100]}", outcome="refused",
                     reason=f"{len(refused.errors) + refused.more} errors; first: {refused.errors[0]}"[:300],
                     remote=remote)
        return Loaded(row, refused.errors, refused.more)
    row.status, row.period, row.period_key = "accepted", parsed.period, parsed.period_key
    row.accounts, row.total = len(parsed.accounts), parsed.total
    session.add(row)
    session.flush()
    values = [{"registry_id": row.id, "dealer_id": dealer_id, "provider": provider, "account": a.account,
               "period_key": parsed.period_key, "payer": a.payer[:200], "address": a.address[:300], "debt": a.debt,
               "services": json.dumps(a.services, ensure_ascii=False),
               "meters": json.dumps(a.meters, ensure_ascii=False)} for a in parsed.accounts]
    for start in range(0, len(values), _CHUNK):
        session.execute(insert(ChargeAccount), values[start:start + _CHUNK])
    audit.record(session, actor=actor, action="charges.load", dealer_id=dealer_id, target=f"{provider} {filename[:100]}",
                 after=json.dumps({"registry": row.id, "period": parsed.period, "accounts": row.accounts,
                                   "total": row.total}), remote=remote)
    return Loaded(row, [])


def current(session: Session, dealer_id: int, provider: str, account: str) -> tuple[ChargeAccount, ChargeRegistry] | None:
    """The account's newest period (of two uploads of one period, the later), or None when no registry has it."""
    found = session.execute(
        select(ChargeAccount, ChargeRegistry).join(ChargeRegistry, ChargeAccount.registry_id == ChargeRegistry.id)
        .where(ChargeAccount.dealer_id == dealer_id, ChargeAccount.provider == provider,
               ChargeAccount.account == account)
        .order_by(ChargeAccount.period_key.desc(), ChargeAccount.registry_id.desc()).limit(1)).first()
    return (found[0], found[1]) if found else None


def history(session: Session, dealer_id: int, provider: str, account: str) -> list[tuple[ChargeAccount, ChargeRegistry]]:
    """Every registry that stated the account, newest first (the first is the current one)."""
    rows = session.execute(
        select(ChargeAccount, ChargeRegistry).join(ChargeRegistry, ChargeAccount.registry_id == ChargeRegistry.id)
        .where(ChargeAccount.dealer_id == dealer_id, ChargeAccount.provider == provider,
               ChargeAccount.account == account)
        .order_by(ChargeAccount.period_key.desc(), ChargeAccount.registry_id.desc())).all()
    return [(a, r) for a, r in rows]


def registries(session: Session, dealer_id: int, provider: str = "", limit: int = 200) -> list[ChargeRegistry]:
    """A dealer's uploads, newest first."""
    query = select(ChargeRegistry).where(ChargeRegistry.dealer_id == dealer_id)
    if provider:
        query = query.where(ChargeRegistry.provider == provider)
    return list(session.scalars(query.order_by(ChargeRegistry.id.desc()).limit(limit)))


def registry(session: Session, dealer_id: int, registry_id: int) -> ChargeRegistry | None:
    """One upload of the dealer (None for another dealer's)."""
    row = session.get(ChargeRegistry, registry_id)
    return row if row is not None and row.dealer_id == dealer_id else None


def accounts(session: Session, registry_id: int, search: str = "", limit: int = 500) -> list[ChargeAccount]:
    """The accounts of one registry in file order, optionally those whose account starts with `search`."""
    query = select(ChargeAccount).where(ChargeAccount.registry_id == registry_id)
    if search:
        query = query.where(ChargeAccount.account.startswith(search, autoescape=True))
    return list(session.scalars(query.order_by(ChargeAccount.id).limit(limit)))


def payments(session: Session, dealer_id: int, provider: str, account: str) -> list[ChargePayment]:
    """The payments booked here for one account, newest first."""
    return list(session.scalars(select(ChargePayment).where(
        ChargePayment.dealer_id == dealer_id, ChargePayment.provider == provider, ChargePayment.account == account,
        ChargePayment.state == "booked").order_by(ChargePayment.id.desc())))


def providers(session: Session, dealer_id: int) -> list[tuple[str, int, datetime]]:
    """Each provider with accepted registries: code, how many, the latest upload."""
    rows = session.execute(select(ChargeRegistry.provider, func.count(), func.max(ChargeRegistry.uploaded_at))
                           .where(ChargeRegistry.dealer_id == dealer_id, ChargeRegistry.status == "accepted")
                           .group_by(ChargeRegistry.provider).order_by(ChargeRegistry.provider)).all()
    return [(p, int(n), at) for p, n, at in rows]


def errors_of(row: ChargeRegistry) -> list[dict[str, Any]]:
    """A refused registry's stored errors."""
    found: list[dict[str, Any]] = json.loads(row.errors or "[]")
    return found


def debt_object(account: ChargeAccount, registry: ChargeRegistry) -> dict[str, Any]:
    """The protocol's `debt` object (contracts.md) for an account as its registry states it.

    The protocol's amounts are what the payer owes, never negative: an overpaid service owes 0, and the total is
    the account's net debt, 0 when it is overpaid as a whole (the registry keeps the signed figures)."""
    services = json.loads(account.services)
    return {"total": max(account.debt, 0), "period": registry.period, "payer": account.payer,
            "address": account.address, "services": [{"service": s["service"], "name": s["name"],
                                                      "amount": max(int(s["amount"]), 0)} for s in services],
            "meters": json.loads(account.meters), "split": registry.split}
