"""Signed, mutually authenticated terminal requests per second against the dealer service on PostgreSQL.

Two `kiosk-dealer serve` processes share one port (SO_REUSEPORT) and one fresh PostgreSQL database. Client
processes play enrolled terminals: each request is a heartbeat over mTLS (keep-alive), signed with RFC 9421
(ECDSA P-256, Content-Digest, created, nonce), verified by the service against the certificate in the database,
its nonce stored, the terminal marked online and the heartbeat row written. The baseline, in the same run, is a
bare Starlette handler in two uvicorn processes doing the same database write (update the terminal, insert the
heartbeat) with no TLS and no authentication. Clients run on the same machine, so they share its cores.

    .venv/bin/python bench/dealer_auth.py [--seconds 10] [--clients 1] [--terminals 32] [--pg postgresql://…/test]
Target (issue 13): ≥ 1,000 authenticated requests/s with 2 server processes, p99 < 100 ms.
"""

from __future__ import annotations

import argparse
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from link_bench import (  # noqa: E402
    PG_DEFAULT,
    Plan,
    dealer_servers,
    enroll_terminals,
    free_port,
    fresh_database,
    http_request,
    machine_load,
    measure_with_cpu,
    signed_heartbeats,
    split,
    wait_port,
)


def baseline_app(db_url: str):  # type: ignore[no-untyped-def]
    """The bare handler: the same write as a heartbeat done the same lean way (one statement in autocommit, in a
    worker thread), but no TLS, no signature, no nonce, no revocation check."""
    from sqlalchemy import text
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from provisioning.db import Database
    from provisioning.db.models import utcnow

    db = Database(db_url)
    write_sql = text("""
        WITH touched AS (UPDATE terminals SET last_seen_at = :now, online = true WHERE id = :terminal_id RETURNING 1)
        INSERT INTO heartbeats (terminal_id, received_at, payload) VALUES (:terminal_id, :now, :payload)""")

    async def heartbeat(request: Request) -> JSONResponse:
        body = await request.body()
        terminal_id = int(request.path_params["terminal_id"])

        def write() -> str:
            now = utcnow()
            with db.write_engine.begin() as connection:
                connection.execute(write_sql, {"now": now, "terminal_id": terminal_id,
                                               "payload": body.decode() or "{}"})
            return now.isoformat()

        return JSONResponse({"server_time": await run_in_threadpool(write)})

    return Starlette(routes=[Route("/heartbeat/{terminal_id}", heartbeat, methods=["POST"])])


def serve_baseline(port: int, db_url: str) -> None:
    """One baseline server process (SO_REUSEPORT, like the service)."""
    import uvicorn

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(2048)
    server = uvicorn.Server(uvicorn.Config(baseline_app(db_url), log_level="warning", access_log=False,
                                           lifespan="off"))
    server.run(sockets=[sock])


def _plans(mode: str, port: int, identities: list[dict[str, str]], clients: int, seconds: float, ca_file: str,
           per_terminal: int) -> list[Plan]:
    """Closed-loop client plans: every terminal on its own persistent connection, its requests one after another."""
    body = b'{"version": "bench", "outbox_depth": 0}'
    plans = []
    for chunk in split(identities, clients):
        if mode == "signed":
            requests = [signed_heartbeats(f"https://127.0.0.1:{port}", i, [body] * per_terminal) for i in chunk]
        else:
            requests = [[http_request(f"/heartbeat/{i['terminal_id']}", f"127.0.0.1:{port}", body, {})] * per_terminal
                        for i in chunk]
        plans.append(Plan(port, requests, chunk, ca_file if mode == "signed" else None, seconds))
    return plans


def main() -> int:
    """Set up, run the service and the baseline, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=1, help="client processes (asyncio, one connection a terminal)")
    parser.add_argument("--terminals", type=int, default=32, help="terminals, each on its own persistent connection")
    parser.add_argument("--max-rate", type=int, default=2500,
                        help="requests/s the pre-signed supply can sustain for the whole run")
    parser.add_argument("--pg", default=PG_DEFAULT)
    parser.add_argument("--serve-baseline", nargs=2, metavar=("PORT", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline(int(args.serve_baseline[0]), args.serve_baseline[1])
        return 0
    load_before = machine_load()
    with fresh_database(args.pg) as (db_url, db_name), tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        identities = enroll_terminals(state, db_url, args.terminals)
        per_terminal = math.ceil(args.max_rate * args.seconds / args.terminals)
        ca_file = str(state / "ca" / "ca.pem")
        base_port = free_port()
        bare_procs = [subprocess.Popen([sys.executable, __file__, "--serve-baseline", str(base_port), db_url])
                      for _ in range(2)]
        try:
            wait_port(base_port)
            time.sleep(2)
            bare = [p.pid for p in bare_procs]
            base = measure_with_cpu(_plans("bare", base_port, identities, args.clients, args.seconds, ca_file,
                                    per_terminal), bare, db_name)
        finally:
            for p in bare_procs:
                p.terminate()
            for p in bare_procs:
                p.wait(timeout=20)
        with dealer_servers(state, 2) as (link_port, service):
            signed = measure_with_cpu(_plans("signed", link_port, identities, args.clients, args.seconds, ca_file,
                                      per_terminal), service, db_name)
    print(f"dealer_auth: 2 server processes, PostgreSQL, {args.terminals} terminals, {args.seconds:.0f} s each, same "
          f"machine ({os.cpu_count()} cores shared by clients, servers, PostgreSQL and any other load; "
          f"{load_before} before, {machine_load()} after)")
    print(f"  client: {args.clients} asyncio process(es), one persistent connection per terminal (TLS handshake before "
          f"the window), every request pre-signed before the window (own nonce and created), closed loop")
    for label, r in (("signed mTLS heartbeat", signed), ("bare Starlette write", base)):
        print(f"  {label:22s} {r['rps']:8.0f} req/s  p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  "
              f"server CPU {r['cpu_ms']:5.2f} ms/request, PostgreSQL CPU {r['pg_ms']:4.2f} ms/request, client CPU "
              f"{r['client_cpu_ms']:4.2f} ms/request  ({r['requests']:.0f} ok, {r['errors']:.0f} errors)")
    print(f"  ratio authenticated / bare: {signed['rps'] / base['rps']:.2f} (throughput), "
          f"{base['cpu_ms'] / signed['cpu_ms']:.2f} (server CPU per request)")
    print(f"  capacity of one free core at that CPU cost: {1000 / signed['cpu_ms']:.0f} authenticated req/s, "
          f"{1000 / base['cpu_ms']:.0f} bare; 1000 authenticated req/s needs {signed['cpu_ms']:.2f} core-seconds "
          f"of server CPU per second (plus PostgreSQL's and the client's) against {os.cpu_count()} cores")
    met = signed["rps"] >= 1000 and signed["p99_ms"] < 100
    print(f"  target ≥ 1000 req/s and p99 < 100 ms: {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
