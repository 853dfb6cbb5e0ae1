"""State changes a terminal reports in its heartbeats (validator fault, paper out, cassette removed, out of service
and back…): checked, then stored once each, keyed by the terminal's own event id, however often a terminal that
was offline resends them until a reply acknowledges them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Connection, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from provisioning.db.models import Base, UtcDateTime

MAX_EVENTS = 200  # per heartbeat: a terminal with more sends the rest in the next ones
_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
_KIND = re.compile(r"[a-z][a-z0-9_]{0,39}")


class TerminalEvent(Base):
    """One state change of a terminal, at the terminal's time (its own clock, so read with its clock skew)."""

    __tablename__ = "terminal_events"
    __table_args__ = (UniqueConstraint("terminal_id", "event_id"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    terminal_id: Mapped[int] = mapped_column(ForeignKey("terminals.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[str] = mapped_column(String(64))  # the terminal's: random, so a restored terminal never reuses one
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    kind: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(String(500), default="")
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)


@dataclass(frozen=True)
class ReportedEvent:
    """An event as a heartbeat carries it, checked."""

    event_id: str
    at: datetime
    kind: str
    detail: str


def parse_events(value: Any) -> list[ReportedEvent]:
    """The `events` of a heartbeat payload (absent: none); ValueError says what is wrong."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError("events must be a list")
    if len(value) > MAX_EVENTS:
        raise ValueError(f"at most {MAX_EVENTS} events per heartbeat, got {len(value)}")
    events = []
    for n, item in enumerate(value):
        if not isinstance(item, dict):
            raise ValueError(f"events[{n}] must be an object")
        event_id, kind, detail = item.get("id"), item.get("kind"), item.get("detail", "")
        if not isinstance(event_id, str) or not _ID.fullmatch(event_id):
            raise ValueError(f"events[{n}].id must be 8-64 letters, digits, '-' or '_'")
        if not isinstance(kind, str) or not _KIND.fullmatch(kind):
            raise ValueError(f"events[{n}].kind must be a lower-case word of at most 40 characters")
        if not isinstance(detail, str):
            raise ValueError(f"events[{n}].detail must be text")
        try:
            at = datetime.fromisoformat(str(item.get("at")))
        except ValueError:
            raise ValueError(f"events[{n}].at must be an ISO 8601 time") from None
        if at.tzinfo is None:
            raise ValueError(f"events[{n}].at must carry its time zone")
        events.append(ReportedEvent(event_id, at, kind, detail[:500]))
    return events


def events_json(events: list[ReportedEvent]) -> str:
    """The events as the PostgreSQL statement reads them (jsonb_to_recordset)."""
    return json.dumps([{"event_id": e.event_id, "at": e.at.isoformat(), "kind": e.kind, "detail": e.detail}
                       for e in events])


def store_events(connection: Connection, terminal_id: int, events: list[ReportedEvent], now: datetime) -> None:
    """Insert the events not stored before (SQLite; PostgreSQL does this inside the heartbeat's one statement)."""
    if events:
        connection.execute(sqlite_insert(TerminalEvent).values([
            {"terminal_id": terminal_id, "event_id": e.event_id, "at": e.at, "kind": e.kind, "detail": e.detail,
             "received_at": now} for e in events]).on_conflict_do_nothing())
