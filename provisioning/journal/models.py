"""Uploaded terminal journals: operations (the latest state, and every version received), bills, delivery attempts,
incidents, encashments, and how far each terminal's upload is acknowledged.

Rows are keyed by terminal + the operation's unrepeatable key (`op_key`: terminal, number and the random nonce the
journal minted when the operation opened) + the journal's own row id, so a repeated upload changes nothing and a
number that comes round again after a restore is a different operation. Times the terminal wrote keep its own
offset (text, as on the receipt); `created_utc` is the same moment in UTC, for range searches.

No foreign keys to terminals or dealers (migration 0019): the ingest path takes both ids from the authenticated link,
never from the batch, and terminals are never deleted; a per-row key check cost a fifth of PostgreSQL's upload work.
Versions, bills and attempts (rows of every operation) are keyed by their natural key alone, without a surrogate id.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from provisioning.db.models import Base, UtcDateTime, utcnow

# SQLite's INTEGER PRIMARY KEY is its rowid (auto-numbered); PostgreSQL gets BIGINT for fleets of millions.
_ID = BigInteger().with_variant(Integer, "sqlite")


class JournalOperation(Base):
    """One payment's latest uploaded state."""

    __tablename__ = "journal_operations"
    __table_args__ = (
        UniqueConstraint("terminal_id", "operation", "op_key", name="journal_operations_key"),
        Index("journal_operations_account", "dealer_id", "account", "created_utc"),
        Index("journal_operations_created", "dealer_id", "created_utc"),
        Index("journal_operations_external", "external_id"),
        Index("journal_operations_state", "dealer_id", "state"),
    )
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(Integer)
    terminal_id: Mapped[int] = mapped_column(Integer)
    operation: Mapped[int] = mapped_column(BigInteger)
    op_key: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20))
    provider: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(100))
    currency: Mapped[str] = mapped_column(String(3))
    cash: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    credited: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[str] = mapped_column(String(40))
    created_utc: Mapped[datetime] = mapped_column(UtcDateTime)
    committed_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    finished_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    commit_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    gateway: Mapped[str | None] = mapped_column(String(64), nullable=True)
    external_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_outcome: Mapped[str | None] = mapped_column(String(40), nullable=True)
    attention_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    receipt_status: Mapped[str] = mapped_column(String(20), default="none")
    offline: Mapped[bool] = mapped_column(Boolean, default=False)
    # JSON text as the terminal journals them: the payer's input fields, and details (payee, fee rule, utility
    # split and readings, fiscal document) that registries and the story read
    fields: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")
    details: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")
    change_seq: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class JournalOperationVersion(Base):
    """Every state of an operation the service received, in the order the terminal wrote them; `record` is the
    journal row as JSON (every column: the latest version's is what the story page shows)."""

    __tablename__ = "journal_operation_versions"
    __table_args__ = (PrimaryKeyConstraint("terminal_id", "op_key", "change_seq",
                                           name="journal_operation_versions_pkey"),)
    terminal_id: Mapped[int] = mapped_column(Integer)
    op_key: Mapped[str] = mapped_column(String(64))
    change_seq: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(20))
    record: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class JournalBill(Base):
    """A banknote stacked for an operation."""

    __tablename__ = "journal_bills"
    __table_args__ = (PrimaryKeyConstraint("terminal_id", "op_key", "local_id", name="journal_bills_pkey"),)
    terminal_id: Mapped[int] = mapped_column(Integer)
    op_key: Mapped[str] = mapped_column(String(64))
    local_id: Mapped[int] = mapped_column(BigInteger)
    denomination: Mapped[int] = mapped_column(BigInteger)
    validator: Mapped[str] = mapped_column(String(40))
    stacked_at: Mapped[str] = mapped_column(String(40))
    encashment: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    change_seq: Mapped[int] = mapped_column(BigInteger)


class JournalAttempt(Base):
    """One delivery attempt: gateway, verb, times, outcome, result code and message, the gateway's id."""

    __tablename__ = "journal_attempts"
    __table_args__ = (PrimaryKeyConstraint("terminal_id", "op_key", "local_id", name="journal_attempts_pkey"),)
    terminal_id: Mapped[int] = mapped_column(Integer)
    op_key: Mapped[str] = mapped_column(String(64))
    local_id: Mapped[int] = mapped_column(BigInteger)
    gateway: Mapped[str] = mapped_column(String(64))
    verb: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[str] = mapped_column(String(40))
    finished_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(40), nullable=True)
    code: Mapped[str | None] = mapped_column(String(100), nullable=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    external_id: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    session: Mapped[str | None] = mapped_column(String(40), nullable=True)  # the CyberPlat SESSION it carried
    change_seq: Mapped[int] = mapped_column(BigInteger)


class JournalIncident(Base):
    """Something support must see: an uncertain bill, owed cash, a restore, a clock fault."""

    __tablename__ = "journal_incidents"
    __table_args__ = (UniqueConstraint("terminal_id", "local_id", "at", name="journal_incidents_key"),
                      Index("journal_incidents_operation", "terminal_id", "op_key"))
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    terminal_id: Mapped[int] = mapped_column(Integer)
    local_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(40))
    operation: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    op_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[str] = mapped_column(Text)
    amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    change_seq: Mapped[int] = mapped_column(BigInteger)


class JournalEncashment(Base):
    """A closed encashment: counts by denomination, the total, and any difference from the cassette's count."""

    __tablename__ = "journal_encashments"
    __table_args__ = (UniqueConstraint("terminal_id", "local_id", "closed_at", name="journal_encashments_key"),)
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    terminal_id: Mapped[int] = mapped_column(Integer)
    local_id: Mapped[int] = mapped_column(BigInteger)
    closed_at: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(200))
    counts: Mapped[str] = mapped_column(Text)
    total: Mapped[int] = mapped_column(BigInteger)
    bill_count: Mapped[int] = mapped_column(Integer)
    cassette_counts: Mapped[str | None] = mapped_column(Text, nullable=True)
    difference: Mapped[str | None] = mapped_column(Text, nullable=True)
    change_seq: Mapped[int] = mapped_column(BigInteger)


class JournalPosition(Base):
    """How far a terminal's journal is uploaded: the highest change sequence number acknowledged."""

    __tablename__ = "journal_positions"
    terminal_id: Mapped[int] = mapped_column(ForeignKey("terminals.id", ondelete="CASCADE"), primary_key=True)
    acknowledged: Mapped[int] = mapped_column(BigInteger, default=0)
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
