"""A provider's busy day: build its registry as CSV and as XLSX, and reconcile a processing registry of the same
day, with `--payments` delivered payments (a tenth of them utility payments split across two services with two
meter readings). Prints CPU seconds (this process; the database's own work on PostgreSQL is not in them) and wall
seconds for each step, and payments per CPU second.

    .venv/bin/python bench/registry_day.py [--payments 50000] [--pg postgresql+psycopg://postgres@127.0.0.1/test]
The fill goes through the service's own schema (its migrations) in a temporary SQLite file or a fresh PostgreSQL
database (dropped afterwards)."""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert  # noqa: E402

from provisioning import tenants  # noqa: E402
from provisioning.db import Database, upgrade  # noqa: E402
from provisioning.journal.models import JournalOperation  # noqa: E402
from provisioning.registries import build as builder  # noqa: E402
from provisioning.registries.importer import ImportFormat  # noqa: E402
from provisioning.registries.reconcile import reconcile  # noqa: E402

DAY = date(2026, 3, 10)
ZONE = ZoneInfo("Europe/Moscow")
SPLIT = {"split": [{"service": "water_cold", "name": "Холодная вода", "amount": 0},
                   {"service": "water_hot", "name": "Горячая вода", "amount": 0}],
         "readings": [{"meter": "1", "name": "ХВС", "service": "water_cold", "unit": "m3", "previous": "1.00",
                       "value": "2.50"},
                      {"meter": "2", "name": "ГВС", "service": "water_hot", "unit": "m3", "previous": "3.00",
                       "value": "3.75"}]}


def fill(db: Database, payments: int) -> int:
    """A dealer with ten terminals and `payments` delivered payments to 'vodokanal' spread over DAY; its id."""
    with db.session() as session:
        dealer = tenants.create_dealer(session, "bench", "Bench")
        terminals = [tenants.add_terminal(session, dealer, str(10001 + i), "", "Europe/Moscow", "", "bench").id
                     for i in range(10)]
        dealer_id = dealer.id
    start = datetime.combine(DAY, datetime.min.time(), ZONE)
    rows: list[dict[str, Any]] = []
    for n in range(payments):
        cash = 10000 + (n % 500) * 100
        fee = cash // 50
        details = "{}"
        if n % 10 == 0:
            half = (cash - fee) // 2
            split = [{**SPLIT["split"][0], "amount": half}, {**SPLIT["split"][1], "amount": cash - fee - half}]
            details = json.dumps({"split": split, "readings": SPLIT["readings"]}, ensure_ascii=False)
        at = start + timedelta(seconds=n * 86000 / payments)
        terminal = terminals[n % 10]
        rows.append({"dealer_id": dealer_id, "terminal_id": terminal, "operation": n // 10 + 1,
                     "op_key": f"T{terminal}-{n:010d}", "state": "delivered", "provider": "vodokanal",
                     "account": f"{1000000000 + n}", "currency": "RUB", "cash": cash, "fee": fee,
                     "credited": cash - fee, "created_at": at.isoformat(), "created_utc": at.astimezone(UTC),
                     "gateway": "osmp", "external_id": f"prv{n}", "attempts": 1, "receipt_status": "printed",
                     "offline": False, "change_seq": n + 1, "details": details, "received_at": datetime.now(UTC)})
        if len(rows) == 5000:
            with db.engine.begin() as conn:
                conn.execute(insert(JournalOperation), rows)
            rows = []
    if rows:
        with db.engine.begin() as conn:
            conn.execute(insert(JournalOperation), rows)
    return dealer_id


def timed(what: str, payments: int, work: Callable[[], Any]) -> Any:
    """Run `work`, print its CPU and wall seconds."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = work()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"{what:<38} cpu {cpu:7.2f} s  wall {wall:7.2f} s  {payments / max(cpu, 1e-9):>9,.0f} payments/cpu-s")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payments", type=int, default=50_000)
    parser.add_argument("--pg", help="a PostgreSQL server URL (a database is created there and dropped)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url, drop = f"sqlite:///{Path(folder) / 'bench.sqlite'}", None
        if args.pg:
            import psycopg

            name = f"registry_bench_{uuid.uuid4().hex[:8]}"
            admin = args.pg.replace("postgresql+psycopg://", "postgresql://")
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            url, drop = f"{args.pg.rsplit('/', 1)[0]}/{name}".replace("postgresql://", "postgresql+psycopg://"), name
        db = Database(url)
        try:
            upgrade(db.engine)
            print(f"{args.payments:,} payments on {db.engine.dialect.name}; load average "
                  f"{' '.join(f'{x:.2f}' for x in __import__('os').getloadavg())}")
            dealer = timed("fill", args.payments, lambda: fill(db, args.payments))
            with db.session() as session:
                csv_file = timed("build CSV (UTF-8)", args.payments,
                                 lambda: builder.build(session, dealer, "vodokanal", DAY, "csv", "bench"))
                xlsx_file = timed("build XLSX", args.payments,
                                  lambda: builder.build(session, dealer, "vodokanal", DAY, "xlsx", "bench"))
                print(f"{'':<38} CSV {len(csv_file.content) / 1e6:.1f} MB, XLSX {len(xlsx_file.content) / 1e6:.1f} MB,"
                      f" {csv_file.payments:,} payments")
                theirs = csv_file.content.rsplit(b"\r\n", 2)[0] + b"\r\n"  # their last line is missing
                run = timed("reconcile their registry (all lines)", args.payments,
                            lambda: reconcile(session, dealer, "vodokanal", DAY, theirs, "theirs.csv", "bench",
                                              ImportFormat()))
                print(f"{'':<38} matched {run.matched:,}, discrepancies {run.discrepancies}")
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"peak resident memory {peak:.0f} MB")
        finally:
            db.close()
            if drop:
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{drop}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
