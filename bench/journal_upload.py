"""Journal upload into PostgreSQL: operations per second the service stores, and a repeated upload changes nothing.

A real terminal journal of `--operations` payments (each: opened, two bills, committed with a fee, one delivery
attempt, a receipt) is read into upload batches by the terminal's own code (`kiosk.dealer_link.upload`), gzip
included. Each of `--terminals` terminals sends that history under its own number and unrepeatable keys. The
figure is the service's side of each request after the signature check: inflate, check, upsert every row, keep
the versions, move the position, commit — `--workers` terminals at once, each on its own database connection,
like request threads. Then every terminal sends its whole journal again (its position lost): row counts and a
checksum of every table must be identical.

    .venv/bin/python bench/journal_upload.py [--terminals 1000] [--operations 1000] [--workers 4] [--pg URL]
Target (issue 14): ≥ 20,000 operations/s.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import signal
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402
from sqlalchemy import text  # noqa: E402

from kiosk.clock import ManualClock  # noqa: E402
from kiosk.dealer_link.upload import BATCH_ROWS, open_reader, read_batch  # noqa: E402
from kiosk.emulators.payments import pay  # noqa: E402
from kiosk.offline_queue.journal import Journal  # noqa: E402
from provisioning.db import Database, upgrade  # noqa: E402
from provisioning.journal.ingest import decompress, store_text  # noqa: E402

TABLES = ("journal_operations", "journal_operation_versions", "journal_bills", "journal_attempts",
          "journal_incidents", "journal_encashments")
TEMPLATE_TERMINAL = "99999"


def template_batches(operations: int, batch_rows: int = BATCH_ROWS) -> list[str]:
    """One terminal's whole journal as upload batches (JSON text, terminal number to be filled in)."""
    with tempfile.TemporaryDirectory() as folder:
        clock = ManualClock(ZoneInfo("Europe/Moscow"))
        journal = Journal(Path(folder) / "journal.sqlite", TEMPLATE_TERMINAL, "RUB", clock.now)
        journal.conn.execute("PRAGMA synchronous=OFF")  # the template only; the journal's own speed is not measured
        for index in range(operations):
            clock.advance(40)
            pay(journal, clock, delivered=index % 50 != 7)
        journal.close()
        conn = open_reader(Path(folder) / "journal.sqlite")
        batches, after = [], 0
        while True:
            batch = read_batch(conn, after, batch_rows)
            if batch.count == 0:
                break
            document = {"format": 1, "terminal": TEMPLATE_TERMINAL, "after": batch.after, "last": batch.last,
                        "rows": batch.rows}
            batches.append(json.dumps(document, ensure_ascii=False, separators=(",", ":")))
            after = batch.last
        conn.close()
    return batches


def for_terminal(template: str, number: str) -> bytes:
    """A template batch as terminal `number` sends it: its number in every key, gzip as on the wire."""
    # "T99999-…" keys and the terminal fields carry the number; the nonce part stays (unique per operation)
    body = template.replace(f"T{TEMPLATE_TERMINAL}-", f"T{number}-").replace(
        f'"terminal":"{TEMPLATE_TERMINAL}"', f'"terminal":"{number}"')
    return gzip.compress(body.encode(), 6)


def setup(url: str, terminals: int) -> tuple[Database, list[tuple[int, int, str]]]:
    """A migrated database with one dealer and the terminals; (dealer id, terminal id, number) each."""
    db = Database(url)
    upgrade(db.engine)
    with db.engine.begin() as conn:
        dealer = conn.execute(text("INSERT INTO dealers (slug, name, created_at) VALUES ('bench', 'Bench', now()) "
                                   "RETURNING id")).scalar_one()
        conn.execute(text("INSERT INTO terminals (dealer_id, number, address, timezone, status, version, online, "
                          "highest_operation, created_at) SELECT :d, (10000 + g)::text, '', 'Europe/Moscow', "
                          "'enrolled', '', false, 0, now() FROM generate_series(1, :n) g"), {"d": dealer, "n": terminals})
        rows = conn.execute(text("SELECT dealer_id, id, number FROM terminals ORDER BY id")).all()
    return db, [(int(d), int(i), str(n)) for d, i, n in rows]


def cpu_seconds(db: Database) -> tuple[float, float]:
    """CPU this process and the database's server processes for our database have used (from /proc): a figure
    other load on a shared machine does not bend, unlike the wall clock."""
    with db.engine.connect() as conn:
        pids = [int(p) for p in conn.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'"
        )).scalars()]
    ticks = os.sysconf("SC_CLK_TCK")
    totals = []
    for group in ([os.getpid()], pids):
        total = 0
        for pid in group:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # a server process on another machine (or gone): only the wall clock then
            total += int(fields[11]) + int(fields[12])
        totals.append(total / ticks)
    return totals[0], totals[1]  # (this process: the service's work, PostgreSQL's server processes)


def upload_all(db: Database, templates: list[str], terminals: list[tuple[int, int, str]], workers: int,
               repeat: bool) -> tuple[float, int, float]:
    """Every terminal sends every batch (workers in parallel); (wall seconds, rows stored, CPU seconds this process
    spent on the terminals' side: compressing their batches, not the service's work)."""
    queue = list(terminals)
    lock = threading.Lock()
    spent = [0.0] * workers
    rows = [0] * workers
    terminal_cpu = [0.0] * workers
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            while True:
                with lock:
                    if not queue:
                        return
                    dealer_id, terminal_id, number = queue.pop()
                if repeat:  # the terminal lost its position: the whole journal again, from 0
                    with db.engine.begin() as conn:
                        conn.execute(text("UPDATE journal_positions SET acknowledged = 0 WHERE terminal_id = :t"),
                                     {"t": terminal_id})
                for template in templates:
                    cpu = time.thread_time()
                    body = for_terminal(template, number)  # the terminal's work, not timed
                    terminal_cpu[index] += time.thread_time() - cpu
                    started = time.perf_counter()
                    with db.engine.begin() as conn:
                        stored = store_text(conn, dealer_id, terminal_id, number, decompress(body, "gzip"))
                    spent[index] += time.perf_counter() - started
                    rows[index] += stored.rows
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
    wall = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - wall
    if errors:
        raise errors[0]
    return wall, sum(rows), sum(terminal_cpu)


def snapshot(db: Database) -> dict[str, tuple[int, int]]:
    """Rows and a checksum of every journal table (what a repeat must not change)."""
    out = {}
    with db.engine.connect() as conn:
        for table in TABLES:
            count, checksum = conn.execute(text(
                f"SELECT COUNT(*), COALESCE(SUM(hashtext((to_jsonb(s) - 'id' - 'received_at' - 'updated_at')::text)"
                f"::bigint), 0) FROM {table} s")).one()
            out[table] = (int(count), int(checksum))
    return out


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--terminals", type=int, default=1000)
    parser.add_argument("--operations", type=int, default=1000, help="operations per terminal")
    parser.add_argument("--batch-rows", type=int, default=BATCH_ROWS, help="rows per upload request")
    parser.add_argument("--workers", type=int, default=4, help="terminals stored at once (connections)")
    parser.add_argument("--pg", default=os.environ.get("KIOSK_DEALER_TEST_PG", "postgresql://postgres@127.0.0.1/test"))
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))  # so the database is dropped on the way out
    name = f"kiosk_upload_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.pg, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = args.pg.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
    db: Database | None = None
    try:
        started = time.perf_counter()
        templates = template_batches(args.operations, args.batch_rows)
        print(f"terminal journal of {args.operations} operations read into {len(templates)} batches of ≤ "
              f"{args.batch_rows} rows ({time.perf_counter() - started:.1f} s)")
        db, terminals = setup(url, args.terminals)
        held = [db.engine.connect() for _ in range(args.workers)]  # the pool's connections opened first, so
        for conn in held:  # their server processes are there to be counted from the start
            conn.close()
        total_ops = args.terminals * args.operations
        print(f"load before: {os.getloadavg()[0]:.2f} (1-min), {os.cpu_count()} CPUs")
        for label, repeat in (("first upload: ", False), ("repeat upload:", True)):
            if repeat:
                before = snapshot(db)
            service, database = cpu_seconds(db)
            wall, rows, terminal_side = upload_all(db, templates, terminals, args.workers, repeat=repeat)
            service_after, database_after = cpu_seconds(db)
            service, database = service_after - service - terminal_side, database_after - database
            print(f"{label} {total_ops:,} operations ({rows:,} rows) from {args.terminals} terminals in "
                  f"{wall:.1f} s: {total_ops / wall:,.0f} operations/s wall ({args.workers} connections); CPU "
                  f"{service:.1f} s service + {database:.1f} s PostgreSQL ({service * 1e6 / total_ops:.0f} + "
                  f"{database * 1e6 / total_ops:.0f} µs per operation; the terminals' gzip, {terminal_side:.1f} s, "
                  f"not counted): {total_ops / (service + database):,.0f} operations per CPU-second, so "
                  f"{os.cpu_count() or 1} free cores carry {(os.cpu_count() or 1) * total_ops / (service + database):,.0f}"
                  f" operations/s")
        after = snapshot(db)
        for table in TABLES:
            mark = "identical" if before[table] == after[table] else f"CHANGED to {after[table][0]:,} rows"
            print(f"  {table:<28} {before[table][0]:>12,} rows   {mark}")
        print(f"load after: {os.getloadavg()[0]:.2f} (1-min)")
        if before != after:
            sys.exit("a repeated upload changed what the service holds")
    finally:
        if db is not None:
            db.close()
        with psycopg.connect(args.pg, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
