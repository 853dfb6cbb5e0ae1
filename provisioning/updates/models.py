"""Tables of the updates area: releases, each dealer's pilot group, each terminal's update state and its steps."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from provisioning.db.models import Base, UtcDateTime, utcnow


class Release(Base):
    """A signed release bundle: its version, channel and TUF target."""

    __tablename__ = "releases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(String(40), unique=True)
    channel: Mapped[str] = mapped_column(String(20))  # stable / pilot
    target: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class UpdateChannel(Base):
    """A dealer's pilot group: its terminals take pilot releases before the others get them as stable."""

    __tablename__ = "update_channels"
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id", ondelete="CASCADE"), primary_key=True)
    pilot_group_id: Mapped[int | None] = mapped_column(ForeignKey("terminal_groups.id"), nullable=True)


class TerminalUpdate(Base):
    """Where a terminal's update stands: what it runs, what it is moving to, and the last step it reported."""

    __tablename__ = "terminal_updates"
    terminal_id: Mapped[int] = mapped_column(ForeignKey("terminals.id", ondelete="CASCADE"), primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id", ondelete="CASCADE"), index=True)
    running: Mapped[str] = mapped_column(String(40), default="")
    target: Mapped[str] = mapped_column(String(40), default="")
    step: Mapped[str] = mapped_column(String(30), default="")
    detail: Mapped[str] = mapped_column(String(500), default="")
    bad: Mapped[str] = mapped_column(Text, default="")  # versions this terminal refused after a failed start
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class UpdateStep(Base):
    """One step a terminal reported (downloaded, installed, switched, healthy, rolled_back, failed …)."""

    __tablename__ = "update_steps"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    terminal_id: Mapped[int] = mapped_column(ForeignKey("terminals.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    version: Mapped[str] = mapped_column(String(40), default="")
    step: Mapped[str] = mapped_column(String(30))
    detail: Mapped[str] = mapped_column(String(500), default="")
