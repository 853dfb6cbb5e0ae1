"""Support's hand on a fiscal intent the terminal cannot settle itself (the fiscal drive was replaced while a
document's answer was unknown): show it, and settle it as a person read it from the old drive.

- made: the old drive has the document — its FD, FP and time as the person read them (the old drive's archive,
  the printed receipt) are journaled, so the payment never gets a second receipt;
- not made: the old drive does not have it — the intent is closed as failed and the terminal prints the receipt
  on the new drive at its next upkeep (the receipt is owed again).

Each settlement is journaled as an incident naming who settled it and how (the audit trail support and the dealer
read). Used by `kiosk fiscal intents|resolve` and by the dealer's remote commands `fiscal_intents` and
`fiscal_resolve` (kiosk.dealer_link.fiscal_commands).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from kiosk.errors import KioskError
from kiosk.fiscal.ledger import INTENT, RECEIPT, REFUND, REPLACED, FiscalLedger, FiscalRow, qr_text
from kiosk.fiscal.port import DocumentKind, FiscalDocument
from kiosk.fiscal.tlv import KIND_INCOME, KIND_INCOME_RETURN
from kiosk.offline_queue.journal import Journal

MAX_UINT32 = 0xFFFFFFFF


class ResolveRefused(KioskError):
    """The settlement asked for would be unsafe or does not fit the intent; nothing was changed."""


def open_intents(journal: Journal) -> list[dict[str, Any]]:
    """Every fiscal intent still unknown, with what support needs to find it on the old drive."""
    with journal._lock:
        rows = journal.conn.execute("SELECT id, operation, kind, fn, last_fd, total, error, created_at FROM "
                                    "fiscal_documents WHERE state=? ORDER BY id", (INTENT,)).fetchall()
    return [{"intent": r[0], "operation": r[1], "kind": r[2], "fn": r[3], "after_fd": r[4], "total": r[5],
             "error": r[6] or "", "since": r[7], "replaced": REPLACED in (r[6] or "")} for r in rows]


def resolve_intent(journal: Journal, timezone: ZoneInfo, intent: int, made: bool, who: str, fd: int | None = None,
                   fp: int | None = None, at: datetime | None = None, force: bool = False) -> dict[str, Any]:
    """Settle one open intent as a person found it on the old drive; ResolveRefused (nothing changed) if unsafe."""
    who = who.strip()[:200]
    if not who:
        raise ResolveRefused("say who settles it (--who): the journal keeps it")
    ledger = FiscalLedger(journal)
    row = _intent(ledger, intent)
    if not force and REPLACED not in (row.error or ""):
        raise ResolveRefused(f"intent {intent} is not held by a replaced fiscal drive (its note: "
                             f"{row.error or 'none'}); the terminal settles it by asking its own drive. "
                             "--force only after reading the drive's archive yourself")
    if made:
        document = _document(row, fd, fp, at)
        if row.operation is not None and row.kind in (RECEIPT, REFUND) and \
                ledger.receipt_of(row.operation, row.kind) is not None:
            raise ResolveRefused(f"operation {row.operation} already has its {row.kind} receipt: not a second one")
        qr = qr_text(document, row.total or 0, timezone) if row.kind in (RECEIPT, REFUND) else ""
        ledger.done(row, document, qr)
        words = (f"intent {intent} ({row.kind}) settled by {who}: made on the old fiscal drive {row.fn} as FD "
                 f"{document.number}, FP {document.sign}, at {document.at.isoformat()}")
    else:
        ledger.failed(row, f"not made on the old fiscal drive {row.fn} (settled by {who}); owed on the new one",
                      incident=False)
        words = (f"intent {intent} ({row.kind}) settled by {who}: NOT made on the old fiscal drive {row.fn}"
                 + ("; the terminal prints it on the new drive" if row.operation is not None else ""))
    journal.incident("fiscal_intent_resolved", words, row.operation, row.total)
    return {"intent": intent, "operation": row.operation, "kind": row.kind, "state": ledger.get(row.id).state,
            "note": words}


def _intent(ledger: FiscalLedger, intent: int) -> FiscalRow:
    try:
        row = ledger.get(intent)
    except TypeError:  # no such row
        raise ResolveRefused(f"no fiscal intent {intent} in this journal") from None
    if row.state != INTENT:
        raise ResolveRefused(f"fiscal document {intent} is {row.state} already, not an open intent")
    return row


def _document(row: FiscalRow, fd: int | None, fp: int | None, at: datetime | None) -> FiscalDocument:
    """The old drive's document as entered; ResolveRefused when a field is missing or impossible."""
    if fd is None or fp is None or at is None:
        raise ResolveRefused("made on the old drive: give its FD number, fiscal sign (FP) and date-time")
    if not (row.last_fd or 0) < fd <= MAX_UINT32 or not 0 < fp <= MAX_UINT32:
        raise ResolveRefused(f"FD must be above {row.last_fd or 0} (the old drive's last one before this intent) "
                             f"and FP a 32-bit number; got FD {fd}, FP {fp}")
    if at.tzinfo is None:
        raise ResolveRefused("the date-time needs its zone (e.g. 2026-11-30T14:05+03:00)")
    kind: DocumentKind = "receipt" if row.kind in (RECEIPT, REFUND) else row.kind  # type: ignore[assignment]
    return FiscalDocument(number=fd, sign=fp, at=at, fn_number=row.fn or "", kind=kind, total=row.total,
                          calculation=KIND_INCOME_RETURN if row.kind == REFUND else KIND_INCOME)


# -- the service CLI: `kiosk fiscal intents` and `kiosk fiscal resolve` -----------------------------------------
def _parser(prog: str, text: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=text)
    parser.add_argument("--config", default=None, help="terminal configuration")
    parser.add_argument("--state-dir", default=None, help="the terminal's state folder (its journal.sqlite)")
    return parser


def _journal(args: argparse.Namespace) -> tuple[Journal, ZoneInfo]:
    from kiosk.config import load_config
    from kiosk.journal_cli import JournalReader, _writable, locate

    config = load_config(args.config) if args.config else None
    where = locate(config, args.state_dir)
    reader = JournalReader(where.path, config.currency if config else "RUB")
    try:
        terminal = reader.terminal
    finally:
        reader.close()
    return _writable(where, terminal), config.timezone if config else ZoneInfo("Europe/Moscow")


def intents_main(argv: Sequence[str]) -> int:
    """`kiosk fiscal intents`: the fiscal intents still open (JSON lines); exit 1 when any is held."""
    args = _parser("kiosk fiscal intents", "fiscal documents whose making is still unknown").parse_args(argv)
    journal, _ = _journal(args)
    try:
        found = open_intents(journal)
    finally:
        journal.close()
    for item in found:
        print(json.dumps(item, ensure_ascii=False))
    if not found:
        print("no open fiscal intents", file=sys.stderr)
    return 1 if found else 0


def resolve_main(argv: Sequence[str]) -> int:
    """`kiosk fiscal resolve`: settle an intent held by a replaced drive, as read from the old drive."""
    parser = _parser("kiosk fiscal resolve", "settle a fiscal intent held by a replaced fiscal drive")
    parser.add_argument("--intent", type=int, required=True, help="its number (kiosk fiscal intents)")
    how = parser.add_mutually_exclusive_group(required=True)
    how.add_argument("--made", action="store_true", help="the old drive has the document (give --fd --fp --at)")
    how.add_argument("--not-made", action="store_true", help="the old drive does not: print it on the new one")
    parser.add_argument("--fd", type=int, help="the document's number on the old drive")
    parser.add_argument("--fp", type=int, help="its fiscal sign")
    parser.add_argument("--at", help="its date-time with zone, e.g. 2026-11-30T14:05+03:00")
    parser.add_argument("--who", required=True, help="who settles it (kept in the journal)")
    parser.add_argument("--force", action="store_true", help="settle an intent not held by a replaced drive")
    args = parser.parse_args(argv)
    try:
        at = datetime.fromisoformat(args.at) if args.at else None
    except ValueError:
        parser.error(f"--at: not an ISO date-time: {args.at!r}")
    journal, timezone = _journal(args)
    try:
        result = resolve_intent(journal, timezone, args.intent, args.made, args.who, args.fd, args.fp, at,
                                args.force)
    except ResolveRefused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    finally:
        journal.close()
    print(json.dumps(result, ensure_ascii=False))
    return 0
