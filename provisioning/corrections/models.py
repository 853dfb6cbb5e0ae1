"""The `corrections` table: one row per correction of one payment, requested → approved (where money moves) → sent
to the terminal (a remote command) → done / failed, or rejected by the second person."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from provisioning.db.models import Base, UtcDateTime, utcnow

KINDS = ("reprocess", "reroute", "account", "refund")
STATES = ("requested", "rejected", "sent", "done", "failed")


class Correction(Base):
    """One correction: what was asked, by whom, who approved it, the command that carried it and its result."""

    __tablename__ = "corrections"
    __table_args__ = (Index("ix_corrections_dealer_state", "dealer_id", "state"),
                      Index("ix_corrections_operation", "terminal_id", "operation"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id", ondelete="CASCADE"))
    terminal_id: Mapped[int] = mapped_column(ForeignKey("terminals.id", ondelete="CASCADE"))
    operation: Mapped[int] = mapped_column(BigInteger)
    op_key: Mapped[str] = mapped_column(String(64), default="")  # the payment's unrepeatable key on the terminal
    kind: Mapped[str] = mapped_column(String(20))
    arguments: Mapped[str] = mapped_column(Text, default="{}")  # JSON: gateway, account, refund's who/when/how
    note: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(20), default="requested")
    needs_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(200), nullable=True)  # who approved or rejected
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    command_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    result: Mapped[str] = mapped_column(Text, default="")  # JSON the terminal reported
