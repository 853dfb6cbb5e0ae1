"""A payment's whole story — opened, each bill, the commit and its fee, every delivery attempt, the receipt,
incidents, money owed — built from journal rows. The terminal (`kiosk journal lookup`) and the dealer service
(`kiosk-dealer lookup`, the portal, the API) both build it here from the same rows, so a technician at the terminal
and support in the office read the same facts in the same words.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from kiosk.catalog import Provider
from kiosk.fiscal.words import fiscal_events, fiscal_lines
from kiosk.journal_text import STATE_WORDS, provider_name
from kiosk.money import Money
from kiosk.offline_queue.operation import Operation
from kiosk.utility_text import story_lines

# incidents that mean money whose fate support must settle with the payer
MONEY_INCIDENTS = ("uncertain_bill", "owed_cash", "late_bill", "paid_on")

#: the story's sentences in each language support works in (the portal's, `--lang` on the command lines)
WORDS: dict[str, dict[str, str]] = {
    "en": {
        "opened": "opened: {provider}, account {account}", "bill": "bill {amount} stacked{validator}",
        "committed": "committed: cash {cash}, fee {fee}{why}", "not_fixed": "not fixed yet",
        "share": " ({percent} % of the cash)", "by_rule": " by the rule {rule}", "credited": ", credited {credited}",
        "attempt": "attempt {number}: {verb} at {gateway}{carried} → {outcome}{external}{took}{detail}",
        "no_outcome": "no outcome (interrupted)", "seconds": "{seconds} s",
        "incident": "incident {kind}{money}: {detail}", "finished": "finished: {state} — {words}",
        "terminal": "Terminal {terminal}, operation {operation}", "state": "state", "booked": "booked",
        "why": "why", "provider": "provider", "account": "account", "cash": "cash", "fee": "fee",
        "credited_label": "credited", "bills": "bills", "none": "none", "created": "created",
        "committed_label": "committed", "finished_label": "finished", "receipt": "receipt",
        "ids": "ids at the processing systems (these tell two payments with the same number apart):",
        "delivered_via": "delivered via {gateway}; its id (prv_txn / TRANSID / payment id): {external}",
        "pinned": "an attempt at {gateway} is unresolved: the next step asks its status there",
        "owed": "uncertain bills and owed cash: {count}", "story": "story:",
        "reversal": "reversal", "reversal_pending": "reversal pending at {gateway} since {since}",
    },
    "ru": {
        "opened": "открыта: {provider}, счёт {account}", "bill": "купюра {amount} принята{validator}",
        "committed": "зафиксирована: внесено {cash}, комиссия {fee}{why}", "not_fixed": "ещё не определена",
        "share": " ({percent} % от внесённого)", "by_rule": " по правилу {rule}", "credited": ", к зачислению {credited}",
        "attempt": "попытка {number}: {verb} в {gateway}{carried} → {outcome}{external}{took}{detail}",
        "no_outcome": "без ответа (прервана)", "seconds": "{seconds} с",
        "incident": "происшествие {kind}{money}: {detail}", "finished": "завершена: {state} — {words}",
        "terminal": "Терминал {terminal}, операция {operation}", "state": "состояние", "booked": "проведена",
        "why": "причина", "provider": "поставщик", "account": "счёт", "cash": "внесено", "fee": "комиссия",
        "credited_label": "к зачислению", "bills": "купюры", "none": "нет", "created": "открыта",
        "committed_label": "зафиксирована", "finished_label": "завершена", "receipt": "чек",
        "ids": "номера в процессинге (по ним различают два платежа с одним номером):",
        "delivered_via": "доставлена через {gateway}; её номер там (prv_txn / TRANSID / payment id): {external}",
        "pinned": "попытка в {gateway} не выяснена: следующим шагом там запрашивается статус",
        "owed": "неясные купюры и долг плательщику: {count}", "story": "история:",
        "reversal": "отмена", "reversal_pending": "ждёт ответа на отмену в {gateway} с {since}",
    },
}

#: what each state means to a person holding a receipt, in Russian (English: journal_text.STATE_WORDS)
STATE_WORDS_RU = {
    "collecting": "приём денег (плательщик у терминала, или приём прервался)",
    "committed": "ждёт отправки в очереди",
    "delivered": "доставлена поставщику",
    "needs_attention": "ТРЕБУЕТ ВНИМАНИЯ: деньги приняты, не доставлены",
    "cancelled": "отменена без денег",
    "refunded": "деньги возвращены плательщику (исправление)",
}


#: attempt outcomes that answer a cancel (reversed, or definitely refused); anything else leaves it open
CANCEL_ANSWERED = ("approved", "declined")


@dataclass(frozen=True)
class Reversal:
    """A cancellation sent to the provider (before an account change or a refund) that nobody has answered yet."""

    gateway: str
    since: str  # when the first unanswered cancel of the run was sent (the terminal's stamp, with its offset)


def reversal_pending(state: str | None, external_id: str | None,
                     attempts: Sequence[Mapping[str, Any]]) -> Reversal | None:
    """The unanswered reversal of a booked payment: it needs attention, still holds the provider's id, and its
    last attempts are cancels without an answer (the terminal's Corrector treats it as booked until one comes)."""
    if state != "needs_attention" or not external_id or not attempts:
        return None
    since = None
    for attempt in reversed(attempts):
        if attempt.get("verb") != "cancel" or attempt.get("outcome") in CANCEL_ANSWERED:
            break
        since = attempt
    return Reversal(str(since.get("gateway") or ""), str(since.get("started_at") or "")) if since else None


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
    # the dealer service's correction steps (at: ISO time, text: who did what); the terminal's own part of a
    # correction is in its incidents and details
    corrections: list[dict[str, Any]] = field(default_factory=list)
    lang: str = "en"  # the language of the story's sentences (WORDS)

    def w(self, key: str, **values: Any) -> str:
        """One of the story's sentences in its language."""
        return WORDS.get(self.lang, WORDS["en"])[key].format(**values)

    def state_words(self, state: str) -> str:
        """What a state means, in the story's language."""
        words = STATE_WORDS_RU if self.lang == "ru" else STATE_WORDS
        return words.get(state, state)

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
        """'150.00 RUB' ('150,00 руб.' in Russian), or '—' when not fixed yet."""
        currency = str(self.record.get("currency") or "RUB")
        if minor is None:
            return "—"
        text = Money(int(minor), currency).decimal_text()
        if self.lang == "ru":
            return text.replace(".", ",") + (" руб." if currency == "RUB" else f" {currency}")
        return f"{text} {currency}"

    def reversal(self) -> Reversal | None:
        """The reversal this payment waits on, if its provider has not answered one."""
        return reversal_pending(self.record.get("state"), self.record.get("external_id"), self.attempts)

    def reversal_words(self) -> str:
        """'reversal pending at osmp since 2026-11-30 12:00:00 (UTC+05:00)', or '' when none is pending."""
        pending = self.reversal()
        return self.w("reversal_pending", gateway=pending.gateway, since=self.when(pending.since)) if pending else ""

    def owed(self) -> list[dict[str, Any]]:
        """Incidents about money whose fate is not settled (uncertain bills, cash owed to the payer)."""
        return [i for i in self.incidents if i.get("kind") in MONEY_INCIDENTS]

    def fee_words(self) -> str:
        """The fee, the rule that made it (journaled at commit) and what share of the cash it is."""
        fee, cash = self.record.get("fee"), int(self.record.get("cash") or 0)
        if fee is None:
            return self.w("not_fixed")
        percent = f"{fee * 100 / cash:.2f}"
        share = self.w("share", percent=percent.replace(".", ",") if self.lang == "ru" else percent) if cash else ""
        rule = self.fee_rule(self.lang)
        by_rule = self.w("by_rule", rule=rule) if rule else ""
        return f"{self.roubles(fee)}{share}{by_rule}" + self.w("credited", credited=self.roubles(self.record.get("credited")))

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
        out = [Event(r["created_at"], "opened", self.w("opened", provider=provider_name(r["provider"], providers or {}),
                                                       account=r.get("account") or "—"))]
        for bill in self.bills:
            validator = f" ({bill['validator']})" if bill.get("validator") else ""
            out.append(Event(bill["stacked_at"], "bill", self.w("bill", amount=self.roubles(bill["denomination"]),
                                                                validator=validator)))
        if r.get("committed_at"):
            why = f" — {r['commit_reason']}" if r.get("commit_reason") else ""
            out.append(Event(r["committed_at"], "commit", self.w("committed", cash=self.roubles(r["cash"]),
                                                                 fee=self.fee_words(), why=why)))
        for number, attempt in enumerate(self.attempts, 1):
            out.append(Event(attempt["started_at"], "attempt", attempt_words(number, attempt, self.lang)))
        for incident in self.incidents:
            money = f" [{self.roubles(incident['amount'])}]" if incident.get("amount") else ""
            out.append(Event(incident["at"], "incident", self.w("incident", kind=incident["kind"], money=money,
                                                                  detail=incident["detail"])))
        out += [Event(step["at"], "correction", step["text"]) for step in self.corrections]
        # a registrar's fiscal receipt and its refund receipt (kiosk/fiscal/words.py)
        out += [Event(at, "fiscal", words) for at, words in fiscal_events(r.get("details"), self.lang)]
        if r.get("finished_at"):
            out.append(Event(r["finished_at"], "finished", self.w("finished", state=r["state"],
                                                                  words=self.state_words(r["state"]))))
        # ISO stamps with offsets: compare as moments, unreadable ones keep their place at the end
        return sorted(out, key=lambda e: _moment(e.at))

    def lines(self, providers: Mapping[str, Provider] | None = None) -> list[str]:
        """The story as support reads it to a payer on the phone."""
        r, op, w = self.record, self.operation, self.w
        key, txn, session = op.request_ids()
        notes = [Money(b["denomination"], op.currency).decimal_text() for b in self.bills]
        bills = "; ".join(n.replace(".", ",") for n in notes) if self.lang == "ru" else ", ".join(notes)

        def row(label: str, value: str) -> str:
            return f"  {label:<12} {value}"

        lines = [f"{w('terminal', terminal=r['terminal'], operation=r['operation'])}        ({self.source})",
                 row(w("state"), f"{r['state']} — {self.state_words(r['state'])}"),
                 row(w("booked"), str(op.booked()))]
        if self.reversal():
            lines.append(row(w("reversal"), self.reversal_words()))
        if r.get("attention_reason"):
            lines.append(row(w("why"), r["attention_reason"]))
        lines += [
            row(w("provider"), provider_name(r["provider"], providers or {})),
            row(w("account"), r.get("account") or "—"),
            row(w("cash"), f"{self.roubles(r['cash'])}    {w('fee')} {self.roubles(r.get('fee'))}    "
                           f"{w('credited_label')} {self.roubles(r.get('credited'))}"),
            row(w("bills"), bills or w("none")),
            row(w("created"), self.when(r["created_at"])),
            row(w("committed_label"), self.when(r.get("committed_at"))
                + (f"  ({r['commit_reason']})" if r.get("commit_reason") else "")),
            row(w("finished_label"), self.when(r.get("finished_at"))),
            row(w("receipt"), r.get("receipt_status") or "none"),
            *fiscal_lines(r.get("details"), self.lang),  # a fiscal registrar's receipt (kiosk/fiscal/words.py)
            *story_lines(op.details, self.roubles, self.lang),  # utility bills: debt, split, meter readings
            f"  {w('ids')}",
            f"    idempotency key {key}   OSMP txn_id {txn}   CyberPlat SESSION {session}",
        ]
        if r.get("gateway") or r.get("external_id"):
            lines.append("    " + w("delivered_via", gateway=r.get("gateway") or "—", external=r.get("external_id") or "—"))
        if r.get("pinned_gateway"):
            lines.append("    " + w("pinned", gateway=r["pinned_gateway"]))
        owed = self.owed()
        if owed:
            lines.append("  " + w("owed", count=len(owed)))
        lines.append("  " + w("story"))
        lines += [f"    {self.when(e.at)}  {e.text}" for e in self.events(providers)]
        return lines

    def as_json(self) -> dict[str, Any]:
        """The story for programs: the journal's fields, ids, and every part (money in kopecks)."""
        op = self.operation
        key, txn, session = op.request_ids()
        pending = self.reversal()
        return {**{k: v for k, v in self.record.items() if k not in ("next_attempt_ms", "change_seq")},
                "booked": op.booked(), "idempotency_key": key, "txn_id": txn, "session": session,
                "bills": [b["denomination"] for b in self.bills], "bill_times": [b["stacked_at"] for b in self.bills],
                "delivery_attempts": self.attempts, "incidents": self.incidents, "owed": self.owed(),
                "reversal_pending": {"gateway": pending.gateway, "since": pending.since} if pending else None,
                "events": [{"at": e.at, "kind": e.kind, "text": e.text} for e in self.events()]}


def attempt_words(number: int, attempt: Mapping[str, Any], lang: str = "en") -> str:
    """'attempt 2: pay at osmp → unknown, 30.0 s — timeout no reply in 30 s': one delivery attempt."""
    words = WORDS.get(lang, WORDS["en"])
    detail = " ".join(filter(None, (attempt.get("code"), attempt.get("message"))))
    external = f", id {attempt['external_id']}" if attempt.get("external_id") else ""
    took = ""
    if attempt.get("finished_at"):
        seconds = f"{(_moment(attempt['finished_at']) - _moment(attempt['started_at'])).total_seconds():.1f}"
        took = ", " + words["seconds"].format(seconds=seconds.replace(".", ",") if lang == "ru" else seconds)
    # after the centre forgot a SESSION, each attempt says which one it carried
    carried = f" [SESSION {attempt['session']}]" if attempt.get("session") else ""
    return words["attempt"].format(number=number, verb=attempt["verb"], gateway=attempt["gateway"], carried=carried,
                                   outcome=attempt.get("outcome") or words["no_outcome"], external=external,
                                   took=took, detail=f" — {detail}" if detail else "")


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
