"""Charge registries (one row per upload, accepted or refused), the accounts an accepted one carries (history kept:
the newest period of an account is its current debt), the keys terminals sign debt lookups with, and the payments
booked through that lookup (once per idempotency key)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from provisioning.db.models import Base, UtcDateTime, utcnow

_ID = BigInteger().with_variant(Integer, "sqlite")


class ChargeRegistry(Base):
    """One uploaded file: who sent it for which provider and period, and whether it was accepted (whole) or refused
    (with its row-level errors, and no accounts)."""

    __tablename__ = "charge_registries"
    __table_args__ = (Index("charge_registries_provider", "dealer_id", "provider", "uploaded_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(6), default="")  # MMYYYY, as the protocol's debt object carries it
    period_key: Mapped[int] = mapped_column(Integer, default=0)  # YYYYMM: orders periods
    split: Mapped[str] = mapped_column(String(20), default="proportional")  # proportional / in_order
    filename: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))  # accepted / refused
    accounts: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(BigInteger, default=0)  # kopecks: the sum of every account's debt
    errors: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of {line, column, message}
    uploaded_by: Mapped[str] = mapped_column(String(200))
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ChargeAccount(Base):
    """A payer's account as one accepted registry states it (services and meters as JSON, amounts in kopecks)."""

    __tablename__ = "charge_accounts"
    __table_args__ = (
        UniqueConstraint("registry_id", "account", name="charge_accounts_once"),
        Index("charge_accounts_current", "dealer_id", "provider", "account", "period_key", "registry_id"),
    )
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    registry_id: Mapped[int] = mapped_column(ForeignKey("charge_registries.id", ondelete="CASCADE"))
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(40))
    period_key: Mapped[int] = mapped_column(Integer)
    payer: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(String(300), default="")
    debt: Mapped[int] = mapped_column(BigInteger)
    services: Mapped[str] = mapped_column(Text)  # [{"service", "name", "charge", "amount"}]
    meters: Mapped[str] = mapped_column(Text)  # [{"meter", "name", "service", "unit", "previous", "previous_date"}]


class ChargeKey(Base):
    """A key a terminal signs the JSON processing protocol with: for one provider, optionally one terminal only.
    The HMAC secret is sealed with the service's vault (the protocol needs it in the clear to verify)."""

    __tablename__ = "charge_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64), unique=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(64))
    terminal_id: Mapped[int | None] = mapped_column(ForeignKey("terminals.id", ondelete="CASCADE"), nullable=True)
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class ChargePayment(Base):
    """A payment booked through the debt lookup endpoint, or a key a not_found status voided (state "voided",
    `voided_until`: pays signed at or before that moment are never booked). One row per dealer and key."""

    __tablename__ = "charge_payments"
    __table_args__ = (UniqueConstraint("dealer_id", "idempotency_key", name="charge_payments_key"),
                      Index("charge_payments_account", "dealer_id", "provider", "account"))
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20))  # booked / voided
    voided_until: Mapped[int] = mapped_column(BigInteger, default=-1)  # unix ms
    provider: Mapped[str] = mapped_column(String(64), default="")
    account: Mapped[str] = mapped_column(String(40), default="")
    amount: Mapped[int] = mapped_column(BigInteger, default=0)
    fingerprint: Mapped[str] = mapped_column(String(64), default="")
    terminal: Mapped[str] = mapped_column(String(40), default="")
    operation: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    details: Mapped[str] = mapped_column(Text, default="{}")  # {"split": [...], "readings": [...], "fields": {...}}
    registry_id: Mapped[int | None] = mapped_column(ForeignKey("charge_registries.id", ondelete="SET NULL"),
                                                    nullable=True)
    key_id: Mapped[str] = mapped_column(String(64), default="")
    booked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
