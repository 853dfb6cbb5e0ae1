"""A journal of 1,000,000 operations: lookup by operation number, start-up reconciliation, bytes per operation.

Targets: lookup median < 1 ms; reconciliation < 1 s.   Usage: ./dev bench journal_million [OPERATIONS] [DIR]
The journal is filled in bulk (one transaction) with realistic rows: fields, 1-3 bills and one delivery
attempt per operation, a few hundred waiting in the outbox and a few caught collecting by a "power cut".
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

from kiosk.catalog import load_catalog
from kiosk.clock import SystemClock
from kiosk.config import DEMO_DIR
from kiosk.offline_queue.journal import Journal, idempotency_key
from kiosk.offline_queue.reconcile import reconcile

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


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    base = Path(sys.argv[2]) if len(sys.argv) > 2 else None
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
        size = journal.size_bytes()
        journal.close()
    print(f"lookup by operation number: median {lookup_ms:.3f} ms, p99 {p99:.3f} ms (target median < 1 ms)")
    print(f"journal size {size / 2**20:.1f} MiB, {size / count:.0f} bytes per operation (with its bills and attempt)")
    ok = lookup_ms < 1 and reconcile_s < 1
    print(f"reconciliation {reconcile_s:.3f} s (target < 1 s); {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
