"""A terminal's history from its stored heartbeats: cassette fill, queue depth and payments, grouped into time
buckets in SQL (never every row into Python); hourly aggregates rolled up by a periodic job so that pruning old
heartbeats (another periodic job, after a configurable number of days) loses no chart.

Payments are counted from the journal's operation numbers the terminal reports (`last_operation`): the numbers
issued in a bucket, which are the payments begun there (an abandoned empty one included)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, select, text
from sqlalchemy.orm import Session, aliased

from provisioning.db.models import Heartbeat, Terminal, UtcDateTime
from provisioning.monitor.models import HeartbeatHour
from provisioning.monitor.state import parse_payload
from provisioning.settings import Settings

HOUR = 3600
ROLLUP_DELAY = timedelta(minutes=5)  # an hour is summed up this long after it ends (late commits land first)
ROLLUP_MAX_HOURS = 48  # per run, so a service back after a long stop catches up in bounded transactions


@dataclass(frozen=True)
class Period:
    """A chart's time span, its buckets, and whether it reads raw heartbeats or the hourly aggregates."""

    seconds: int
    bucket: int  # cassette fill and queue depth
    payments_bucket: int
    raw: bool


PERIODS: dict[str, Period] = {
    "6h": Period(6 * HOUR, 300, HOUR, True),
    "24h": Period(24 * HOUR, 900, HOUR, True),
    "7d": Period(7 * 24 * HOUR, 2 * HOUR, HOUR, False),
    "30d": Period(30 * 24 * HOUR, 6 * HOUR, 6 * HOUR, False),
}

# PostgreSQL reads payloads through monitor_payload(text) → jsonb, NULL for one that is not JSON (migration
# 0005): one malformed row must not fail a chart.


def _dialect_sql(dialect: str) -> dict[str, str]:
    """The pieces that differ: seconds since the epoch, the parsed document, a number at a path in it."""
    if dialect == "postgresql":
        def number(*path: str) -> str:
            at = "{" + ",".join(path) + "}"
            return f"CASE WHEN jsonb_typeof(doc #> '{at}') = 'number' THEN CAST(doc #>> '{at}' AS double precision) END"
        epoch, doc, valid = "CAST(floor(extract(epoch FROM received_at)) AS bigint)", "monitor_payload(payload)", \
            "doc IS NOT NULL"
    else:
        def number(*path: str) -> str:
            at = "$." + ".".join(path)
            return f"CASE WHEN json_type(doc, '{at}') IN ('integer', 'real') THEN json_extract(doc, '{at}') END"
        epoch, doc, valid = "CAST(strftime('%s', received_at) AS INTEGER)", \
            "CASE WHEN json_valid(payload) THEN payload END", "doc IS NOT NULL"
    capacity = number("cassette", "capacity")
    return {"epoch": epoch, "doc": doc, "valid": valid,
            "fill": f"CASE WHEN {capacity} > 0 THEN 100.0 * {number('cassette', 'count')} / {capacity} END",
            "depth": number("outbox_depth"), "op": number("last_operation")}


def _rows_sql(dialect: str, where: str) -> str:
    """Each heartbeat matching `where` as (terminal_id, epoch, fill, depth, op), malformed payloads left out."""
    d = _dialect_sql(dialect)
    return (f"SELECT terminal_id, epoch, {d['fill']} AS fill, {d['depth']} AS depth, {d['op']} AS op FROM "
            f"(SELECT terminal_id, {d['epoch']} AS epoch, {d['doc']} AS doc FROM heartbeats WHERE {where}) h "
            f"WHERE {d['valid']}")


_TIMES = (bindparam("start", type_=UtcDateTime), bindparam("end", type_=UtcDateTime))


@dataclass(frozen=True)
class Point:
    """One bucket: its start (UTC) and value (None: no heartbeat in it)."""

    at: datetime
    value: float | None


@dataclass(frozen=True)
class Series:
    """A terminal's three chart series over one period."""

    start: datetime
    end: datetime
    cassette_fill: list[Point]
    outbox_depth: list[Point]
    payments: list[Point]


def _buckets(connection: Connection, terminal_id: int, start: datetime, end: datetime, bucket: int,
             raw: bool) -> dict[int, tuple[float | None, float | None, float | None]]:
    """bucket number → (highest fill, highest depth, highest operation number) in SQL."""
    if raw:
        rows = _rows_sql(connection.dialect.name, "terminal_id = :terminal AND received_at >= :start "
                                                  "AND received_at < :end")
        query = text(f"SELECT epoch / :bucket AS b, max(fill), max(depth), max(op) FROM ({rows}) r "
                     "GROUP BY epoch / :bucket").bindparams(*_TIMES)
        params: dict[str, Any] = {"terminal": terminal_id, "start": start, "end": end, "bucket": bucket}
    else:
        query = text("SELECT hour * 3600 / :bucket AS b, max(cassette_fill), max(outbox_depth), max(last_operation) "
                     "FROM heartbeat_hours WHERE terminal_id = :terminal AND hour >= :h0 AND hour < :h1 "
                     "GROUP BY hour * 3600 / :bucket")
        params = {"terminal": terminal_id, "h0": int(start.timestamp()) // HOUR, "h1": int(end.timestamp()) // HOUR,
                  "bucket": bucket}
    return {int(b): (fill, depth, op) for b, fill, depth, op in connection.execute(query, params)}


def _operation_before(session: Session, terminal_id: int, when: datetime) -> float | None:
    """The operation number the terminal reported last before `when` (raw heartbeat, else hourly aggregate)."""
    payload = session.scalar(select(Heartbeat.payload).where(Heartbeat.terminal_id == terminal_id,
                                                             Heartbeat.received_at < when)
                             .order_by(Heartbeat.received_at.desc()).limit(1))
    value = parse_payload(payload).get("last_operation")
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    hourly = session.scalar(select(HeartbeatHour.last_operation).where(
        HeartbeatHour.terminal_id == terminal_id, HeartbeatHour.hour < int(when.timestamp()) // HOUR,
        HeartbeatHour.last_operation.is_not(None)).order_by(HeartbeatHour.hour.desc()).limit(1))
    return None if hourly is None else float(hourly)


def _at(bucket: int, size: int) -> datetime:
    return datetime.fromtimestamp(bucket * size, UTC)


def series(session: Session, terminal_id: int, period: Period, now: datetime) -> Series:
    """The chart series of one terminal over the period that ends with the bucket holding `now`."""
    end_epoch = (int(now.timestamp()) // period.payments_bucket + 1) * period.payments_bucket
    end = datetime.fromtimestamp(end_epoch, UTC)
    start = end - timedelta(seconds=period.seconds)
    connection = session.connection()
    found = _buckets(connection, terminal_id, start, end, period.bucket, period.raw)
    first = int(start.timestamp()) // period.bucket
    numbers = range(first, first + period.seconds // period.bucket)
    fill = [Point(_at(b, period.bucket), _round(found[b][0]) if b in found else None) for b in numbers]
    depth = [Point(_at(b, period.bucket), found[b][1] if b in found else None) for b in numbers]
    ops = _buckets(connection, terminal_id, start, end, period.payments_bucket, period.raw) \
        if period.payments_bucket != period.bucket else found
    previous = _operation_before(session, terminal_id, start)
    payments = []
    first = int(start.timestamp()) // period.payments_bucket
    for b in range(first, first + period.seconds // period.payments_bucket):
        highest = ops[b][2] if b in ops else None
        count = None
        if highest is not None:
            # a restored terminal may report a lower number once: never a negative count
            count = max(highest - previous, 0.0) if previous is not None else None
            previous = highest if previous is None else max(previous, highest)
        payments.append(Point(_at(b, period.payments_bucket), count))
    return Series(start, end, fill, depth, payments)


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)


def rolled_up_until(session: Session) -> int | None:
    """The first hour (since the epoch) not summed up yet, or None when nothing has been."""
    newest = session.scalar(select(func.max(HeartbeatHour.hour)))
    return None if newest is None else int(newest) + 1


def rollup(session: Session, now: datetime, settings: Settings) -> int:
    """Sum up every complete hour not summed up yet, all terminals at once, in SQL; how many hours. A periodic job."""
    until = int((now - ROLLUP_DELAY).timestamp()) // HOUR
    begin = rolled_up_until(session)
    # start at the first hour that has heartbeats: a fleet silent for longer than one run's window (a weekend with
    # the service up and every terminal off) would otherwise leave the same empty window to every later run
    first = select(func.min(Heartbeat.received_at))
    if begin is not None:
        first = first.where(Heartbeat.received_at >= datetime.fromtimestamp(begin * HOUR, UTC))
    oldest = session.scalar(first)
    if oldest is None:
        return 0
    begin = max(begin or 0, int(oldest.timestamp()) // HOUR)
    until = min(until, begin + ROLLUP_MAX_HOURS)
    if until <= begin:
        return 0
    rows = _rows_sql(session.connection().dialect.name, "received_at >= :start AND received_at < :end")
    session.execute(text(
        "INSERT INTO heartbeat_hours (terminal_id, hour, samples, cassette_fill, outbox_depth, last_operation) "
        f"SELECT terminal_id, epoch / 3600, count(*), max(fill), max(depth), max(op) FROM ({rows}) r "
        "GROUP BY terminal_id, epoch / 3600").bindparams(*_TIMES),
        {"start": datetime.fromtimestamp(begin * HOUR, UTC), "end": datetime.fromtimestamp(until * HOUR, UTC)})
    return until - begin


def prune(session: Session, now: datetime, settings: Settings) -> int:
    """Delete heartbeats older than the retention, but only those already summed up (and always each terminal's
    newest, which the fleet page and the alert rules read); how many rows. A periodic job."""
    cutoff = now - timedelta(days=settings.heartbeat_retention_days)
    rolled = rolled_up_until(session)
    if rolled is None:
        return 0
    cutoff = min(cutoff, datetime.fromtimestamp(rolled * HOUR, UTC))
    newer = aliased(Heartbeat)
    deleted = 0
    for terminal_id in session.scalars(select(Terminal.id)):
        # one indexed range per terminal (terminal, time): the cost follows the rows deleted, not the table
        newest = select(func.max(newer.received_at)).where(newer.terminal_id == terminal_id).scalar_subquery()
        result = session.execute(delete(Heartbeat).where(Heartbeat.terminal_id == terminal_id,
                                                         Heartbeat.received_at < cutoff,
                                                         Heartbeat.received_at < newest))
        deleted += getattr(result, "rowcount", 0) or 0
    return deleted
