"""A payment's whole story — opened, each bill, the commit and its fee, every delivery attempt, the receipt,
incidents, money owed — built from journal rows. The terminal (`kiosk journal lookup`) and the dealer service
(`kiosk-dealer lookup`, the portal, the API) both build it here from the same rows, so a technician at the terminal
and support in the office read the same facts in the same words.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from kiosk.catalog import Provider
from kiosk.journal_text import STATE_WORDS, provider_name
from kiosk.money import Money
from kiosk.offline_queue.operation import Operation
from kiosk.utility_text import story_lines

# incidents that mean money whose fate support must settle with the payer
MONEY_INCIDENTS = ("uncertain_bill", "owed_cash", "late_bill", "paid_on")


@dataclass
class Event:
    """One line of the story: when (the terminal's local time), what kind, and the words for it."""

    at: str
    kind: str
    text: str


@dataclass
class Story:
    """Everything known about one operation; rows as the journal holds them (money in kopecks)."""

    record: dict[str, Any]  # the operations row (Operation's fields)
    bills: list[dict[str, Any]] = field(default_factory=list)  # denomination, stacked_at, validator
    attempts: list[dict[str, Any]] = field(default_factory=list)  # gateway, verb, started/finished, outcome …
    incidents: list[dict[str, Any]] = field(default_factory=list)  # at, kind, detail, amount
    timezone: str | None = None  # show times in this zone (the terminal's); None: as the journal wrote them
    source: str = ""  # where the facts come from (a journal file, the dealer service's upload)

    @property
    def operation(self) -> Operation:
        """The operation itself (ids, booked or not)."""
        return Operation.from_row({**self.record, "fields": _json_text(self.record.get("fields")),
                                   "details": _json_text(self.record.get("details"))})

    def when(self, stamp: str | None) -> str:
        """'2026-01-15 15:00:01 (UTC+03:00)' in the terminal's zone, or '—'."""
        if not stamp:
            return "—"
        try:
            moment = datetime.fromisoformat(stamp)
        except ValueError:
            return stamp
        if self.timezone and moment.tzinfo is not None:
            moment = moment.astimezone(ZoneInfo(self.timezone))
        offset = moment.strftime("%z")
        return moment.strftime("%Y-%m-%d %H:%M:%S") + (f" (UTC{offset[:3]}:{offset[3:]})" if offset else "")

    def roubles(self, minor: int | None) -> str:
        """'150.00 RUB', or '—' when not fixed yet."""
        currency = str(self.record.get("currency") or "RUB")
        return "—" if minor is None else f"{Money(int(minor), currency).decimal_text()} {currency}"

    def owed(self) -> list[dict[str, Any]]:
        """Incidents about money whose fate is not settled (uncertain bills, cash owed to the payer)."""
        return [i for i in self.incidents if i.get("kind") in MONEY_INCIDENTS]

    def fee_words(self) -> str:
        """The fee, the rule that made it (journaled at commit) and what share of the cash it is."""
        fee, cash = self.record.get("fee"), int(self.record.get("cash") or 0)
        if fee is None:
            return "not fixed yet"
        share = f" ({fee * 100 / cash:.2f} % of the cash)" if cash else ""
        rule = self.fee_rule()
        by_rule = f" by the rule {rule}" if rule else ""
        return f"{self.roubles(fee)}{share}{by_rule}, credited {self.roubles(self.record.get('credited'))}"

    def fee_rule(self, lang: str = "en") -> str:
        """The fee rule's words as journaled at commit ('' for operations committed before rules were kept)."""
        details = self.record.get("details")
        if isinstance(details, str):
            try:
                details = json.loads(details)
            except ValueError:
                return ""
        rule = details.get("fee_rule") if isinstance(details, dict) else None
        if not isinstance(rule, dict):
            return ""
        return str(rule.get(lang) or rule.get("en") or "")

    def events(self, providers: Mapping[str, Provider] | None = None) -> list[Event]:
        """The story in the order things happened."""
        r = self.record
        out = [Event(r["created_at"], "opened", f"opened: {provider_name(r['provider'], providers or {})}, "
                                                f"account {r.get('account') or '—'}")]
        for bill in self.bills:
            out.append(Event(bill["stacked_at"], "bill", f"bill {self.roubles(bill['denomination'])} stacked"
                             + (f" ({bill['validator']})" if bill.get("validator") else "")))
        if r.get("committed_at"):
            why = f" — {r['commit_reason']}" if r.get("commit_reason") else ""
            out.append(Event(r["committed_at"], "commit", f"committed: cash {self.roubles(r['cash'])}, fee "
                                                          f"{self.fee_words()}{why}"))
        for number, attempt in enumerate(self.attempts, 1):
            out.append(Event(attempt["started_at"], "attempt", attempt_words(number, attempt)))
        for incident in self.incidents:
            money = f" [{self.roubles(incident['amount'])}]" if incident.get("amount") else ""
            out.append(Event(incident["at"], "incident", f"incident {incident['kind']}{money}: {incident['detail']}"))
        if r.get("finished_at"):
            out.append(Event(r["finished_at"], "finished", f"finished: {r['state']} — "
                                                            f"{STATE_WORDS.get(r['state'], r['state'])}"))
        # ISO stamps with offsets: compare as moments, unreadable ones keep their place at the end
        return sorted(out, key=lambda e: _moment(e.at))

    def lines(self, providers: Mapping[str, Provider] | None = None) -> list[str]:
        """The story as support reads it to a payer on the phone."""
        r, op = self.record, self.operation
        key, txn, session = op.request_ids()
        bills = ", ".join(Money(b["denomination"], op.currency).decimal_text() for b in self.bills)
        lines = [f"Terminal {r['terminal']}, operation {r['operation']}        ({self.source})",
                 f"  state        {r['state']} — {STATE_WORDS.get(r['state'], r['state'])}",
                 f"  booked       {op.booked()}"]
        if r.get("attention_reason"):
            lines.append(f"  why          {r['attention_reason']}")
        lines += [
            f"  provider     {provider_name(r['provider'], providers or {})}",
            f"  account      {r.get('account') or '—'}",
            f"  cash         {self.roubles(r['cash'])}    fee {self.roubles(r.get('fee'))}    credited "
            f"{self.roubles(r.get('credited'))}",
            f"  bills        {bills or 'none'}",
            f"  created      {self.when(r['created_at'])}",
            f"  committed    {self.when(r.get('committed_at'))}"
            + (f"  ({r['commit_reason']})" if r.get("commit_reason") else ""),
            f"  finished     {self.when(r.get('finished_at'))}",
            f"  receipt      {r.get('receipt_status') or 'none'}",
            *story_lines(op.details, self.roubles),  # utility bills: debt, split, meter readings
            "  ids at the processing systems (these tell two payments with the same number apart):",
            f"    idempotency key {key}   OSMP txn_id {txn}   CyberPlat SESSION {session}",
        ]
        if r.get("gateway") or r.get("external_id"):
            lines.append(f"    delivered via {r.get('gateway') or '—'}; its id (prv_txn / TRANSID / payment id): "
                         f"{r.get('external_id') or '—'}")
        if r.get("pinned_gateway"):
            lines.append(f"    an attempt at {r['pinned_gateway']} is unresolved: the next step asks its status there")
        owed = self.owed()
        if owed:
            lines.append(f"  uncertain bills and owed cash: {len(owed)}")
        lines.append("  story:")
        lines += [f"    {self.when(e.at)}  {e.text}" for e in self.events(providers)]
        return lines

    def as_json(self) -> dict[str, Any]:
        """The story for programs: the journal's fields, ids, and every part (money in kopecks)."""
        op = self.operation
        key, txn, session = op.request_ids()
        return {**{k: v for k, v in self.record.items() if k not in ("next_attempt_ms", "change_seq")},
                "booked": op.booked(), "idempotency_key": key, "txn_id": txn, "session": session,
                "bills": [b["denomination"] for b in self.bills], "bill_times": [b["stacked_at"] for b in self.bills],
                "delivery_attempts": self.attempts, "incidents": self.incidents, "owed": self.owed(),
                "events": [{"at": e.at, "kind": e.kind, "text": e.text} for e in self.events()]}


def attempt_words(number: int, attempt: Mapping[str, Any]) -> str:
    """'2. pay at osmp → unknown (timeout: no reply in 30 s), 30.0 s' — one delivery attempt."""
    detail = " ".join(filter(None, (attempt.get("code"), attempt.get("message"))))
    external = f", id {attempt['external_id']}" if attempt.get("external_id") else ""
    took = ""
    if attempt.get("finished_at"):
        seconds = (_moment(attempt["finished_at"]) - _moment(attempt["started_at"])).total_seconds()
        took = f", {seconds:.1f} s"
    # after the centre forgot a SESSION, each attempt says which one it carried
    carried = f" [SESSION {attempt['session']}]" if attempt.get("session") else ""
    return (f"attempt {number}: {attempt['verb']} at {attempt['gateway']}{carried} → "
            f"{attempt.get('outcome') or 'no outcome (interrupted)'}{external}{took}"
            + (f" — {detail}" if detail else ""))


def _moment(stamp: str) -> datetime:
    try:
        moment = datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return datetime.max.replace(tzinfo=ZoneInfo("UTC"))
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo("UTC"))


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value or {}, ensure_ascii=False)


def from_journal(journal: Any, number: int) -> Story | None:
    """The story of one operation from a terminal's journal (a Journal or a JournalReader), or None."""
    with journal._lock:
        row = journal.conn.execute("SELECT * FROM operations WHERE operation=?", (number,)).fetchone()
        if row is None:
            return None
        bills = [dict(b) for b in journal.conn.execute(
            "SELECT denomination, stacked_at, validator FROM bills WHERE operation=? ORDER BY id", (number,))]
        incidents = [dict(i) for i in journal.conn.execute(
            "SELECT at, kind, operation, detail, amount FROM incidents WHERE operation=? ORDER BY id", (number,))]
    return Story(dict(row), bills, journal.attempts(number), incidents, source=f"journal {journal.path}")
