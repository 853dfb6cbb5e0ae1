"""`kiosk journal …`: what support and service engineers read out of a terminal's journal."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from kiosk.clock import SystemClock
from kiosk.config import Config
from kiosk.money import Money
from kiosk.offline_queue.journal import NEEDS_ATTENTION, Journal, Operation


def open_journal(config: Config) -> Journal:
    """The journal the configuration names."""
    return Journal(config.journal_path, config.terminal, config.currency, SystemClock(config.timezone).now)


def export_record(op: Operation, bills: list[int]) -> dict[str, Any]:
    """One operation as a flat JSON object; money in integer kopecks."""
    return {
        "terminal": op.terminal, "operation": op.operation, "state": op.state, "provider": op.provider,
        "account": op.account, "currency": op.currency, "cash": op.cash, "fee": op.fee, "credited": op.credited,
        "bills": bills, "created_at": op.created_at, "committed_at": op.committed_at,
        "finished_at": op.finished_at, "offline": op.offline, "gateway": op.gateway, "external_id": op.external_id,
        "attempts": op.attempts, "last_outcome": op.last_outcome, "attention_reason": op.attention_reason,
        "receipt": op.receipt_status, "idempotency_key": op.idempotency_key,
    }


def iter_export(journal: Journal, batch: int = 1000) -> Iterator[dict[str, Any]]:
    """Every operation with its bills, in number order."""
    chunk: list[Operation] = []
    for op in journal.iter_operations(batch):
        chunk.append(op)
        if len(chunk) == batch:
            yield from _records(journal, chunk)
            chunk = []
    yield from _records(journal, chunk)


def _records(journal: Journal, chunk: list[Operation]) -> Iterator[dict[str, Any]]:
    if not chunk:
        return
    bills = journal.bills_by_operation(chunk[0].operation, chunk[-1].operation)
    for op in chunk:
        yield export_record(op, bills.get(op.operation, []))


def export(journal: Journal, out: TextIO) -> int:
    """Write JSON Lines; returns the number of operations."""
    count = 0
    for record in iter_export(journal):
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count


def _row(op: Operation) -> str:
    def amount(minor: int | None) -> str:
        return "" if minor is None else Money(minor, op.currency).decimal_text()

    return (f"{op.operation:>8}  {op.created_at[:19]:<19}  {op.provider:<12} {op.account:<20} "
            f"{amount(op.cash):>10} {amount(op.fee):>8} {amount(op.credited):>10}  {op.state}")


def show(journal: Journal, out: TextIO, limit: int = 20) -> None:
    """The newest operations, the outbox and the needs-attention list."""
    last = journal.last_operation()
    out.write(f"journal {journal.path} — terminal {journal.terminal}\n")
    out.write(f"{'op':>8}  {'created':<19}  {'provider':<12} {'account':<20} {'cash':>10} {'fee':>8} "
              f"{'credited':>10}  state\n")
    if last is not None:
        first = max(1, last.operation - limit + 1)
        for number in range(first, last.operation + 1):
            op = journal.find(number)
            if op is not None:
                out.write(_row(op) + "\n")
    count, total = journal.waiting()
    out.write(f"waiting in the outbox: {count} operations, {Money(total, journal.currency).decimal_text()}\n")
    attention = journal.in_state(NEEDS_ATTENTION, limit=100)
    out.write(f"needs attention (money taken, not delivered): {len(attention)}\n")
    for op in attention:
        out.write(_row(op) + f"  — {op.attention_reason}\n")


def lookup(journal: Journal, number: int, out: TextIO) -> bool:
    """Everything about one operation, as support needs it; False if there is no such operation."""
    op = journal.find(number)
    if op is None:
        out.write(f"no operation {number} on terminal {journal.terminal}\n")
        return False
    record = export_record(op, journal.bills(number))
    record["fields"] = op.fields
    record["details"] = op.details
    record["delivery_attempts"] = journal.attempts(number)
    record["incidents"] = [i for i in journal.incidents(1000) if i["operation"] == number]
    json.dump(record, out, ensure_ascii=False, indent=2)
    out.write("\n")
    return True


def parse_counts(text: str, currency: str) -> dict[int, int]:
    """'100x3,500x2' (roubles × bills, as counted by the collector) → {10000: 3, 50000: 2}."""
    counts: dict[int, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        value, sep, count = part.partition("x")
        if not sep or not count.strip().isdigit():
            raise ValueError(f"--counted: expected ROUBLESxBILLS like 100x3, got {part!r}")
        counts[Money.parse(value.strip(), currency).minor] = int(count)
    return counts


def _operation(operation: int | None, command: str) -> int:
    """The operation number a sub-command needs (the command line makes --operation required for it)."""
    if operation is None:
        raise ValueError(f"journal {command} needs --operation N")
    return operation


def main(config: Config, command: str, operation: int | None = None, limit: int = 20,
         fmt: str = "jsonl", output: str | None = None, counted: str | None = None) -> int:
    """Dispatch one journal sub-command; returns the exit status."""
    journal = open_journal(config)
    try:
        if command == "show":
            show(journal, sys.stdout, limit)
        elif command == "lookup":
            return 0 if lookup(journal, _operation(operation, command), sys.stdout) else 1
        elif command == "export":
            if fmt != "jsonl":
                raise ValueError(f"unsupported export format {fmt!r}; expected jsonl")
            if output:
                with open(output, "w", encoding="utf-8") as handle:
                    count = export(journal, handle)
                print(f"exported {count} operations to {output}", file=sys.stderr)
            else:
                export(journal, sys.stdout)
        elif command == "encash":
            record = journal.encash("service command", parse_counts(counted, journal.currency) if counted else None)
            json.dump(record, sys.stdout, ensure_ascii=False, indent=2)
            sys.stdout.write("\n")
            return 1 if record["difference"] else 0
        elif command == "requeue":
            journal.requeue(_operation(operation, command))
            print(f"operation {operation} is back in the outbox")
        return 0
    finally:
        journal.close()
