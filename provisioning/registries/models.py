"""Registry tables: each provider's registry settings, the archive of built registries, every delivery of one,
and each reconciliation run with its report."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column

from provisioning.db.models import Base, UtcDateTime, utcnow


class RegistryProfile(Base):
    """How one provider of a dealer gets its registry: zone, schedule, formats, CSV encoding, where it goes, and
    how the processing system's registry is read for reconciliation (`import_format`, JSON)."""

    __tablename__ = "registry_profiles"
    __table_args__ = (UniqueConstraint("dealer_id", "provider", name="registry_profiles_provider"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Moscow")
    build_at: Mapped[str] = mapped_column(String(5), default="03:00")  # local time of day; yesterday is built
    scheduled: Mapped[bool] = mapped_column(Boolean, default=False)
    formats: Mapped[str] = mapped_column(String(20), default="csv")  # "csv", "xlsx" or "csv,xlsx"
    encoding: Mapped[str] = mapped_column(String(20), default="utf-8")  # of the CSV: utf-8 or windows-1251
    emails: Mapped[str] = mapped_column(Text, default="")
    drop_dir: Mapped[str] = mapped_column(Text, default="")
    import_format: Mapped[str] = mapped_column(Text, default="{}")
    last_built_day: Mapped[date | None] = mapped_column(Date, nullable=True)  # the scheduler's mark


class RegistryFile(Base):
    """One built registry (kept: listed, downloadable; a rebuild is a new version beside the old)."""

    __tablename__ = "registry_files"
    __table_args__ = (UniqueConstraint("dealer_id", "provider", "day", "format", "version",
                                       name="registry_files_version"),
                      Index("registry_files_dealer_day", "dealer_id", "day"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date)
    format: Mapped[str] = mapped_column(String(8))
    version: Mapped[int] = mapped_column(Integer, default=1)
    file_name: Mapped[str] = mapped_column(String(200))
    content: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    sha256: Mapped[str] = mapped_column(String(64))
    payments: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(BigInteger)  # credited to the provider, kopecks
    fee: Mapped[int] = mapped_column(BigInteger)
    built_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    built_by: Mapped[str] = mapped_column(String(200))
    # what the file holds, independent of its format (build.digest): the amend job compares it with the day now
    digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)  # build.fingerprint: a cheap first look
    # a new version of a day already built, made because payments of that day arrived after it (amend.py)
    amendment: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class RegistryDelivery(Base):
    """One sending of a registry file: by e-mail or into a drop folder; sent or failed, and why."""

    __tablename__ = "registry_deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("registry_files.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(10))  # "email" | "folder"
    target: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), default="pending")  # pending, sending, sent, failed
    error: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # a pending row is not tried before this (back-off after a failed attempt); None: at once
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class ReconcileRun(Base):
    """A processing system's registry imported and matched with ours; the report is JSON (see reconcile.py)."""

    __tablename__ = "reconcile_runs"
    __table_args__ = (Index("reconcile_runs_dealer", "dealer_id", "day"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date)
    file_name: Mapped[str] = mapped_column(String(200))
    rows: Mapped[int] = mapped_column(Integer)
    matched: Mapped[int] = mapped_column(Integer)
    discrepancies: Mapped[int] = mapped_column(Integer)
    report: Mapped[str] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    imported_by: Mapped[str] = mapped_column(String(200))
