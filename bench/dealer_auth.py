"""Signed, mutually authenticated terminal requests per second against the dealer service on PostgreSQL.

Two `kiosk-dealer serve` processes share one port (SO_REUSEPORT) and one fresh PostgreSQL database. Client
processes play enrolled terminals: each request is a heartbeat over mTLS (keep-alive), signed with RFC 9421
(ECDSA P-256, Content-Digest, created, nonce), verified by the service against the certificate in the database,
its nonce stored, the terminal marked online and the heartbeat row written. The baseline, in the same run, is a
bare Starlette handler in two uvicorn processes doing the same database write (update the terminal, insert the
heartbeat) with no TLS and no authentication. Clients run on the same machine, so they share its cores.

    .venv/bin/python bench/dealer_auth.py [--seconds 10] [--clients 4] [--threads 8] [--pg postgresql://…/test]
Target (issue 13): ≥ 1,000 authenticated requests/s with 2 server processes, p99 < 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

from kiosk.dealer_link.signing import sign  # noqa: E402


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU the processes have used (from /proc): a figure other load on the machine does not bend."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {port}")


def setup(state: Path, db_url: str, terminals: int) -> list[dict[str, str]]:
    """Init the service and enroll `terminals` terminals directly (key, CSR, certificate): their identities."""
    from provisioning import tenants
    from provisioning.cli import init
    from provisioning.db import Database
    from provisioning.identity import enrollment
    from provisioning.identity.ca import CAFiles, key_id

    with open(os.devnull, "w") as quiet:
        settings = init(state, db_url, dev=False, hosts=["127.0.0.1"], out=quiet)
    ca = CAFiles(settings.ca_dir).load()
    db = Database(db_url)
    identities = []
    with db.session() as session:
        dealer = tenants.create_dealer(session, "bench", "Bench")
        for n in range(terminals):
            terminal = tenants.add_terminal(session, dealer, f"{n + 1}", "", "Europe/Moscow", "", "bench")
            key = ec.generate_private_key(ec.SECP256R1())
            csr = (x509.CertificateSigningRequestBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t")]))
                   .sign(key, hashes.SHA256()))
            cert = ca.issue_terminal(csr.public_bytes(serialization.Encoding.PEM), "bench", terminal.number)
            enrollment.store_certificate(session, terminal, cert)
            terminal.status = "enrolled"
            pem = state / f"terminal-{n + 1}.pem"
            pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())
                            + cert.public_bytes(serialization.Encoding.PEM))
            identities.append({"number": terminal.number, "pem": str(pem), "key_id": key_id(cert),
                               "terminal_id": str(terminal.id)})
    db.close()
    return identities


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


def presign(mode: str, base: str, identity: dict[str, str], count: int) -> list[bytes]:
    """`count` complete HTTP/1.1 requests for one terminal, made before the timed window: each signed on its own
    (own nonce, `created` now: well inside the 300 s freshness window of a 10 s run)."""
    body = json.dumps({"version": "bench", "outbox_depth": 0}).encode()
    host = base.split("://", 1)[1]
    if mode == "signed":
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        key = load_pem_private_key(Path(identity["pem"]).read_bytes(), None)
        path = f"/api/v1/terminals/bench/{identity['number']}/heartbeat"
    else:
        path = f"/heartbeat/{identity['terminal_id']}"
    requests = []
    for _ in range(count):
        headers = sign("POST", f"{base}{path}", body, key, identity["key_id"]) if mode == "signed" else {}  # type: ignore[arg-type]
        lines = [f"POST {path} HTTP/1.1", f"Host: {host}", "Content-Type: application/json",
                 f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers.items())]
        requests.append(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    return requests


async def _terminal(host: str, port: int, context: Any, requests: list[bytes], start: asyncio.Event,
                    deadline: list[float], latencies: list[float]) -> int:
    """One terminal: one persistent connection (TLS with its own certificate when signed), requests one after
    another; the count of failed ones."""
    reader, writer = await asyncio.open_connection(host, port, ssl=context)
    failed = 0
    try:
        await start.wait()
        for raw in requests:
            if time.monotonic() >= deadline[0]:
                break
            began = time.perf_counter()
            writer.write(raw)
            status = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            if status.split(b" ", 2)[1:2] == [b"200"]:
                latencies.append(time.perf_counter() - began)
            else:
                failed += 1
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
    return failed


def client_process(args: tuple[str, str, list[dict[str, str]], float, str, int]) -> dict[str, Any]:
    """A light asyncio client: pre-signed requests, one persistent connection per terminal, no work in the timed
    window beyond writing bytes and reading the reply. Latencies, errors, the window and the client's own CPU."""
    mode, base, identities, seconds, ca_file, per_terminal = args
    prepared = [presign(mode, base, identity, per_terminal) for identity in identities]
    host, port = base.split("://", 1)[1].rsplit(":", 1)

    def context(identity: dict[str, str]) -> ssl.SSLContext | None:
        if mode != "signed":
            return None
        tls = ssl.create_default_context(cafile=ca_file)
        tls.load_cert_chain(identity["pem"])
        return tls

    async def run() -> dict[str, Any]:
        latencies: list[float] = []
        start, deadline = asyncio.Event(), [0.0]
        tasks = [asyncio.create_task(_terminal(host, int(port), context(i), r, start, deadline, latencies))
                 for i, r in zip(identities, prepared, strict=True)]
        await asyncio.sleep(1.0)  # every connection (and TLS handshake) made before the window opens
        cpu, began = time.process_time(), time.time()
        deadline[0] = time.monotonic() + seconds
        start.set()
        errors = sum(await asyncio.gather(*tasks))
        return {"latencies": latencies, "errors": errors, "began": began, "ended": time.time(),
                "client_cpu": time.process_time() - cpu}

    return asyncio.run(run())


def measure(mode: str, base: str, identities: list[dict[str, str]], clients: int, seconds: float,
            ca_file: str, per_terminal: int) -> dict[str, float]:
    """Run the client processes; requests/s, p50, p99 (ms), errors and the clients' CPU per request."""
    chunks = [identities[i::clients] for i in range(clients)]
    with multiprocessing.get_context("spawn").Pool(clients) as pool:
        results = pool.map(client_process, [(mode, base, c, seconds, ca_file, per_terminal) for c in chunks])
    latencies = sorted(x for r in results for x in r["latencies"])
    errors = sum(r["errors"] for r in results)
    wall = max(r["ended"] for r in results) - min(r["began"] for r in results)
    if not latencies:
        raise RuntimeError(f"{mode}: no request succeeded ({errors} errors)")
    return {"rps": len(latencies) / wall, "p50_ms": latencies[len(latencies) // 2] * 1000,
            "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
            "requests": len(latencies), "errors": errors,
            "client_cpu_ms": sum(r["client_cpu"] for r in results) * 1000 / len(latencies)}


def main() -> int:
    """Set up, run the service and the baseline, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=1, help="client processes (asyncio, one connection a terminal)")
    parser.add_argument("--terminals", type=int, default=32, help="terminals, each on its own persistent connection")
    parser.add_argument("--max-rate", type=int, default=2500,
                        help="requests/s the pre-signed supply can sustain for the whole run")
    parser.add_argument("--pg", default=os.environ.get("KIOSK_DEALER_TEST_PG",
                                                       "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--serve-baseline", nargs=2, metavar=("PORT", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline(int(args.serve_baseline[0]), args.serve_baseline[1])
        return 0
    import psycopg

    name = f"kiosk_dealer_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(args.pg, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db_url = args.pg.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            state = Path(tmp)
            identities = setup(state, db_url, args.terminals)
            per_terminal = math.ceil(args.max_rate * args.seconds / args.terminals)
            port, link_port, base_port = _free_port(), _free_port(), _free_port()
            for _ in range(2):
                procs.append(subprocess.Popen([sys.executable, "-m", "provisioning.cli", "--state", str(state),
                                               "serve", "--port", str(port), "--link-port", str(link_port),
                                               "--reuse-port"], stdout=subprocess.DEVNULL))
                procs.append(subprocess.Popen([sys.executable, __file__, "--serve-baseline", str(base_port),
                                               db_url]))
            for p in (port, link_port, base_port):
                _wait_port(p)
            time.sleep(2)  # both processes of each pair listening
            ca_file = str(state / "ca" / "ca.pem")
            service, bare = [p.pid for p in procs[0::2]], [p.pid for p in procs[1::2]]
            before = cpu_seconds(bare)
            base = measure("bare", f"http://127.0.0.1:{base_port}", identities, args.clients, args.seconds, ca_file,
                           per_terminal)
            base["cpu_ms"] = (cpu_seconds(bare) - before) * 1000 / base["requests"]
            before = cpu_seconds(service)
            signed = measure("signed", f"https://127.0.0.1:{link_port}", identities, args.clients, args.seconds,
                             ca_file, per_terminal)
            signed["cpu_ms"] = (cpu_seconds(service) - before) * 1000 / signed["requests"]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=20)
        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"dealer_auth: 2 server processes, PostgreSQL, {args.terminals} terminals, {args.seconds:.0f} s each, same "
          f"machine ({os.cpu_count()} cores shared by clients, servers, PostgreSQL and any other load)")
    print(f"  client: {args.clients} asyncio process(es), one persistent connection per terminal (TLS handshake before "
          f"the window), every request pre-signed before the window (own nonce and created), closed loop")
    for label, r in (("signed mTLS heartbeat", signed), ("bare Starlette write", base)):
        print(f"  {label:22s} {r['rps']:8.0f} req/s  p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  "
              f"server CPU {r['cpu_ms']:5.2f} ms/request, client CPU {r['client_cpu_ms']:4.2f} ms/request  "
              f"({r['requests']:.0f} ok, {r['errors']:.0f} errors)")
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
