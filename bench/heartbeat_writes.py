"""CPU per heartbeat written to PostgreSQL by provisioning.heartbeat_writer (the batched writer the heartbeat route
uses), at several batch sizes: this process's CPU (the writer's threads and the event loop that waits) and the
PostgreSQL backends' CPU, per heartbeat. Heartbeats of enrolled terminals, each with a fresh nonce, one in 50 with a
state change, as bench/fleet_heartbeats.py sends them; without TLS, HTTP or signatures, so the figures are the write
path's own.

    .venv/bin/python bench/heartbeat_writes.py [--terminals 200] [--heartbeats 6000] [--batches 1,8,32,64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from link_bench import (  # noqa: E402
    PG_DEFAULT,
    cpu_seconds,
    enroll_terminals,
    fresh_database,
    machine_load,
    postgres_pids,
    report_json,
)

from provisioning.heartbeat import POSTGRESQL_WRITE_PSYCOPG  # noqa: E402
from provisioning.heartbeat_writer import BatchWriter  # noqa: E402


def _targets(db_url: str, identities: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Each terminal's certificate row and key id (what a cached EnrolledKey gives the route)."""
    from sqlalchemy import select

    from provisioning.db import Database
    from provisioning.db.models import Certificate

    db = Database(db_url)
    with db.session() as session:
        rows = dict(session.execute(select(Certificate.fingerprint, Certificate.id)).all())
    db.close()
    return [{"certificate_id": rows[i["key_id"]], "terminal_id": int(i["terminal_id"]), "key_id": i["key_id"]}
            for i in identities]


def _params(target: dict[str, Any], k: int) -> dict[str, Any]:
    events = [] if k % 50 else [{"id": secrets.token_hex(8), "at": datetime.now(UTC).isoformat(),
                                 "kind": "validator_fault", "detail": "Jammed"}]
    return {**target, "nonce": secrets.token_urlsafe(18), "now": datetime.now(UTC), "version": "bench",
            "operation": 18_000 + k, "payload": report_json(uptime_s=k).decode(),
            "events": json.dumps([{"event_id": e["id"], "at": e["at"], "kind": e["kind"], "detail": e["detail"]}
                                  for e in events])}


async def _run(url: str, database: str, targets: list[dict[str, Any]], count: int, batch: int, rate: float,
               linger: float) -> dict[str, float]:
    """Write `count` heartbeats — in waves that fill `batch`-sized batches, or one at a time at `rate` per second as
    a server process receives them — after a warm-up that opens both connections: seconds, transactions, refusals,
    this process's and the backends' CPU seconds, p99 latency."""
    writer = BatchWriter(url, POSTGRESQL_WRITE_PSYCOPG, connections=2, max_batch=batch, linger=linger)
    wave = 2 * batch
    warm = [_params(targets[k % len(targets)], k) for k in range(4 * wave)]
    params = [_params(targets[k % len(targets)], k) for k in range(count)]
    try:
        for start in range(0, len(warm), wave):
            await asyncio.gather(*(writer.write(p) for p in warm[start:start + wave]))
        backends = postgres_pids(database)
        began, cpu, pg, batches, refused = time.perf_counter(), time.process_time(), cpu_seconds(backends), \
            writer.batches, 0
        latencies: list[float] = []
        if rate:
            rows = await asyncio.gather(*(_paced(writer, p, began + k / rate, latencies) for k, p in enumerate(params)))
            refused = sum(1 for row in rows if row is None or not row[4])
        else:
            for start in range(0, count, wave):
                rows = await asyncio.gather(*(writer.write(p) for p in params[start:start + wave]))
                refused += sum(1 for row in rows if row is None or not row[4])
        latencies.sort()
        return {"seconds": time.perf_counter() - began, "cpu": time.process_time() - cpu,
                "pg": cpu_seconds(backends) - pg, "batches": writer.batches - batches, "refused": refused,
                "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000 if latencies else 0.0}
    finally:
        await writer.close()


async def _paced(writer: BatchWriter, params: dict[str, Any], due: float, latencies: list[float]) -> Any:
    await asyncio.sleep(max(0.0, due - time.perf_counter()))
    began = time.perf_counter()
    row = await writer.write(params)
    latencies.append(time.perf_counter() - began)
    return row


def main() -> int:
    """Enroll terminals, write heartbeats at each batch size, print CPU per heartbeat."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--terminals", type=int, default=200)
    parser.add_argument("--heartbeats", type=int, default=6000, help="per batch size")
    parser.add_argument("--batches", default="1,8,32,64")
    parser.add_argument("--rate", type=float, default=0, help="heartbeats/s offered one at a time (0: in waves)")
    parser.add_argument("--linger", type=float, default=0.01, help="BatchWriter's wait to fill a thin batch (s)")
    parser.add_argument("--pg", default=PG_DEFAULT)
    args = parser.parse_args()
    offered = f"offered one at a time at {args.rate:.0f}/s" if args.rate else "offered in waves"
    print(f"heartbeat_writes: {args.heartbeats} heartbeats per batch size, {offered}, linger {args.linger * 1000:.0f} "
          f"ms, {args.terminals} terminals, PostgreSQL, 2 writer connections ({machine_load()})")
    with fresh_database(args.pg) as (db_url, db_name), tempfile.TemporaryDirectory() as tmp:
        targets = _targets(db_url, enroll_terminals(Path(tmp), db_url, args.terminals))
        for batch in (int(b) for b in args.batches.split(",")):
            r = asyncio.run(_run(db_url, db_name, targets, args.heartbeats, batch, args.rate, args.linger))
            n = args.heartbeats
            print(f"  batch ≤ {batch:3d}: {n / r['seconds']:6.0f} heartbeats/s  writer CPU {r['cpu'] * 1e6 / n:5.0f} "
                  f"µs/heartbeat, PostgreSQL CPU {r['pg'] * 1e6 / n:5.0f} µs/heartbeat  ({r['batches']:.0f} "
                  f"transactions, {r['refused']:.0f} refused, p99 {r['p99_ms']:.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
