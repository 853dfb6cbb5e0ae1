"""Support's lookup at fleet scale on PostgreSQL: p50/p99 of finding a payment by terminal + operation, of its
whole story, and of a search by account over a month, with `--operations` uploaded operations; index sizes.

The fill goes through COPY into the service's own schema (its migrations; secondary indexes built after the load,
as a restore would; the tables unlogged, so the fill does not flood a shared server's write-ahead log): `--terminals` terminals of one dealer, operations spread over a year, accounts drawn from a
pool so an account has a handful of payments. Every operation of the first `--story-share` of the terminals also
gets its version, two bills and a delivery attempt, for the story. The timed calls are the service's own
(`provisioning.journal.lookup`), each in its own database session as a page or an API request makes them.

    .venv/bin/python bench/dealer_lookup.py [--operations 10000000] [--terminals 10000] [--pg URL]
Targets (issue 15): lookup by terminal + operation p99 < 10 ms; search by account over a month < 100 ms.
The default run (10 million operations) takes about 10 minutes on the 2-core build box: COPY 6 min, indexes 2 min.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402
from sqlalchemy import text  # noqa: E402

from provisioning.db import Database, upgrade  # noqa: E402
from provisioning.journal import lookup  # noqa: E402
from provisioning.journal.models import (  # noqa: E402
    JournalAttempt,
    JournalBill,
    JournalOperation,
    JournalOperationVersion,
)

ZONE = ZoneInfo("Europe/Moscow")
START = datetime(2026, 1, 1, tzinfo=ZONE)
ACCOUNTS = 1_000_000  # distinct accounts: ten payments each at ten million operations
CHUNK = 50_000
OP_COLUMNS = ("dealer_id", "terminal_id", "operation", "op_key", "state", "provider", "account", "currency", "cash",
              "fee", "credited", "created_at", "created_utc", "committed_at", "finished_at", "commit_reason",
              "gateway", "external_id", "attempts", "last_outcome", "attention_reason", "receipt_status", "offline",
              "change_seq", "received_at")


def account_of(n: int) -> str:
    """The n-th account of the pool (ten-digit phone numbers)."""
    return f"9{(n * 7919) % 10**9:09d}"


def fill(db: Database, terminals: list[tuple[int, str]], dealer_id: int, operations: int, story_share: float,
         seed: int) -> float:
    """COPY the operations (and the story rows of a share of the terminals); seconds taken."""
    rng = random.Random(seed)
    per_terminal = operations // len(terminals)
    story_terminals = max(1, int(len(terminals) * story_share))
    year = 365 * 86400
    received = datetime.now(UTC).isoformat()
    started = time.perf_counter()
    plain = db.url.replace("postgresql+psycopg://", "postgresql://", 1)
    # one connection per table: a connection runs one COPY at a time, and these four stream side by side
    conns = [psycopg.connect(plain) for _ in range(4)]
    try:
        cursors = [c.cursor() for c in conns]
        with cursors[0].copy(f"COPY journal_operations ({', '.join(OP_COLUMNS)}) FROM STDIN") as ops, \
                cursors[1].copy("COPY journal_operation_versions (terminal_id, op_key, change_seq, state, record, "
                                "received_at) FROM STDIN") as versions, \
                cursors[2].copy("COPY journal_bills (terminal_id, op_key, local_id, denomination, validator, "
                                "stacked_at, change_seq) FROM STDIN") as bills, \
                cursors[3].copy("COPY journal_attempts (terminal_id, op_key, local_id, gateway, verb, started_at, "
                                "finished_at, outcome, code, message, external_id, change_seq) FROM STDIN") as attempts:
            lines: list[str] = []
            for index, (terminal_id, number) in enumerate(terminals):
                story = index < story_terminals
                moments = sorted(rng.randrange(year) for _ in range(per_terminal))
                for op, offset in enumerate(moments, 1):
                    created = START + timedelta(seconds=offset)
                    stamp = created.isoformat(timespec="microseconds")
                    done = (created + timedelta(seconds=9)).isoformat(timespec="microseconds")
                    key = f"T{number}-{op:010d}-{rng.randrange(10**6):06d}"
                    account = account_of(rng.randrange(ACCOUNTS))
                    cash = rng.choice((10000, 15000, 50000, 100000, 250000))
                    fee = cash // 50
                    state = "needs_attention" if op % 997 == 0 else "delivered"
                    seq = op * 7
                    lines.append("\t".join((str(dealer_id), str(terminal_id), str(op), key, state, "mts", account,
                                            "RUB", str(cash), str(fee), str(cash - fee), stamp,
                                            created.astimezone(UTC).isoformat(), stamp, done, "payer pressed pay",
                                            "osmp", f"prv{terminal_id}x{op}", "1", "approved", "\\N", "printed",
                                            "f", str(seq), received)) + "\n")
                    if story:
                        record = json.dumps({"operation": op, "terminal": number, "idempotency_key": key,
                                             "state": state, "provider": "mts", "account": account,
                                             "currency": "RUB", "cash": cash, "fee": fee, "credited": cash - fee,
                                             "created_at": stamp, "committed_at": stamp, "finished_at": done,
                                             "receipt_status": "printed", "attempts": 1, "nonce": int(key[-6:]),
                                             "fields": "{}", "details": "{}"})
                        versions.write(f"{terminal_id}\t{key}\t{seq}\t{state}\t{record}\t{received}\n")
                        for local in (1, 2):
                            bills.write(f"{terminal_id}\t{key}\t{op * 2 + local}\t{cash // 2}\tccnet\t{stamp}\t"
                                        f"{seq - 3 + local}\n")
                        attempts.write(f"{terminal_id}\t{key}\t{op}\tosmp\tpay\t{stamp}\t{done}\tapproved\t0\tOK\t"
                                       f"prv{terminal_id}x{op}\t{seq - 1}\n")
                    if len(lines) >= CHUNK:
                        ops.write("".join(lines))
                        lines.clear()
            ops.write("".join(lines))
        for conn in conns:
            conn.commit()
    finally:
        for conn in conns:
            conn.close()
    return time.perf_counter() - started


def drop_secondary_indexes(db: Database) -> list[str]:
    """Drop the journal tables' secondary indexes and unique keys (rebuilt after the load); their definitions."""
    with db.engine.begin() as conn:
        rows = conn.execute(text(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid), c.conname FROM pg_index i "
            "JOIN pg_class t ON t.oid = i.indrelid LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid "
            "AND c.contype = 'u' WHERE t.relname LIKE 'journal_%' AND NOT i.indisprimary")).all()
        rebuild = []
        for name, definition, constraint in rows:
            table = definition.split(" ON ")[1].split(" ")[0]
            if constraint:
                columns = definition.split("(", 1)[1].rsplit(")", 1)[0]
                conn.execute(text(f"ALTER TABLE {table} DROP CONSTRAINT {constraint}"))
                rebuild.append(f"ALTER TABLE {table} ADD CONSTRAINT {constraint} UNIQUE ({columns})")
            else:
                conn.execute(text(f"DROP INDEX {name}"))
                rebuild.append(definition)
    return rebuild


def index_sizes(db: Database) -> list[tuple[str, int]]:
    """(index, bytes) of the journal tables' indexes, largest first."""
    with db.engine.connect() as conn:
        return [(str(n), int(s)) for n, s in conn.execute(text(
            "SELECT indexrelid::regclass::text, pg_relation_size(indexrelid) FROM pg_index i JOIN pg_class t "
            "ON t.oid = i.indrelid WHERE t.relname LIKE 'journal_%' ORDER BY 2 DESC")).all()]


def timed(db: Database, calls: list[object], work: object, read: bool = False) -> list[float]:
    """Milliseconds of each call of work(session, argument), each in its own session (`read`: as the portal's
    search box reads, `Database.read`: autocommit, one round trip per statement)."""
    out = []
    for argument in calls:
        started = time.perf_counter()
        if read:
            db.read(lambda session: work(session, argument))  # type: ignore[operator]  # noqa: B023
        else:
            with db.session() as session:
                work(session, argument)  # type: ignore[operator]
        out.append((time.perf_counter() - started) * 1000)
    return out


def server_side(db: Database, dealer_id: int, pairs: list[tuple[str, int]]) -> list[float]:
    """Milliseconds PostgreSQL itself spends on the lookup's statement (EXPLAIN ANALYZE): the index's cost without
    the round trips and the scheduling a busy client machine adds."""
    out = []
    with db.engine.connect() as conn:
        for number, operation in pairs:
            plan = conn.execute(text(
                "EXPLAIN (ANALYZE, FORMAT JSON) SELECT t.*, o.* FROM terminals t JOIN journal_operations o "
                "ON o.terminal_id = t.id WHERE t.dealer_id = :d AND t.number = :n AND o.operation = :o "
                "ORDER BY o.created_utc"), {"d": dealer_id, "n": number, "o": operation}).scalar_one()
            out.append(float(plan[0]["Execution Time"]))
    return out


def report(label: str, millis: list[float], target: float | None = None) -> None:
    """Print p50/p99/max of a list of milliseconds."""
    ordered = sorted(millis)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    verdict = "" if target is None else f"  (target < {target:g} ms: {'met' if p99 < target else 'MISSED'})"
    print(f"{label:<52} n={len(ordered):>5}  p50 {statistics.median(ordered):6.2f} ms  p99 {p99:6.2f} ms  "
          f"max {ordered[-1]:6.2f} ms{verdict}")


def _fill_database(db: Database, args: argparse.Namespace) -> tuple[int, list[tuple[int, str]]]:
    """Create the schema, one dealer's terminals and their operations; the dealer's id and the terminals."""
    upgrade(db.engine)
    with db.engine.begin() as conn:
        dealer = conn.execute(text("INSERT INTO dealers (slug, name, created_at) VALUES ('bench', 'Bench', now()) "
                                   "RETURNING id")).scalar_one()
        conn.execute(text("INSERT INTO terminals (dealer_id, number, address, timezone, status, version, online, "
                          "highest_operation, created_at) SELECT :d, (10000 + g)::text, '', 'Europe/Moscow', "
                          "'enrolled', '', false, 0, now() FROM generate_series(1, :n) g"),
                     {"d": dealer, "n": args.terminals})
        terminals = [(int(i), str(n)) for i, n in conn.execute(text("SELECT id, number FROM terminals "
                                                                     "ORDER BY id")).all()]
    print(f"load before: {os.getloadavg()[0]:.2f} (1-min), {os.cpu_count()} CPUs")
    with db.engine.begin() as conn:
        # unlogged: ten million rows would otherwise push gigabytes through the write-ahead log, and its
        # checkpoints stall every other database on a shared server; lookups read the same pages either way
        for table in ("journal_operations", "journal_operation_versions", "journal_bills", "journal_attempts"):
            conn.execute(text(f"ALTER TABLE {table} SET UNLOGGED"))
    rebuild = drop_secondary_indexes(db)
    copy_seconds = fill(db, terminals, dealer, args.operations, args.story_share, seed=1)
    started = time.perf_counter()
    with db.engine.begin() as conn:
        for statement in rebuild:
            conn.execute(text(statement))
    index_seconds = time.perf_counter() - started
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    total = args.operations // args.terminals * args.terminals
    print(f"filled {total:,} operations by COPY in {copy_seconds:.0f} s, indexes built in {index_seconds:.0f} s")

    return dealer, terminals


def main() -> None:
    """Fill, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--operations", type=int, default=10_000_000)
    parser.add_argument("--terminals", type=int, default=10_000)
    parser.add_argument("--story-share", type=float, default=0.1, help="share of terminals with story rows")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--keep", action="store_true", help="keep the database (its name is printed)")
    parser.add_argument("--database", help="measure again on a database an earlier --keep run filled (kept)")
    parser.add_argument("--pg", default=os.environ.get("KIOSK_DEALER_TEST_PG", "postgresql://postgres@127.0.0.1/test"))
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))  # so the database is dropped on the way out
    name = args.database or f"kiosk_lookup_bench_{uuid.uuid4().hex[:8]}"
    if not args.database:
        with psycopg.connect(args.pg, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    url = args.pg.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
    db = Database(url)
    try:
        if args.database:  # measured again on what an earlier --keep run filled (the same --operations, --terminals)
            with db.engine.connect() as conn:
                dealer = conn.execute(text("SELECT id FROM dealers WHERE slug = 'bench'")).scalar_one()
                terminals = [(int(i), str(n)) for i, n in conn.execute(text("SELECT id, number FROM terminals "
                                                                             "ORDER BY id")).all()]
            print(f"load before: {os.getloadavg()[0]:.2f} (1-min), {os.cpu_count()} CPUs; reusing database {name}")
        else:
            dealer, terminals = _fill_database(db, args)

        rng = random.Random(2)
        per = args.operations // args.terminals
        story_terminals = max(1, int(len(terminals) * args.story_share))
        pairs = [(rng.choice(terminals)[1], rng.randrange(1, per + 1)) for _ in range(args.samples)]
        story_pairs = [(rng.choice(terminals[:story_terminals])[1], rng.randrange(1, per + 1))
                       for _ in range(args.samples)]

        def find(session: object, pair: tuple[str, int]) -> None:
            assert lookup.find(session, dealer, f"{pair[0]}/{pair[1]}")  # type: ignore[arg-type]

        def whole_story(session: object, pair: tuple[str, int]) -> None:
            [(terminal, op)] = lookup.find(session, dealer, f"{pair[0]}/{pair[1]}")  # type: ignore[arg-type]
            assert lookup.story(session, terminal, op).bills  # type: ignore[arg-type]

        def by_account(session: object, account: str) -> None:
            month = date(2026, rng.randrange(1, 12), 1)
            lookup.search(session, dealer, lookup.Search(account=account, since=month,  # type: ignore[arg-type]
                                                         until=month + timedelta(days=30)))

        timed(db, pairs[:50], find, read=True)  # warm the pool and the caches a little, as a running service would be
        report("lookup by terminal + operation (find, as the portal reads)", timed(db, pairs, find, read=True), 10)
        report("  the same in a transaction of its own (ping, BEGIN, COMMIT)", timed(db, pairs, find))
        report("the whole story (find + version, bills, attempts, incidents)", timed(db, story_pairs, whole_story))
        report("  the same query's execution inside PostgreSQL", server_side(db, dealer, pairs))
        accounts = [account_of(rng.randrange(ACCOUNTS)) for _ in range(args.samples // 4)]
        report("search by account over a month", timed(db, accounts, by_account), 100)
        print("index sizes:")
        for index, size in index_sizes(db):
            print(f"  {index:<44} {size / 2**20:10.1f} MiB")
        for model in (JournalOperation, JournalOperationVersion, JournalBill, JournalAttempt):
            with db.engine.connect() as conn:
                size = conn.execute(text(f"SELECT pg_total_relation_size('{model.__tablename__}')")).scalar_one()
            print(f"  table {model.__tablename__:<38} {size / 2**20:10.1f} MiB with indexes")
        print(f"load after: {os.getloadavg()[0]:.2f} (1-min)")
    finally:
        db.close()
        if args.keep or args.database:
            print(f"kept database {name}")
        else:
            with psycopg.connect(args.pg, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
