"""Durable bill recording: journal events per second with a full sync per event, as a ratio to a bare
sqlite3 insert-and-commit loop with the same durability settings, on the same disk, in the same run.

Target: ratio >= 0.7.   Usage: ./dev bench bill_recording [EVENTS] [DIR]
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from kiosk.clock import SystemClock
from kiosk.offline_queue.journal import Journal


def bare_loop(path: Path, events: int) -> float:
    """Events per second of the simplest durable loop SQLite allows: one INSERT, one COMMIT."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE bills (id INTEGER PRIMARY KEY, operation INTEGER, denomination INTEGER, "
                 "validator TEXT, event_id TEXT, stacked_at TEXT)")
    started = time.perf_counter()
    for i in range(events):
        conn.execute("BEGIN")
        conn.execute("INSERT INTO bills (operation, denomination, validator, event_id, stacked_at) "
                     "VALUES (1, 10000, 'v', ?, '2026-01-01T00:00:00+03:00')", (f"e{i}",))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return events / elapsed


def journal_loop(path: Path, events: int) -> float:
    """Events per second of Journal.record_bill: dedupe check, insert, cash update, one durable commit."""
    journal = Journal(path, "10001", "RUB", SystemClock(ZoneInfo("Europe/Moscow")).now)
    op = journal.open_operation("mts", "9123456789", {}, max_cash=10**12)
    started = time.perf_counter()
    for i in range(events):
        journal.record_bill(op.operation, 10000, "v", f"e{i}")
    elapsed = time.perf_counter() - started
    assert journal.get(op.operation).cash == events * 10000
    journal.close()
    return events / elapsed


def main() -> int:
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    base = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    rounds = []
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        for r in range(5):  # interleaved, so disk mood affects both alike
            bare = bare_loop(Path(tmp) / f"bare{r}.sqlite", events)
            ours = journal_loop(Path(tmp) / f"journal{r}.sqlite", events)
            rounds.append((bare, ours))
            print(f"round {r + 1}: bare {bare:,.0f} events/s, journal {ours:,.0f} events/s, ratio {ours / bare:.2f}")
    bare = sorted(b for b, _ in rounds)[2]
    ours = sorted(o for _, o in rounds)[2]
    ratio = sorted(o / b for b, o in rounds)[2]  # the median of per-round ratios
    print(f"median: bare sqlite3 {bare:,.0f} events/s; journal.record_bill {ours:,.0f} events/s "
          f"({1000 / ours:.2f} ms per durable bill)")
    print(f"ratio (median of rounds) {ratio:.2f} (target >= 0.70): {'PASS' if ratio >= 0.7 else 'FAIL'}")
    return 0 if ratio >= 0.7 else 1


if __name__ == "__main__":
    sys.exit(main())
