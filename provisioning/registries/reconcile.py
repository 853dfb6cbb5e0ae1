"""Reconciliation: the processing system's registry for a provider's day matched with our uploaded operations —
by the gateway's id, else terminal + operation, else account + amount within a time window — and a report of what
differs: payments only they have, payments only we booked, amounts that differ, payments they booked that we do
not count as delivered. Each of ours carries links to its story and to "open as correction"."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioning.db.models import Terminal
from provisioning.journal.models import JournalOperation
from provisioning.registries.build import BOOKED, day_bounds, profile_of, zone_of
from provisioning.registries.importer import ImportFormat, TheirRow, parse
from provisioning.registries.models import ReconcileRun


@dataclass
class Ours:
    """One of our operations as reconciliation sees it."""

    terminal: str
    operation: int
    account: str
    amount: int  # credited to the provider
    state: str
    external_id: str
    op: JournalOperation
    taken: bool = False

    def doc(self) -> dict[str, Any]:
        """As the report keeps it, with its links."""
        return {"terminal": self.terminal, "operation": self.operation, "account": self.account,
                "ours": self.amount, "state": self.state, "external_id": self.external_id,
                "at": self.op.created_utc.isoformat()}


@dataclass
class Report:
    """What matched and every discrepancy (money in kopecks)."""

    matched: int = 0
    matched_ours: int = 0
    matched_theirs: int = 0
    theirs_rows: int = 0
    mismatches: list[dict[str, Any]] = field(default_factory=list)
    not_booked_here: list[dict[str, Any]] = field(default_factory=list)
    missing_ours: list[dict[str, Any]] = field(default_factory=list)
    missing_theirs: list[dict[str, Any]] = field(default_factory=list)
    other_day: list[dict[str, Any]] = field(default_factory=list)

    @property
    def discrepancies(self) -> int:
        """How many lines need a person."""
        return len(self.mismatches) + len(self.not_booked_here) + len(self.missing_ours) + len(self.missing_theirs)

    def as_json(self) -> dict[str, Any]:
        """Everything, for storing and for `--format json`."""
        return {k: getattr(self, k) for k in ("matched", "matched_ours", "matched_theirs", "theirs_rows",
                                              "mismatches", "not_booked_here", "missing_ours", "missing_theirs",
                                              "other_day")} | {"discrepancies": self.discrepancies}


def story_link(terminal: str, operation: int) -> str:
    """The payment's story in the portal."""
    return "/lookup?" + urlencode({"q": f"{terminal}/{operation}"})


def correction_link(terminal: str, operation: int, note: str) -> str:
    """Opening a correction for the payment (the corrections page reads these parameters)."""
    return "/corrections/new?" + urlencode({"terminal": terminal, "operation": operation, "note": note[:300]})


def _amount(op: JournalOperation, amount_is: str) -> int:
    """What their registry's amount is compared with: the cash taken, or what was credited to the provider."""
    if amount_is == "cash":
        return op.cash
    return op.credited if op.credited is not None else op.cash - (op.fee or 0)


def _ours(session: Session, dealer_id: int, provider: str, day: date, zone_name: str, window: timedelta,
          amount_is: str) -> list[Ours]:
    start, end = day_bounds(day, zone_of(zone_name))
    rows = session.execute(
        select(Terminal.number, JournalOperation).join(Terminal, Terminal.id == JournalOperation.terminal_id)
        .where(JournalOperation.dealer_id == dealer_id, JournalOperation.provider == provider,
               JournalOperation.created_utc >= start - window, JournalOperation.created_utc < end + window,
               JournalOperation.cash > 0)
        .order_by(JournalOperation.created_utc)).all()
    return [Ours(number, op.operation, op.account, _amount(op, amount_is), op.state, op.external_id or "", op)
            for number, op in rows]


def _elsewhere(session: Session, dealer_id: int, provider: str, row: TheirRow, amount_is: str) -> Ours | None:
    """Our operation a line names by id or number when it was opened on another day."""
    query = (select(Terminal.number, JournalOperation).join(Terminal, Terminal.id == JournalOperation.terminal_id)
             .where(JournalOperation.dealer_id == dealer_id, JournalOperation.provider == provider))
    found = None
    if row.external_id:
        found = session.execute(query.where(JournalOperation.external_id == row.external_id).limit(1)).first()
    if found is None and row.terminal and row.operation is not None:
        found = session.execute(query.where(Terminal.number == row.terminal,
                                            JournalOperation.operation == row.operation).limit(1)).first()
    if found is None:
        return None
    number, op = found
    return Ours(number, op.operation, op.account, _amount(op, amount_is), op.state, op.external_id or "", op)


def match(ours: list[Ours], theirs: list[TheirRow], window: timedelta, in_day: Any,
          elsewhere: Any = lambda row: None) -> Report:
    """Pair their lines with our operations and say what differs (`in_day(ours)`: whether it belongs to the day)."""
    by_external = {o.external_id: o for o in ours if o.external_id}
    by_number = {(o.terminal, o.operation): o for o in ours}
    report = Report()
    previous: tuple[Any, ...] = ()
    for row in theirs:
        same = (row.external_id, row.terminal, row.operation, row.account, row.amount)
        if same == previous:
            continue  # the payment's next line in a registry with a line per service: one payment
        previous = same
        report.theirs_rows += 1
        found = by_external.get(row.external_id) if row.external_id else None
        if found is None and row.terminal and row.operation is not None:
            found = by_number.get((row.terminal, row.operation))
        duplicate = found is not None and found.taken  # a second line naming the same payment: they have it twice
        if duplicate:
            found = None
        at = row.at
        if found is None and row.account and at is not None:
            near = [o for o in ours if not o.taken and o.account == row.account and o.amount == row.amount
                    and abs(o.op.created_utc - at) <= window]
            found = min(near, key=lambda o: abs(o.op.created_utc - at)) if near else None
        other_day = False
        if found is None and not duplicate:
            candidate = elsewhere(row)
            if candidate is not None and (candidate.terminal, candidate.operation) not in by_number:
                found, other_day = candidate, True
        theirs_doc = {"line": row.line, "theirs": row.amount, "external_id": row.external_id,
                      "terminal": row.terminal, "operation": row.operation, "account": row.account,
                      "at": row.at.isoformat() if row.at else None, "duplicate": duplicate}
        if found is None:
            report.missing_ours.append(theirs_doc)
            continue
        found.taken = True
        doc = found.doc() | {"line": row.line, "theirs": row.amount}
        if other_day or not in_day(found):  # within the window of the day's edge, or named by id or number
            report.other_day.append(doc)
        if found.state != BOOKED:
            report.not_booked_here.append(doc)
        elif found.amount != row.amount:
            report.mismatches.append(doc)
        else:
            report.matched += 1
            report.matched_ours += found.amount
            report.matched_theirs += row.amount
    report.missing_theirs = [o.doc() for o in ours if not o.taken and o.state == BOOKED and in_day(o)]
    return report


def reconcile(session: Session, dealer_id: int, provider: str, day: date, data: bytes, file_name: str,
              actor: str, fmt: ImportFormat | None = None) -> ReconcileRun:
    """Import their registry for the provider's `day`, match it, keep the run; ImportRejected (nothing kept) for
    a malformed file, FormatError for an unusable format."""
    profile = profile_of(session, dealer_id, provider)
    fmt = fmt or ImportFormat.from_json(profile.import_format)
    zone = zone_of(profile.timezone)
    theirs = parse(data, fmt, zone)
    window = timedelta(minutes=fmt.window_minutes)
    start, end = day_bounds(day, zone)
    ours = _ours(session, dealer_id, provider, day, profile.timezone, window, fmt.amount_is)
    report = match(ours, theirs, window, lambda o: start <= o.op.created_utc < end,
                   lambda row: _elsewhere(session, dealer_id, provider, row, fmt.amount_is))
    run = ReconcileRun(dealer_id=dealer_id, provider=provider, day=day, file_name=file_name[:200],
                       rows=report.theirs_rows, matched=report.matched, discrepancies=report.discrepancies,
                       report=json.dumps(report.as_json(), ensure_ascii=False), imported_by=actor[:200])
    session.add(run)
    session.flush()
    return run
