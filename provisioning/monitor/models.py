"""The monitoring tables: alert rules and channels per dealer, alerts (opened once, closed once), their deliveries
(an outbox per channel, retried with back-off), and hourly heartbeat aggregates that outlive the pruned rows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from provisioning.db.models import Base, Heartbeat, UtcDateTime, utcnow


class AlertRule(Base):
    """One kind of alert a dealer wants (offline, cassette, paper, …) with its threshold; no row means off."""

    __tablename__ = "alert_rules"
    __table_args__ = (UniqueConstraint("dealer_id", "kind"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    threshold: Mapped[int] = mapped_column(Integer, default=0)  # stored units: the editor's unit × Kind.scale (offline: seconds)
    enabled: Mapped[bool] = mapped_column(default=True)


class AlertChannel(Base):
    """Where a dealer's alerts go: a webhook (signed with the dealer's secret) and e-mail addresses."""

    __tablename__ = "alert_channels"
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id", ondelete="CASCADE"), primary_key=True)
    webhook_url: Mapped[str] = mapped_column(String(500), default="")
    # The HMAC key the receiver checks signatures with: entered in the portal, never shown again, never logged.
    webhook_secret: Mapped[str] = mapped_column(String(200), default="")
    emails: Mapped[str] = mapped_column(String(1000), default="")  # comma-separated


class Alert(Base):
    """A condition on one terminal, from when a rule first saw it to when it cleared: opened once, closed once."""

    __tablename__ = "alerts"
    __table_args__ = (
        # At most one open alert per terminal and kind, whichever evaluator (server process) gets there first.
        Index("ux_alerts_open", "terminal_id", "kind", unique=True,
              sqlite_where=text("closed_at IS NULL"), postgresql_where=text("closed_at IS NULL")),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id", ondelete="CASCADE"), index=True)
    terminal_id: Mapped[int] = mapped_column(ForeignKey("terminals.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    detail: Mapped[str] = mapped_column(String(500), default="")
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    close_detail: Mapped[str] = mapped_column(String(500), default="")


class AlertDelivery(Base):
    """One message about one alert event (opened / closed) to one channel: sent at least once, retried with
    back-off, given up after a number of attempts (the portal shows it)."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (UniqueConstraint("alert_id", "event", "channel"),
                      Index("ix_alert_deliveries_due", "state", "next_attempt_at"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(10))  # opened / closed
    channel: Mapped[str] = mapped_column(String(10))  # webhook / email
    state: Mapped[str] = mapped_column(String(10), default="pending")  # pending / sending / sent / failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(String(300), default="")


class HeartbeatHour(Base):
    """One terminal's heartbeats of one hour, summed up (kept after the raw rows are pruned)."""

    __tablename__ = "heartbeat_hours"
    __table_args__ = (UniqueConstraint("terminal_id", "hour"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    terminal_id: Mapped[int] = mapped_column(ForeignKey("terminals.id", ondelete="CASCADE"))
    hour: Mapped[int] = mapped_column(BigInteger)  # hours since 1970-01-01 00:00 UTC
    samples: Mapped[int] = mapped_column(Integer, default=0)
    cassette_fill: Mapped[float | None] = mapped_column(Float, nullable=True)  # highest, percent of capacity
    outbox_depth: Mapped[int | None] = mapped_column(Integer, nullable=True)  # highest
    last_operation: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # highest


# Charts read one terminal's heartbeats over a time range, and pruning deletes by age terminal by terminal.
Index("ix_heartbeats_terminal_time", Heartbeat.terminal_id, Heartbeat.received_at)
# The hourly rollup reads every terminal's heartbeats of a time range, and finds the first one after a gap.
Index("ix_heartbeats_received_at", Heartbeat.received_at)
