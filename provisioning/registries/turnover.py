"""Turnover: delivered payments' sums by the terminal's local day, by terminal and by provider, over a range of
local dates (the date part of the time the terminal wrote, so each terminal's own day), for the portal's charts
and totals table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from provisioning.db.models import Terminal
from provisioning.journal.models import JournalOperation
from provisioning.registries.build import BOOKED

# Local days reach from UTC-12 to UTC+14: the UTC range searched is widened by that much on each side.
_SLACK = timedelta(hours=14)


@dataclass(frozen=True)
class Line:
    """One (day, terminal, provider) group: how many payments, cash taken, credited, fees (kopecks)."""

    day: date
    terminal: str
    provider: str
    payments: int
    cash: int
    credited: int
    fee: int


@dataclass(frozen=True)
class Totals:
    """Sums over some lines."""

    payments: int = 0
    cash: int = 0
    credited: int = 0
    fee: int = 0


def lines(session: Session, dealer_id: int, since: date, until: date, terminal: str = "",
          provider: str = "") -> list[Line]:
    """The dealer's delivered payments grouped by local day, terminal and provider, for local days since..until."""
    local_day = func.substr(JournalOperation.created_at, 1, 10)
    query = (select(local_day, Terminal.number, JournalOperation.provider, func.count(),
                    func.sum(JournalOperation.cash), func.sum(func.coalesce(JournalOperation.credited, 0)),
                    func.sum(func.coalesce(JournalOperation.fee, 0)))
             .join(Terminal, Terminal.id == JournalOperation.terminal_id)
             .where(JournalOperation.dealer_id == dealer_id, JournalOperation.state == BOOKED,
                    JournalOperation.created_utc >= datetime.combine(since, time(), UTC) - _SLACK,
                    JournalOperation.created_utc < datetime.combine(until + timedelta(days=1), time(), UTC)
                    + _SLACK,
                    local_day >= since.isoformat(), local_day <= until.isoformat())
             .group_by(local_day, Terminal.number, JournalOperation.provider))
    if terminal:
        query = query.where(Terminal.number == terminal)
    if provider:
        query = query.where(JournalOperation.provider == provider)
    out = [Line(date.fromisoformat(d), number, prov, int(n), int(cash or 0), int(credited or 0), int(fee or 0))
           for d, number, prov, n, cash, credited, fee in session.execute(query)]
    return sorted(out, key=lambda line: (line.day, line.terminal, line.provider))


def total(found: list[Line]) -> Totals:
    """The sums of the given lines."""
    return Totals(sum(x.payments for x in found), sum(x.cash for x in found), sum(x.credited for x in found),
                  sum(x.fee for x in found))


def by(found: list[Line], key: str) -> dict[str, Totals]:
    """Totals per day ('day', ISO dates), per terminal ('terminal') or per provider ('provider'), sorted by key."""
    groups: dict[str, list[Line]] = {}
    for line in found:
        value = getattr(line, key)
        groups.setdefault(value.isoformat() if isinstance(value, date) else str(value), []).append(line)
    return {name: total(groups[name]) for name in sorted(groups)}


def every_day(since: date, until: date) -> list[date]:
    """Each date of the range (days without payments still get a bar of zero)."""
    return [since + timedelta(days=i) for i in range((until - since).days + 1)]
