"""Support's lookup over uploaded journals: what a search box's text means (terminal/operation, the receipt's QR,
a processing system's id), the payment's story from the service's tables, searches, the needs-attention queue and
a terminal's encashments. Every query is scoped by dealer."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kiosk.offline_queue.operation import REISSUED_NONCE, idempotency_key, session_id, txn_id
from kiosk.receipt_format import parse_qr_payload
from kiosk.status_link import parse_link
from kiosk.story import Reversal, Story, reversal_pending
from provisioning.db.models import Terminal, utcnow
from provisioning.journal.models import (
    JournalAttempt,
    JournalBill,
    JournalEncashment,
    JournalIncident,
    JournalOperation,
    JournalOperationVersion,
)

LIMIT = 200
_PAIR = re.compile(r"\s*(\d{1,40})\s*[/\s]\s*(\d{1,18})\s*")
_KEY = re.compile(r"T(\d{1,40})-(\d{10})(?:-(\d{6}))?")
_SESSION = re.compile(r"T(\d{1,40})N([0-9A-Z]{1,20})")


@dataclass(frozen=True)
class Wanted:
    """What a search text names: a terminal and operation (maybe with the id that must match), or an id to find."""

    terminal: str = ""
    operation: int = 0
    check: str = ""  # 'key:<op_key>' / 'txn:<n>' / 'session:<s>': only the operation with this id matches
    external_id: str = ""  # a processing system's own id (prv_txn, TRANSID, payment id)


def understand(text: str) -> list[Wanted]:
    """Every reading of a search box's text, most specific first: '10001/57', '10001 57', the receipt QR's
    contents (the support payload or the payer's status link), an idempotency key, a CyberPlat SESSION, an OSMP txn_id, or any processing system's id."""
    text = text.strip()
    if not text:
        return []
    try:
        qr = parse_qr_payload(text)
        return [Wanted(qr.terminal, qr.operation)]
    except ValueError:
        pass
    link = parse_link(text) if "/" in text and not _PAIR.fullmatch(text) else None
    if link:  # the payer's status link from a receipt's QR (support is signed in: the signature is not needed)
        return [Wanted(link.terminal, link.operation, f"key:{idempotency_key(link.terminal, link.operation, link.nonce)}")]
    pair = _PAIR.fullmatch(text)
    if pair:
        return [Wanted(pair[1], int(pair[2]))]
    key = _KEY.fullmatch(text)
    if key:
        return [Wanted(key[1], int(key[2]), f"key:{text}")]
    readings = []
    session = _SESSION.fullmatch(text.upper())
    if session:
        # T<terminal>N<operation, base 36>R<nonce, base 36>: 'R' is a base-36 digit too, so every split is a
        # reading (the stored nonce decides); without R it is the older T<terminal>N<operation>
        tail = session[2]
        splits = [tail[:i] for i, c in enumerate(tail) if c == "R" and i > 0] + [tail]
        readings += [Wanted(session[1], int(op, 36), f"session:{text.upper()}") for op in splits]
        if tail.isdigit():  # the older SESSION had the operation in ten decimal digits
            readings.append(Wanted(session[1], int(tail), f"session:{text.upper()}"))
    if text.isdigit() and len(text) >= 15:
        # terminal · nonce · operation (8 digits): the nonce is 2–6 digits depending on the terminal's length
        for length in range(1, len(text) - 9):
            nonce_digits = max(2, min(6, 12 - length))
            if length + nonce_digits + 8 == len(text):
                readings.append(Wanted(str(int(text[:length])), int(text[-8:]), f"txn:{text}"))
        if len(text) >= 11:  # before nonces: terminal · operation (10 digits)
            readings.append(Wanted(str(int(text[:-10])), int(text[-10:]), f"txn:{text}"))
    return [*readings, Wanted(external_id=text)]


def _matches(row: JournalOperation, check: str) -> bool:
    """Whether the id in `check` is one the operation's requests ever carried: under its own nonce, or under a
    nonce a correction reissued (an account change after the first payment was reversed or proved unbooked)."""
    kind, _, value = check.partition(":")
    terminal = _terminal_number(row.op_key)
    for nonce in _nonces(row):
        if kind == "key" and idempotency_key(terminal, row.operation, nonce) == value:
            return True
        if kind == "session" and session_id(terminal, row.operation, nonce) == value:
            return True
        if kind == "txn" and str(txn_id(terminal, row.operation, nonce)) == value:
            return True
    return kind not in ("key", "session", "txn")


def _nonces(row: JournalOperation) -> list[int | None]:
    """The operation's own nonce, then every nonce a correction gave its requests (each reissue is journaled in
    details["corrections"]; details["reissued_nonce"] holds the latest)."""
    out: list[int | None] = [_nonce(row.op_key)]
    if REISSUED_NONCE not in (row.details or ""):  # most payments were never corrected: no JSON to parse
        return out
    try:
        details = json.loads(row.details)
    except ValueError:
        return out
    entries = details.get("corrections") if isinstance(details, dict) else None
    for entry in [details, *(entries if isinstance(entries, list) else [])]:
        reissued = entry.get(REISSUED_NONCE) if isinstance(entry, dict) else None
        if isinstance(reissued, int) and not isinstance(reissued, bool) and reissued not in out:
            out.append(reissued)
    return out


def _carried(session: Session, op: JournalOperation, check: str) -> bool:
    """Whether one of the operation's attempts carried this SESSION (one minted after the centre forgot the first)."""
    kind, _, value = check.partition(":")
    return kind == "session" and session.scalar(select(JournalAttempt.local_id).where(
        JournalAttempt.terminal_id == op.terminal_id, JournalAttempt.op_key == op.op_key,
        JournalAttempt.session == value).limit(1)) is not None


def _terminal_number(op_key: str) -> str:
    return op_key[1:].split("-", 1)[0]


def _nonce(op_key: str) -> int | None:
    parts = op_key.split("-")
    return int(parts[2]) if len(parts) == 3 else None


def find(session: Session, dealer_id: int, text: str) -> list[tuple[Terminal, JournalOperation]]:
    """The dealer's operations a search text names (usually one; a number reused after a restore gives more)."""
    for wanted in understand(text):
        if wanted.external_id:
            found = by_external_id(session, dealer_id, wanted.external_id)
        else:
            found = [(t, op) for t, op in by_number(session, dealer_id, wanted.terminal, wanted.operation)
                     if _matches(op, wanted.check) or _carried(session, op, wanted.check)]
        if found:
            return found
    return []


def by_number(session: Session, dealer_id: int, number: str, operation: int) -> list[tuple[Terminal, JournalOperation]]:
    """Operation `operation` of the dealer's terminal `number` (the unique index answers it)."""
    rows = session.execute(
        select(Terminal, JournalOperation).join(JournalOperation, JournalOperation.terminal_id == Terminal.id)
        .where(Terminal.dealer_id == dealer_id, Terminal.number == number, JournalOperation.operation == operation)
        .order_by(JournalOperation.created_utc)).all()
    return [(t, op) for t, op in rows]


def by_external_id(session: Session, dealer_id: int, external_id: str) -> list[tuple[Terminal, JournalOperation]]:
    """Operations a processing system knows by this id (its last answer, or any attempt's)."""
    keys = select(JournalAttempt.terminal_id, JournalAttempt.op_key).where(JournalAttempt.external_id == external_id)
    pairs = {(t, k) for t, k in session.execute(keys).all()}
    query = (select(Terminal, JournalOperation).join(JournalOperation, JournalOperation.terminal_id == Terminal.id)
             .where(Terminal.dealer_id == dealer_id, JournalOperation.dealer_id == dealer_id))
    direct = session.execute(query.where(JournalOperation.external_id == external_id)).all()
    found = {op.id: (t, op) for t, op in direct}
    for terminal_id, op_key in pairs:
        for t, op in session.execute(query.where(JournalOperation.terminal_id == terminal_id,
                                                 JournalOperation.op_key == op_key)).all():
            found[op.id] = (t, op)
    return list(found.values())


def story(session: Session, terminal: Terminal, op: JournalOperation, lang: str = "en") -> Story:
    """The payment's whole story from the service's tables, in the terminal's zone."""
    record = session.scalar(select(JournalOperationVersion.record).where(
        JournalOperationVersion.terminal_id == terminal.id, JournalOperationVersion.op_key == op.op_key)
        .order_by(JournalOperationVersion.change_seq.desc()).limit(1))
    row = json.loads(record) if record else {}
    bills = [{"denomination": b.denomination, "stacked_at": b.stacked_at, "validator": b.validator}
             for b in session.scalars(select(JournalBill).where(JournalBill.terminal_id == terminal.id,
                                                                JournalBill.op_key == op.op_key)
                                      .order_by(JournalBill.local_id))]
    attempts = [{"gateway": a.gateway, "verb": a.verb, "started_at": a.started_at, "finished_at": a.finished_at,
                 "outcome": a.outcome, "code": a.code, "message": a.message, "external_id": a.external_id,
                 "session": a.session}
                for a in session.scalars(select(JournalAttempt).where(JournalAttempt.terminal_id == terminal.id,
                                                                      JournalAttempt.op_key == op.op_key)
                                         .order_by(JournalAttempt.local_id))]
    incidents = [{"at": i.at, "kind": i.kind, "operation": i.operation, "detail": i.detail, "amount": i.amount}
                 for i in session.scalars(select(JournalIncident).where(JournalIncident.terminal_id == terminal.id,
                                                                        JournalIncident.op_key == op.op_key)
                                          .order_by(JournalIncident.local_id))]
    return Story(row, bills, attempts, incidents, timezone=terminal.timezone,
                 source=f"dealer service, uploaded {op.received_at:%Y-%m-%d %H:%M} UTC", lang=lang)


def versions(session: Session, terminal: Terminal, op: JournalOperation) -> list[dict[str, Any]]:
    """Every version of the operation the service received (state, money, outcome), oldest first."""
    out = []
    for record, received in session.execute(
            select(JournalOperationVersion.record, JournalOperationVersion.received_at)
            .where(JournalOperationVersion.terminal_id == terminal.id, JournalOperationVersion.op_key == op.op_key)
            .order_by(JournalOperationVersion.change_seq)).all():
        row = json.loads(record)
        out.append({"state": row["state"], "cash": row["cash"], "last_outcome": row.get("last_outcome"),
                    "receipt": row.get("receipt_status"), "received_at": received})
    return out


@dataclass
class Search:
    """A search: any of these may be empty; dates are the terminal's local dates (zone `timezone`)."""

    account: str = ""
    since: date | None = None
    until: date | None = None
    amount: int | None = None  # kopecks: the cash or the credited amount
    state: str = ""
    provider: str = ""
    gateway: str = ""
    terminal: str = ""
    timezone: str = "Europe/Moscow"


def search(session: Session, dealer_id: int, query: Search, limit: int = LIMIT) -> list[tuple[Terminal, JournalOperation]]:
    """The dealer's operations matching every given condition, newest first."""
    statement = (
        select(Terminal, JournalOperation).join(Terminal, Terminal.id == JournalOperation.terminal_id)
        .where(JournalOperation.dealer_id == dealer_id))
    account = query.account.strip()
    if account:
        digits = re.sub(r"\D", "", account)
        # a phone typed with +7 or 8 in front matches the ten digits the terminal keeps
        variants = {account, digits, digits[-10:]} if len(digits) >= 10 else {account}
        statement = statement.where(JournalOperation.account.in_(variants))
    zone = ZoneInfo(query.timezone)
    if query.since:
        statement = statement.where(JournalOperation.created_utc >= datetime.combine(query.since, time(), zone))
    if query.until:
        statement = statement.where(JournalOperation.created_utc < datetime.combine(
            query.until + timedelta(days=1), time(), zone))
    if query.amount is not None:
        statement = statement.where(or_(JournalOperation.cash == query.amount,
                                        JournalOperation.credited == query.amount))
    for column, value in ((JournalOperation.state, query.state), (JournalOperation.provider, query.provider),
                          (JournalOperation.gateway, query.gateway), (Terminal.number, query.terminal)):
        if value:
            statement = statement.where(column == value)
    rows = session.execute(statement.order_by(JournalOperation.created_utc.desc()).limit(limit)).all()
    return [(t, op) for t, op in rows]


def attention(session: Session, dealer_id: int, limit: int = LIMIT, lang: str = "en") -> list[dict[str, Any]]:
    """The fleet's operations that need a person, oldest first, with their age and reason (`lang`: the words of a
    pending reversal)."""
    now = utcnow()
    rows = session.execute(
        select(Terminal, JournalOperation).join(Terminal, Terminal.id == JournalOperation.terminal_id)
        .where(JournalOperation.dealer_id == dealer_id, JournalOperation.state == "needs_attention")
        .order_by(JournalOperation.created_utc).limit(limit)).all()
    cancels = _cancel_runs(session, [(t.id, op) for t, op in rows if op.external_id])
    out = []
    for terminal, op in rows:
        since = _utc(op.finished_at) or op.created_utc
        reason = op.attention_reason or op.last_outcome or "—"
        pending = reversal_pending(op.state, op.external_id, cancels.get((terminal.id, op.op_key), []))
        if pending:  # the state support must name first: the money's fate waits on the provider's answer
            story = Story({}, timezone=terminal.timezone, lang=lang)
            reason = f"{story.w('reversal_pending', gateway=pending.gateway, since=story.when(pending.since))} — {reason}"
        out.append({"terminal": terminal, "op": op, "age": now - since, "reason": reason,
                    "reversal": pending})
    return out


def reversal(session: Session, op: JournalOperation) -> Reversal | None:
    """The reversal one payment waits on (the provider has not answered a cancellation), or None."""
    if op.state != "needs_attention" or not op.external_id:
        return None
    attempts = _cancel_runs(session, [(op.terminal_id, op)]).get((op.terminal_id, op.op_key), [])
    return reversal_pending(op.state, op.external_id, attempts)


def _cancel_runs(session: Session, ops: list[tuple[int, JournalOperation]]) -> dict[tuple[int, str], list[Any]]:
    """Each operation's attempts (gateway, verb, start, outcome), oldest first, for those that may wait on a
    reversal: only operations still holding a provider's id can (one query for the whole page)."""
    out: dict[tuple[int, str], list[Any]] = {}
    if not ops:
        return out
    pairs = {(terminal_id, op.op_key) for terminal_id, op in ops}
    rows = session.execute(
        select(JournalAttempt.terminal_id, JournalAttempt.op_key, JournalAttempt.gateway, JournalAttempt.verb,
               JournalAttempt.started_at, JournalAttempt.outcome)
        .where(JournalAttempt.terminal_id.in_({t for t, _ in pairs}),
               JournalAttempt.op_key.in_({k for _, k in pairs}))
        .order_by(JournalAttempt.local_id)).all()
    for terminal_id, op_key, gateway, verb, started_at, outcome in rows:
        if (terminal_id, op_key) in pairs:
            out.setdefault((terminal_id, op_key), []).append(
                {"gateway": gateway, "verb": verb, "started_at": started_at, "outcome": outcome})
    return out


def encashments(session: Session, terminal: Terminal) -> list[dict[str, Any]]:
    """A terminal's encashments, newest first; differences by denomination (cassette minus journal)."""
    out = []
    for row in session.scalars(select(JournalEncashment).where(JournalEncashment.terminal_id == terminal.id)
                               .order_by(JournalEncashment.closed_at.desc()).limit(LIMIT)):
        counts = {int(k): v for k, v in json.loads(row.counts).items()}
        difference = {int(k): v for k, v in json.loads(row.difference).items()} if row.difference else {}
        out.append({"row": row, "counts": counts, "difference": difference})
    return out


def _utc(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return moment if moment.tzinfo else None

