"""The `commands` table: one row per remote command, queued → delivered → done / failed / expired."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column

from provisioning.db.models import Base, UtcDateTime, utcnow

#: what a terminal can be asked to do (the terminal's own registry may know more kinds; these are the portal's)
KINDS = ("lock", "unlock", "restart", "reboot", "screenshot", "log_tail", "sync_now", "encashment_report",
         "test_receipt", "fiscal_intents", "fiscal_resolve")
STATES = ("queued", "delivered", "done", "failed", "expired")
FINISHED = ("done", "failed", "expired")


def new_id() -> str:
    """A command id: a random UUID, the terminal's key for running it exactly once."""
    return str(uuid.uuid4())


class Command(Base):
    """One remote command to one terminal and what became of it."""

    __tablename__ = "commands"
    __table_args__ = (Index("ix_commands_terminal_state", "terminal_id", "state"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id", ondelete="CASCADE"), index=True)
    terminal_id: Mapped[int] = mapped_column(ForeignKey("terminals.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    arguments: Mapped[str] = mapped_column(Text, default="{}")  # JSON object
    state: Mapped[str] = mapped_column(String(20), default="queued")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    deliveries: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    result: Mapped[str] = mapped_column(Text, default="")  # JSON object the terminal reported, or the service's note
    # A screenshot's PNG: loaded only when asked for, never with the command list.
    attachment: Mapped[bytes | None] = deferred(mapped_column(LargeBinary, nullable=True))
    attachment_type: Mapped[str] = mapped_column(String(40), default="")
