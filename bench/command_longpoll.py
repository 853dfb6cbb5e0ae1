"""Remote commands: how fast a queued command reaches a terminal that is long-polling, and what the waiting costs.

Two `kiosk-dealer serve` processes share one port (SO_REUSEPORT) and a fresh PostgreSQL database. N enrolled
terminals (one asyncio client process, one mTLS connection and key each) hold signed long polls open
(`wait=25`, a keepalive space every 5 s). While they wait, the bench measures the servers' CPU and the database
connections in use; then it queues one command per terminal straight into the database, as a third server would
(so every wake-up travels by PostgreSQL NOTIFY), and measures queue commit → reply received at the terminal.

    .venv/bin/python bench/command_longpoll.py [--terminals 200] [--idle 10] [--pg postgresql://…/test]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dealer_auth import _free_port, _wait_port, cpu_seconds, setup  # noqa: E402

from kiosk.dealer_link.signing import sign  # noqa: E402


async def _poll(port: int, ca_file: str, identity: dict[str, str], received: dict[str, float],
                waiting: list[int]) -> None:
    """One terminal: a signed long poll on its own mTLS connection, read to its end; when the reply came."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    context = ssl.create_default_context(cafile=ca_file)
    context.load_cert_chain(identity["pem"])
    key = load_pem_private_key(Path(identity["pem"]).read_bytes(), None)
    path = f"/api/v1/terminals/bench/{identity['number']}/commands?wait=25&keepalive=5"
    headers = sign("GET", f"https://127.0.0.1:{port}{path}", b"", key, identity["key_id"])  # type: ignore[arg-type]
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close",
             *(f"{k}: {v}" for k, v in headers.items())]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    status = await reader.readline()
    waiting[0] += 1
    body = b""
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            break
        body += chunk
        if b'"commands"' in body and body.rstrip().endswith(b"}"):
            break
    received[identity["terminal_id"]] = time.monotonic()
    writer.close()
    if b" 200 " not in status or b'"kind"' not in body:
        received[identity["terminal_id"]] = -1.0


def _connections(pg: str, name: str) -> tuple[int, int]:
    """Connections to the database: all open ones, and those busy (running a statement or inside a transaction)."""
    import psycopg

    with psycopg.connect(pg, autocommit=True) as conn:
        rows = conn.execute("SELECT state, count(*) FROM pg_stat_activity WHERE datname = %s GROUP BY state",
                            (name,)).fetchall()
    return sum(n for _, n in rows), sum(n for state, n in rows if state in ("active", "idle in transaction"))


def main() -> int:
    """Set up, hold the polls, queue, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--terminals", type=int, default=200)
    parser.add_argument("--idle", type=float, default=10, help="seconds the polls wait before commands are queued")
    parser.add_argument("--pg", default=os.environ.get("KIOSK_DEALER_TEST_PG",
                                                       "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    import psycopg

    from provisioning.commands import service
    from provisioning.db import Database
    from provisioning.db.models import Terminal

    name = f"kiosk_dealer_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(args.pg, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db_url = args.pg.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
    procs: list[subprocess.Popen[bytes]] = []
    results: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            state = Path(tmp)
            identities = setup(state, db_url, args.terminals)
            port, link_port = _free_port(), _free_port()
            for _ in range(2):
                procs.append(subprocess.Popen([sys.executable, "-m", "provisioning.cli", "--state", str(state),
                                               "serve", "--port", str(port), "--link-port", str(link_port),
                                               "--reuse-port"], stdout=subprocess.DEVNULL))
            for p in (port, link_port):
                _wait_port(p)
            time.sleep(2)
            db = Database(db_url)
            received: dict[str, float] = {}
            queued: dict[str, float] = {}
            waiting = [0]

            async def run() -> None:
                polls = [asyncio.create_task(_poll(link_port, str(state / "ca" / "ca.pem"), identity, received,
                                                   waiting)) for identity in identities]
                while waiting[0] < len(identities):
                    await asyncio.sleep(0.1)
                before = cpu_seconds([p.pid for p in procs])
                await asyncio.sleep(args.idle)
                results["idle_cpu"] = (cpu_seconds([p.pid for p in procs]) - before) / args.idle
                results["connections"] = _connections(args.pg, name)

                def queue_all() -> None:
                    for identity in identities:
                        with db.session() as session:
                            terminal = session.get(Terminal, int(identity["terminal_id"]))
                            service.queue(session, terminal, "screenshot", {}, "bench", dt.datetime.now(dt.UTC))
                        queued[identity["terminal_id"]] = time.monotonic()

                await asyncio.to_thread(queue_all)
                await asyncio.wait_for(asyncio.gather(*polls), 60)

            asyncio.run(run())
            db.close()
            latencies = sorted(received[k] - queued[k] for k in queued if received.get(k, -1) > 0)
            results["failed"] = len(identities) - len(latencies)
            results["lat"] = latencies
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=20)
        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    lat = results["lat"]

    def pct(q: float) -> float:
        return lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else float("nan")

    load = os.getloadavg()[0]
    print(f"command_longpoll: 2 server processes, PostgreSQL, {args.terminals} terminals long-polling, same machine "
          f"({os.cpu_count()} cores, load average {load:.1f})")
    print(f"  while {args.terminals} polls wait: servers' CPU {results['idle_cpu'] * 100:.1f} % of one core, "
          f"database connections: {results['connections'][1]} busy, {results['connections'][0]} open "
          f"(idle in the servers' pools, and their two LISTENs)")
    print(f"  queue commit → reply at the terminal (NOTIFY across processes): p50 {pct(0.5):.1f} ms, "
          f"p99 {pct(0.99):.1f} ms, max {lat[-1] * 1000 if lat else float('nan'):.1f} ms; "
          f"{results['failed']} without their command")
    print("  " + json.dumps({"p50_ms": round(pct(0.5), 1), "p99_ms": round(pct(0.99), 1)}))
    return 0 if results["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
