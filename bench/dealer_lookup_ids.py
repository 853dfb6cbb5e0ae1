"""Finding a payment by each id a processing system knows it by, on a database `bench/dealer_lookup.py --keep` filled:
the terminal/operation pair, the original idempotency key / OSMP txn_id / CyberPlat SESSION, the same ids reissued
by an account change (a share of the sampled operations is marked corrected, as the terminal journals it in
details.corrections, and unmarked afterwards), and a gateway's own id. Reissued ids carry terminal + operation like
the originals, so the operations' unique key answers them: no index of its own.

Each kind is reported as wall p50/p99 per call over every round and as CPU time per call of this process
(time.process_time: what a busy shared machine's scheduling does not distort; the least of the rounds). `--baseline PATH` also times the original ids through another
copy of provisioning/journal/lookup.py (e.g. the main branch's), interleaved, for a same-run ratio.

    .venv/bin/python bench/dealer_lookup_ids.py --database kiosk_lookup_bench_XXXXXXXX [--baseline FILE]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from kiosk.offline_queue.operation import REISSUED_NONCE, idempotency_key, session_id, txn_id  # noqa: E402
from provisioning.db import Database  # noqa: E402
from provisioning.journal import lookup  # noqa: E402


def _module(path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location("baseline_lookup", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def measure(db: Database, find: Callable[..., Any], dealer: int, texts: list[tuple[str, int]]) -> tuple[list[float], float]:
    """Wall milliseconds of each call (as the portal reads: Database.read) and CPU milliseconds per call."""
    wall = []
    cpu_started = time.process_time()
    for query, operation in texts:
        started = time.perf_counter()
        found = db.read(lambda session: find(session, dealer, query))  # noqa: B023
        wall.append((time.perf_counter() - started) * 1000)
        assert [op.operation for _, op in found] == [operation], (query, found)
    return wall, (time.process_time() - cpu_started) * 1000 / len(texts)


def report(label: str, wall: list[float], cpu: float) -> None:
    """One line: p50/p99 wall and CPU per call."""
    ordered = sorted(wall)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(f"{label:<44} n={len(ordered):>5}  p50 {statistics.median(ordered):6.2f} ms  p99 {p99:6.2f} ms  "
          f"CPU {cpu:6.3f} ms/call")


def main() -> None:
    """Sample, mark, measure, unmark, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True, help="a database bench/dealer_lookup.py --keep filled")
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="rounds per kind; CPU: the least of them")
    parser.add_argument("--baseline", help="another lookup.py to time the original ids through, for a ratio")
    parser.add_argument("--pg", default=os.environ.get("KIOSK_DEALER_TEST_PG", "postgresql://postgres@127.0.0.1/test"))
    args = parser.parse_args()
    url = args.pg.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{args.database}"
    db = Database(url)
    rng = random.Random(3)
    try:
        with db.engine.connect() as conn:
            dealer = conn.execute(text("SELECT id FROM dealers WHERE slug = 'bench'")).scalar_one()
            highest = conn.execute(text("SELECT max(id) FROM journal_operations")).scalar_one()
            rows = []
            while len(rows) < args.samples:  # random rows by primary key (TABLESAMPLE reads whole pages)
                rows += conn.execute(text(
                    "SELECT o.id, t.number, o.operation, o.op_key, o.external_id FROM journal_operations o "
                    "JOIN terminals t ON t.id = o.terminal_id WHERE o.id = ANY(:ids)"),
                    {"ids": [rng.randrange(1, highest + 1) for _ in range(args.samples)]}).all()
        rows = rows[:args.samples]
        corrected = rows[: max(1, len(rows) // 10)]
        reissued = {row[0]: rng.randrange(10**6) for row in corrected}
        with db.engine.begin() as conn:  # as the terminal journals an account change's new ids
            for row_id, nonce in reissued.items():
                details = {REISSUED_NONCE: nonce, "corrections": [{"kind": "account", REISSUED_NONCE: nonce}]}
                conn.execute(text("UPDATE journal_operations SET details = :d WHERE id = :i"),
                             {"d": json.dumps(details), "i": row_id})
        print(f"load before: {os.getloadavg()[0]:.2f} (1-min), {os.cpu_count()} CPUs; database {args.database}; "
              f"{len(rows)} operations sampled, {len(corrected)} marked corrected")

        def ids(nonce_of: Callable[[Any], int | None], sample: list[Any]) -> dict[str, list[tuple[str, int]]]:
            return {
                "key": [(idempotency_key(r[1], r[2], nonce_of(r)), r[2]) for r in sample],
                "txn_id": [(str(txn_id(r[1], r[2], nonce_of(r))), r[2]) for r in sample],
                "SESSION": [(session_id(r[1], r[2], nonce_of(r)), r[2]) for r in sample]}

        original = ids(lambda r: int(r[3][-6:]), rows)
        kinds = {"terminal/operation": [(f"{r[1]}/{r[2]}", r[2]) for r in rows],
                 **{f"original {k}": v for k, v in original.items()},
                 **{f"reissued {k}": v for k, v in ids(lambda r: reissued[r[0]], corrected).items()},
                 "gateway id (prv_txn)": [(r[4], r[2]) for r in rows]}
        measure(db, lookup.find, dealer, kinds["terminal/operation"][:50])  # warm the pool and the caches
        baseline = _module(args.baseline) if args.baseline else None
        for label, texts in kinds.items():
            finds = {label: lookup.find}
            if baseline is not None and not label.startswith("reissued"):
                finds[f"  the same, baseline {Path(args.baseline).parent.parent.parent.name}"] = baseline.find
            walls: dict[str, list[float]] = {name: [] for name in finds}
            cpus: dict[str, list[float]] = {name: [] for name in finds}
            for _ in range(args.rounds):  # interleaved rounds: a burst of load falls on both alike
                for name, find in finds.items():
                    wall, cpu = measure(db, find, dealer, texts)
                    walls[name] += wall
                    cpus[name].append(cpu)
            for name in finds:
                report(name, walls[name], min(cpus[name]))
        print(f"load after: {os.getloadavg()[0]:.2f} (1-min)")
    finally:
        with db.engine.begin() as conn:  # the kept database as the fill left it
            conn.execute(text("UPDATE journal_operations SET details = '{}' WHERE details LIKE :m"),
                         {"m": f"%{REISSUED_NONCE}%"})
        db.close()


if __name__ == "__main__":
    main()
