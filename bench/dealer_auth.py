"""Signed, mutually authenticated terminal requests per second against the dealer service on PostgreSQL.

Two `kiosk-dealer serve` processes share one port (SO_REUSEPORT) and one fresh PostgreSQL database. Client
processes play enrolled terminals: each request is a heartbeat over mTLS (keep-alive), signed with RFC 9421
(ECDSA P-256, Content-Digest, created, nonce), verified by the service against the certificate in the database,
its nonce stored, the terminal marked online and the heartbeat row written. The baseline, in the same run, is a
bare Starlette handler in two uvicorn processes doing the same database write (update the terminal, insert the
heartbeat) with no TLS and no authentication. Clients run on the same machine, so they share its cores.

    .venv/bin/python bench/dealer_auth.py [--seconds 10] [--rounds 2] [--clients 1] [--terminals 32]
                                          [--pg postgresql://…/test]
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
                        help="requests/s the bodies supplied can sustain for the whole run")
    parser.add_argument("--rounds", type=int, default=2, help="bare and signed measured in turn, this many times")
    parser.add_argument("--pg", default=PG_DEFAULT)
    parser.add_argument("--serve-baseline", nargs=2, metavar=("PORT", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline(int(args.serve_baseline[0]), args.serve_baseline[1])
        return 0
    load_before = machine_load()
    rounds: list[dict[str, dict[str, float]]] = []
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
            with dealer_servers(state, 2) as (link_port, service):
                servers = {"bare": ([p.pid for p in bare_procs], base_port), "signed": (service, link_port)}
                for n in range(args.rounds):
                    # both in every round, in turn first: load from other jobs comes and goes
                    order = ("bare", "signed") if n % 2 == 0 else ("signed", "bare")
                    rounds.append({mode: measure_with_cpu(_plans(mode, servers[mode][1], identities, args.clients,
                                                                 args.seconds, ca_file, per_terminal),
                                                          servers[mode][0], db_name) for mode in order})
        finally:
            for p in bare_procs:
                p.terminate()
            for p in bare_procs:
                p.wait(timeout=20)
    print(f"dealer_auth: 2 server processes, PostgreSQL, {args.terminals} terminals, {args.seconds:.0f} s per mode and "
          f"round, same machine ({os.cpu_count()} cores shared by clients, servers, PostgreSQL and any other load; "
          f"{load_before} before, {machine_load()} after)")
    print(f"  client: {args.clients} asyncio process(es), one persistent connection per terminal (TLS handshake before "
          f"the window), every request signed as it is sent (own nonce and created), closed loop")
    for n, result in enumerate(rounds, 1):
        signed, base = result["signed"], result["bare"]
        for label, r in (("signed mTLS heartbeat", signed), ("bare Starlette write", base)):
            print(f"  round {n} {label:22s} {r['rps']:6.0f} req/s  p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms"
                  f"  server CPU {r['cpu_ms']:4.2f} ms/request, PostgreSQL {r['pg_ms']:4.2f}, client "
                  f"{r['client_cpu_ms']:4.2f}  ({r['requests']:.0f} ok, {r['errors']:.0f} errors)")
        print(f"  round {n} ratio authenticated / bare: {signed['rps'] / base['rps']:.2f} (throughput), "
              f"{base['cpu_ms'] / signed['cpu_ms']:.2f} (server CPU per request); one free core carries "
              f"{1000 / signed['cpu_ms']:.0f} authenticated req/s at this CPU cost")
    met = [r["signed"]["rps"] >= 1000 and r["signed"]["p99_ms"] < 100 for r in rounds]
    print(f"  target ≥ 1000 req/s and p99 < 100 ms: met in {sum(met)} of {len(met)} rounds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
