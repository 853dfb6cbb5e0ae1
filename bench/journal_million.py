"""A journal of 1,000,000 operations: lookup by operation number, start-up reconciliation, bytes per operation.

Targets: lookup median < 1 ms; reconciliation < 1 s.
Usage: ./dev bench journal_million [OPERATIONS] [DIR] [API_OPERATIONS]
The journal is filled in bulk (one transaction) with realistic rows: fields, 1-3 bills and one delivery
attempt per operation, a few hundred waiting in the outbox and a few caught collecting by a "power cut".
Bytes per operation are measured on what the journal API itself writes: API_OPERATIONS (default 1000) more
payments go through it exactly as the session and the outbox call it (open, per bill STACK-commanded and
record, commit, attempt begun and finished, settled, receipt), one durable transaction each, on top of the
million; the growth of the file after a checkpoint, divided by their number, is the figure.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from kiosk.catalog import Catalog, load_catalog
from kiosk.clock import SystemClock
from kiosk.config import DEMO_DIR
from kiosk.gateways.base import Route
from kiosk.offline_queue.journal import DELIVERED, Journal, idempotency_key
from kiosk.offline_queue.reconcile import commit_operation, reconcile

PROVIDERS = [("mts", "9123456789"), ("energo", "1234567890"), ("rostelecom", "123456789"), ("t2", "9501234567")]


def fill(journal: Journal, count: int, rng: random.Random) -> None:
    """Bulk-load count operations straight through SQL (the journal API would take an hour of fsyncs)."""
    conn = journal.conn
    stamp = "2026-11-21T12:00:00.000000+03:00"
    conn.execute("BEGIN")
    ops, bills, attempts = [], [], []
    bill_id = attempt_id = 0
    for number in range(1, count + 1):
        provider, account = PROVIDERS[number % len(PROVIDERS)]
        values = [rng.choice((1000, 5000, 10000, 50000, 100000)) for _ in range(rng.randint(1, 3))]
        cash = sum(values)
        state = "collecting" if number > count - 5 else ("committed" if number > count - 300 else "delivered")
        fee = None if state == "collecting" else cash // 100
        credited = None if fee is None else cash - fee
        ops.append((number, "10001", idempotency_key("10001", number), provider, account,
                    json.dumps({"account": account}), "RUB", state, cash, fee, credited, 1_500_000, 0, stamp,
                    None if state == "collecting" else stamp, stamp if state == "delivered" else None,
                    None if state == "collecting" else "pay", None if state != "committed" else 0,
                    1 if state == "delivered" else 0, "main" if state == "delivered" else None,
                    f"MAIN-{number}" if state == "delivered" else None, "printed"))
        for value in values:
            bill_id += 1
            bills.append((bill_id, number, value, "ccnet", f"SN1:{bill_id}", stamp))
        if state == "delivered":
            attempt_id += 1
            attempts.append((attempt_id, number, "main", '{"gateway": "main"}', "pay", stamp, stamp, "approved",
                             f"MAIN-{number}"))
        if len(ops) >= 50_000 or number == count:
            conn.executemany(
                "INSERT INTO operations (operation, terminal, idempotency_key, provider, account, fields, currency, "
                "state, cash, fee, credited, max_cash, offline, created_at, committed_at, finished_at, "
                "commit_reason, next_attempt_ms, attempts, gateway, external_id, receipt_status) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", ops)
            conn.executemany("INSERT INTO bills (id, operation, denomination, validator, event_id, stacked_at) "
                             "VALUES (?,?,?,?,?,?)", bills)
            conn.executemany("INSERT INTO attempts (id, operation, gateway, route, verb, started_at, finished_at, "
                             "outcome, external_id) VALUES (?,?,?,?,?,?,?,?,?)", attempts)
            ops, bills, attempts = [], [], []
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def pay_through_the_api(journal: Journal, catalog: Catalog, count: int, rng: random.Random) -> None:
    """count payments written the way production writes them, one durable transaction per call."""
    route = Route("main", "mts")
    for index in range(count):
        provider, account = PROVIDERS[index % len(PROVIDERS)]
        op = journal.open_operation(provider, account, {"account": account}, max_cash=1_500_000)
        for value in [rng.choice((1000, 5000, 10000, 50000, 100000)) for _ in range(rng.randint(1, 3))]:
            journal.stack_commanded(op.operation, value, "ccnet")
            journal.record_bill(op.operation, value, "ccnet", f"API:{op.operation}:{value}:{rng.random()}")
        commit_operation(journal, catalog, op.operation, "pay")
        attempt = journal.begin_attempt(op.operation, route, "pay")
        journal.finish_attempt(attempt, "approved", external_id=f"MAIN-{op.operation}")
        journal.settle(op.operation, state=DELIVERED, unpin=True, gateway="main", external_id=f"MAIN-{op.operation}",
                       last_outcome="approved", last_code="", last_message="")
        journal.set_receipt(op.operation, "printed")


def settled_size(journal: Journal) -> int:
    """Bytes the journal takes once the WAL is folded in, not counting free pages."""
    journal.checkpoint()
    conn = journal.conn
    pages = conn.execute("PRAGMA page_count").fetchone()[0] - conn.execute("PRAGMA freelist_count").fetchone()[0]
    return int(pages * conn.execute("PRAGMA page_size").fetchone()[0])


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    base = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    api_count = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    rng = random.Random(42)
    catalog = load_catalog(DEMO_DIR / "catalog.toml")
    clock = SystemClock(ZoneInfo("Europe/Moscow"))
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        path = Path(tmp) / "journal.sqlite"
        journal = Journal(path, "10001", "RUB", clock.now)
        started = time.perf_counter()
        fill(journal, count, rng)
        print(f"filled {count:,} operations in {time.perf_counter() - started:.1f} s")
        journal.close()

        started = time.perf_counter()
        journal = Journal(path, "10001", "RUB", clock.now)  # a cold start: open, migrate check, reconcile
        summary = reconcile(journal, catalog)
        reconcile_s = time.perf_counter() - started
        print(f"start-up (open + reconciliation): {reconcile_s * 1000:.1f} ms — {summary.text()}")

        samples = []
        for number in rng.sample(range(1, count + 1), 10_000):
            t0 = time.perf_counter()
            op = journal.get(number)
            samples.append(time.perf_counter() - t0)
            assert op.operation == number
        lookup_ms = statistics.median(samples) * 1000
        p99 = sorted(samples)[int(len(samples) * 0.99)] * 1000
        bulk_size = settled_size(journal)
        started = time.perf_counter()
        pay_through_the_api(journal, catalog, api_count, rng)
        api_seconds = time.perf_counter() - started
        api_bytes = (settled_size(journal) - bulk_size) / api_count
        journal.close()
    print(f"lookup by operation number: median {lookup_ms:.3f} ms, p99 {p99:.3f} ms (target median < 1 ms)")
    print(f"through the journal API: {api_bytes:.0f} bytes per operation (1-3 bills, one attempt, receipt; "
          f"{api_count} operations on top of the {count:,}, {api_seconds / api_count * 1000:.1f} ms each durably)")
    print(f"for scale: the bulk-filled {count:,} take {bulk_size / 2**20:.1f} MiB, {bulk_size / count:.0f} bytes "
          "per operation (rows inserted directly, without the journal's per-call transactions)")
    ok = lookup_ms < 1 and reconcile_s < 1
    print(f"reconciliation {reconcile_s:.3f} s (target < 1 s); {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
