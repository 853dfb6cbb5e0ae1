"""Durable bill recording, like for like: what the journal does per bill against the same SQL in a bare loop.

Production makes two durable transactions per bill: STACK-commanded before the bill leaves escrow, then the
bill itself (deduplicated by the device's event id, the operation's cash updated, the pending STACK cleared).
Three loops run interleaved on the same disk with the same durability (WAL, synchronous=FULL, foreign keys):

- bare: sqlite3 executing exactly the journal's statements, two transactions per bill, on the journal's own
  schema (its constraints and indexes), with nothing around them;
- journal: Journal.stack_commanded + Journal.record_bill, the API the session calls;
- session: the bill path as production runs it: a validator's Escrow and Stacked events through the terminal's
  event queue and the payment session (reads, checks, both journal writes, the validator's commands), with a
  virtual validator that keeps its cassette in memory so that only the terminal's own work is timed.

Target: journal / bare >= 0.7.   Usage: ./dev bench bill_recording [BILLS] [DIR]
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from kiosk import events as ev
from kiosk.app import Terminal
from kiosk.clock import ManualClock, SystemClock
from kiosk.config import load_config
from kiosk.emulators.payer_process import write_config
from kiosk.offline_queue.journal import Journal
from kiosk.offline_queue.schema import migrate

STAMP = "2026-01-01T00:00:00.000000+03:00"
BILL = 10000  # 100 roubles: 150 of them fill one operation at the demo's 15,000-rouble maximum


def bare_loop(path: Path, bills: int) -> float:
    """Bills per second of sqlite3 running the journal's two transactions per bill and nothing else."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    migrate(conn, str(path))
    conn.execute("INSERT INTO operations (operation, terminal, idempotency_key, provider, account, currency, "
                 "state, max_cash, created_at) VALUES (1, '10001', 'k1', 'mts', '9123456789', 'RUB', "
                 "'collecting', ?, ?)", (10**12, STAMP))
    started = time.perf_counter()
    for i in range(bills):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO pending_stacks (operation, denomination, validator, commanded_at) "
                     "VALUES (1, ?, 'v', ?)", (BILL, STAMP))
        conn.execute("COMMIT")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("SELECT state FROM operations WHERE operation=1").fetchone()
        conn.execute("INSERT OR IGNORE INTO bills (operation, denomination, validator, event_id, stacked_at) "
                     "VALUES (1, ?, 'v', ?, ?)", (BILL, f"e{i}", STAMP))
        conn.execute("UPDATE operations SET cash = cash + ? WHERE operation=1", (BILL,))
        conn.execute("DELETE FROM pending_stacks WHERE id = (SELECT MIN(id) FROM pending_stacks "
                     "WHERE validator='v' AND denomination=?)", (BILL,))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return bills / elapsed


def journal_loop(path: Path, bills: int) -> float:
    """Bills per second of the journal API the session calls for each bill."""
    journal = Journal(path, "10001", "RUB", SystemClock(ZoneInfo("Europe/Moscow")).now)
    op = journal.open_operation("mts", "9123456789", {}, max_cash=10**12)
    started = time.perf_counter()
    for i in range(bills):
        journal.stack_commanded(op.operation, BILL, "v")
        journal.record_bill(op.operation, BILL, "v", f"e{i}")
    elapsed = time.perf_counter() - started
    assert journal.get(op.operation).cash == bills * BILL
    journal.close()
    return bills / elapsed


def session_loop(directory: Path, bills: int) -> float:
    """Bills per second through the terminal's event queue and session, as a payer inserts them."""
    config_path = write_config(directory, gateway_mode="ok")
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text("\n".join(line for line in text.split("\n") if not line.startswith("cassette =")),
                           encoding="utf-8")
    config = load_config(config_path)
    terminal = Terminal(config, clock=ManualClock(config.timezone), background_checks=False)
    terminal.start(background_outbox=False)
    spent, done = 0.0, 0
    try:
        while done < bills:
            for event in (ev.Touch(), ev.ChooseProvider("mts"), ev.EditAccount("9123456789"), ev.SubmitAccount(),
                          ev.Confirm()):
                terminal.post(event)
                terminal.pump()
            while done < bills and BILL in terminal.session.acceptable():
                started = time.perf_counter()
                terminal.validator.insert(BILL)  # Escrow → stack_commanded, STACK → Stacked → record_bill
                terminal.pump()
                spent += time.perf_counter() - started
                done += 1
            for event in (ev.Pay(), ev.ReceiptTaken()):
                terminal.post(event)
                terminal.pump()
            terminal.outbox.wait_idle()
        recorded = sum(len(terminal.journal.bills(op.operation))
                       for op in terminal.journal.iter_operations())
        assert recorded == bills, f"{recorded} bills journaled of {bills} inserted"
    finally:
        terminal.close()
    return bills / spent


def main() -> int:
    bills = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    base = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    rounds = []
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        for r in range(5):  # interleaved, so the disk's mood affects all alike
            bare = bare_loop(Path(tmp) / f"bare{r}.sqlite", bills)
            ours = journal_loop(Path(tmp) / f"journal{r}.sqlite", bills)
            path = session_loop(Path(tmp) / f"terminal{r}", bills)
            rounds.append((bare, ours, path))
            print(f"round {r + 1}: bare {bare:,.0f} bills/s, journal {ours:,.0f} bills/s (ratio {ours / bare:.2f}), "
                  f"session {path:,.0f} bills/s (ratio {path / bare:.2f})")
    bare, ours, path = (sorted(column)[2] for column in zip(*rounds, strict=True))
    ratio = sorted(o / b for b, o, _ in rounds)[2]  # the median of per-round ratios
    session_ratio = sorted(p / b for b, _, p in rounds)[2]
    print(f"median: bare sqlite3 {bare:,.0f} bills/s ({1000 / bare:.2f} ms per bill, 2 durable transactions); "
          f"journal API {ours:,.0f} bills/s ({1000 / ours:.2f} ms); the session's bill path {path:,.0f} bills/s "
          f"({1000 / path:.2f} ms per bill, Escrow to Stacked through the event queue)")
    print(f"session / bare (median of rounds) {session_ratio:.2f}: what the event queue, the session and its "
          "reads add to the two durable writes")
    print(f"journal / bare (median of rounds) {ratio:.2f} (target >= 0.70): {'PASS' if ratio >= 0.7 else 'FAIL'}")
    return 0 if ratio >= 0.7 else 1


if __name__ == "__main__":
    sys.exit(main())
