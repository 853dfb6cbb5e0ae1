"""`kiosk journal …`: what support and service engineers read out of a terminal's journal.

Reading commands (show, lookup, find, export) open the journal read-only and never write; commands that
change it (requeue, pay-on, encash, accept-new) open it as the terminal does. Every command says on standard
error which journal it read, of which terminal.
"""

from __future__ import annotations

import json
import re
import sqlite3
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from kiosk.catalog import Provider, load_catalog
from kiosk.clock import SystemClock
from kiosk.config import Config
from kiosk.errors import JournalError, KioskError
from kiosk.journal_text import HEADER, row
from kiosk.money import Money
from kiosk.offline_queue.journal import NEEDS_ATTENTION, Journal, Operation
from kiosk.offline_queue.journal_queries import JournalQueries
from kiosk.offline_queue.reader import JournalReader, salvage
from kiosk.story import from_journal


def open_journal(config: Config) -> Journal:
    """The journal the configuration names, opened for writing (as the terminal opens it)."""
    return Journal(config.journal_path, config.terminal, config.currency, SystemClock(config.timezone).now)


@dataclass
class Where:
    """Which journal a command works on, and what is known about its terminal."""

    path: Path
    config: Config | None

    def providers(self) -> Mapping[str, Provider]:
        """The catalog's providers when a configuration names one (for provider names), else none."""
        if self.config is None:
            return {}
        try:
            return load_catalog(self.config.catalog_path, self.config.currency).providers
        except KioskError:
            return {}


def export_record(op: Operation, bills: list[int]) -> dict[str, Any]:
    """One operation as a flat JSON object; money in integer kopecks."""
    key, txn, session = op.request_ids()
    return {
        "terminal": op.terminal, "operation": op.operation, "state": op.state, "provider": op.provider,
        "account": op.account, "currency": op.currency, "cash": op.cash, "fee": op.fee, "credited": op.credited,
        "bills": bills, "created_at": op.created_at, "committed_at": op.committed_at,
        "finished_at": op.finished_at, "offline": op.offline, "gateway": op.gateway, "external_id": op.external_id,
        "attempts": op.attempts, "last_outcome": op.last_outcome, "attention_reason": op.attention_reason,
        "booked": op.booked(), "receipt": op.receipt_status, "idempotency_key": key, "txn_id": txn,
        "session": session, "nonce": op.nonce,
    }


def iter_export(journal: JournalQueries, batch: int = 1000) -> Iterator[dict[str, Any]]:
    """Every operation with its bills, in number order."""
    chunk: list[Operation] = []
    for op in journal.iter_operations(batch):
        chunk.append(op)
        if len(chunk) == batch:
            yield from _records(journal, chunk)
            chunk = []
    yield from _records(journal, chunk)


def _records(journal: JournalQueries, chunk: list[Operation]) -> Iterator[dict[str, Any]]:
    if not chunk:
        return
    bills = journal.bills_by_operation(chunk[0].operation, chunk[-1].operation)
    for op in chunk:
        yield export_record(op, bills.get(op.operation, []))


def export(journal: JournalQueries, out: TextIO) -> int:
    """Write JSON Lines; returns the number of operations."""
    count = 0
    for record in iter_export(journal):
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count


def export_salvaged(path: Path, out: TextIO, err: TextIO) -> int:
    """JSON Lines of whatever a damaged journal still holds; each unreadable part is named on err."""
    count = unreadable = 0
    for op, bills, problem in salvage(path):
        if problem:
            unreadable += 1
            err.write(f"kiosk journal export --salvage: {path}: {problem}\n")
        if op is not None:
            out.write(json.dumps(export_record(op, bills), ensure_ascii=False) + "\n")
            count += 1
    err.write(f"salvaged {count} operations from {path}; {unreadable} unreadable parts\n")
    return count


def show(journal: JournalReader, out: TextIO, limit: int = 20) -> None:
    """The newest operations (in journal order), the outbox, needs attention, uncertain bills and the clock."""
    out.write(f"journal {journal.path} — terminal {journal.terminal} ({journal.how})\n")
    refusal = journal.refusal()
    if refusal:
        out.write(f"OUT OF SERVICE — not taking money until a person confirms (kiosk journal accept-new): "
                  f"{refusal}\n")
    out.write(HEADER + "\n")
    newest = list(journal.db["operations"].rows_where(order_by="operation desc", limit=limit))
    for record in reversed(newest):
        out.write(row(Operation.from_row(record)) + "\n")
    count, total = journal.waiting()
    out.write(f"waiting in the outbox: {count} operations, {Money(total, journal.currency).decimal_text()}\n")
    attention = journal.in_state(NEEDS_ATTENTION, limit=100)
    out.write(f"needs attention (money taken, not delivered): {len(attention)}\n")
    for op in attention:
        out.write(row(op) + f"  — {op.booked()}; {op.attention_reason}\n")
    uncertain = [i for i in journal.incidents(1000) if i["kind"] in ("uncertain_bill", "owed_cash")]
    out.write(f"uncertain bills and owed cash: {len(uncertain)}\n")
    for incident in uncertain:
        value = Money(incident["amount"], journal.currency).decimal_text() if incident["amount"] else "unknown"
        out.write(f"  operation {incident['operation'] or '—'}: {value} — {incident['kind']}: {incident['detail']}\n")
    skew = journal.clock_skew()
    if skew is None:
        out.write("clock: no processing system has answered yet, skew unknown\n")
    else:
        out.write(f"clock: {skew['seconds']:+.0f} s against {skew['source']} (measured {skew['at'][:19]})\n")


def lookup(journal: JournalReader, number: int, out: TextIO, fmt: str = "text",
           providers: Mapping[str, Provider] | None = None, lang: str = "en") -> bool:
    """Everything about one operation, as support needs it; False if there is no such operation."""
    story = from_journal(journal, number)
    if story is None:
        out.write(f"no operation {number} on terminal {journal.terminal} in {journal.path}\n")
        return False
    if fmt == "text":
        story.lang = lang
        out.write("\n".join(story.lines(providers or {})) + "\n")
        return True
    json.dump(story.as_json(), out, ensure_ascii=False, indent=2)
    out.write("\n")
    return True


@dataclass
class Query:
    """What `journal find` looks for; any of them may be None."""

    account: str | None = None
    phone: str | None = None
    since: date | None = None
    until: date | None = None
    amount: int | None = None


def find(journal: JournalReader, query: Query, limit: int = 200) -> list[Operation]:
    """Operations by account or phone, date range (local dates) and amount (cash or credited), oldest first."""
    where: list[str] = []
    args: list[str | int] = []
    if query.account:
        where.append("account = ?")
        args.append(query.account)
    if query.phone:
        digits = re.sub(r"\D", "", query.phone)[-10:]
        if len(digits) < 10:
            raise ValueError(f"--phone: expected a 10-digit number (with or without +7 / 8), got {query.phone!r}")
        where.append("(account = ? OR account LIKE ?)")
        args += [digits, f"%{digits}"]
    if query.since:
        where.append("substr(created_at, 1, 10) >= ?")
        args.append(query.since.isoformat())
    if query.until:
        where.append("substr(created_at, 1, 10) <= ?")
        args.append(query.until.isoformat())
    if query.amount is not None:
        where.append("(cash = ? OR credited = ?)")
        args += [query.amount, query.amount]
    if not where:
        raise ValueError("journal find: give at least one of --account, --phone, --from, --to, --amount")
    rows = journal.db["operations"].rows_where(" AND ".join(where), args, order_by="operation", limit=limit)
    return [Operation.from_row(r) for r in rows]


def parse_counts(text: str, currency: str) -> dict[int, int]:
    """'100x3,500x2' (roubles × bills, as counted by the collector) → {10000: 3, 50000: 2}."""
    counts: dict[int, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        value, sep, count = part.partition("x")
        if not sep or not count.strip().isdigit():
            raise ValueError(f"--counted: expected ROUBLESxBILLS like 100x3, got {part!r}")
        counts[Money.parse(value.strip(), currency).minor] = int(count)
    return counts


def locate(config: Config | None, state_dir: str | None) -> Where:
    """The journal of a state folder (its journal.sqlite), else the configuration's."""
    if state_dir:
        return Where(Path(state_dir).expanduser() / "journal.sqlite", config)
    if config is None:
        raise ValueError("give --config or --state-dir")
    return Where(config.journal_path, config)


def _writable(where: Where, terminal: str) -> Journal:
    config = where.config
    currency = config.currency if config else "RUB"
    # Without a configuration the journal's own zone is unknown: UTC, said as such in every stamp.
    clock = SystemClock(config.timezone if config else ZoneInfo("UTC")).now
    return Journal(where.path, terminal, currency, clock)


def main(where: Where, command: str, args: Any, err: TextIO | None = None) -> int:
    """Dispatch one journal sub-command; returns the exit status."""
    err = err or sys.stderr
    if command == "export" and getattr(args, "salvage", False):
        err.write(f"salvaging journal {where.path}\n")
        with _output(args.output) as out:
            export_salvaged(where.path, out, err)
        return 0
    reader = JournalReader(where.path, where.config.currency if where.config else "RUB")
    err.write(f"journal {where.path} — terminal {reader.terminal} ({reader.how})\n")
    try:
        expected = getattr(args, "terminal", None)
        if expected and expected != reader.terminal:
            raise ValueError(f"this journal belongs to terminal {reader.terminal}, not {expected}: give the "
                             "--state-dir or --config of terminal " + expected)
        if command == "show":
            show(reader, sys.stdout, args.limit)
        elif command == "lookup":
            number = args.operation if args.operation is not None else args.number
            if number is None:
                raise ValueError("which operation? give its number (kiosk journal lookup 57) or --operation")
            return 0 if lookup(reader, number, sys.stdout, args.format, where.providers(), args.lang) else 1
        elif command == "find":
            query = Query(args.account, args.phone, _date(args.since, "--from"), _date(args.until, "--to"),
                          Money.parse(args.amount, reader.currency).minor if args.amount else None)
            found = find(reader, query)
            if args.format == "json":
                for op in found:
                    sys.stdout.write(json.dumps(export_record(op, reader.bills(op.operation)), ensure_ascii=False)
                                     + "\n")
            else:
                sys.stdout.write(HEADER + "\n" + "".join(row(op) + "\n" for op in found))
                err.write(f"{len(found)} operations found\n")
        elif command == "export":
            with _output(args.output) as out:
                count = export(reader, out)
            if args.output:
                err.write(f"exported {count} operations to {args.output}\n")
        else:
            return _change(where, reader.terminal, command, args)
        return 0
    except sqlite3.DatabaseError as exc:
        raise JournalError(f"{where.path}: the journal is damaged ({exc}); `kiosk journal export --salvage` "
                           "with the same --config/--state-dir saves whatever is still readable") from exc
    finally:
        reader.close()


def _change(where: Where, terminal: str, command: str, args: Any) -> int:
    """The sub-commands that write to the journal."""
    journal = _writable(where, terminal)
    try:
        if command == "encash":
            counted = parse_counts(args.counted, journal.currency) if args.counted else None
            record = journal.encash("service command", counted)
            json.dump(record, sys.stdout, ensure_ascii=False, indent=2)
            sys.stdout.write("\n")
            return 1 if record["difference"] else 0
        if command == "requeue":
            journal.requeue(args.operation)
            print(f"operation {args.operation} is back in the outbox; its delivery lifetime starts again")
        elif command == "pay-on":
            from kiosk.catalog import Catalog
            from kiosk.offline_queue.reconcile import pay_on

            if where.config is None:
                raise ValueError("pay-on needs --config (the provider catalog and its fees)")
            catalog: Catalog = load_catalog(where.config.catalog_path, where.config.currency)
            op = pay_on(journal, catalog, args.operation, args.provider, args.account)
            print(f"operation {op.operation}: {Money(op.cash, op.currency).decimal_text()} goes to {op.provider} "
                  f"account {op.account} (fee {Money(op.fee or 0, op.currency).decimal_text()}); it is in the outbox")
        elif command == "accept-new":
            reason = journal.accept_new(f"`kiosk journal accept-new` ({args.who})")
            print("nothing to accept: the terminal takes money" if reason is None
                  else f"accepted; the terminal may take money again after: {reason}")
        return 0
    finally:
        journal.close()


def _date(text: str | None, option: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{option}: expected a date like 2026-01-15, got {text!r}") from None


class _output:
    """Standard output, or a file written in full (atomically replaced only when complete)."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.handle: TextIO | None = None

    def __enter__(self) -> TextIO:
        if self.path is None:
            return sys.stdout
        self.handle = open(self.path + ".part", "w", encoding="utf-8")
        return self.handle

    def __exit__(self, kind: object, *rest: object) -> None:
        if self.handle is None or self.path is None:
            return
        self.handle.close()
        part = Path(self.path + ".part")
        if kind is None:
            part.replace(self.path)
        else:
            part.unlink(missing_ok=True)
