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
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

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
    """The bare handler: the same write as a heartbeat, no TLS, no signature, no nonce."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from provisioning.db import Database
    from provisioning.db.models import Heartbeat, Terminal, utcnow

    db = Database(db_url)

    async def heartbeat(request: Request) -> JSONResponse:
        body = await request.body()
        terminal_id = int(request.path_params["terminal_id"])

        def write() -> str:
            with db.session() as session:
                terminal = session.get(Terminal, terminal_id)
                now = utcnow()
                terminal.last_seen_at, terminal.online = now, True
                session.add(Heartbeat(terminal_id=terminal_id, received_at=now, payload=body.decode() or "{}"))
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


def client_process(args: tuple[str, str, list[dict[str, str]], float, str]) -> tuple[list[float], int, float, float]:
    """Threads, one terminal each, sending heartbeats for `seconds` once all are connected: latencies in seconds,
    errors, and the wall-clock span (so figures from several processes add up)."""
    mode, base, identities, seconds, ca_file = args
    import ssl

    latencies: list[float] = []
    errors = [0]
    span = [float("inf"), 0.0]
    lock = threading.Lock()
    ready = threading.Barrier(len(identities))

    def run(identity: dict[str, str]) -> None:
        mine: list[float] = []
        failed = 0
        body = json.dumps({"version": "bench", "outbox_depth": 0}).encode()
        if mode == "signed":
            from cryptography.hazmat.primitives.serialization import load_pem_private_key

            key = load_pem_private_key(Path(identity["pem"]).read_bytes(), None)
            context = ssl.create_default_context(cafile=ca_file)
            context.load_cert_chain(identity["pem"])
            client = httpx.Client(base_url=base, verify=context, timeout=30)
            path = f"/api/v1/terminals/bench/{identity['number']}/heartbeat"
        else:
            client = httpx.Client(base_url=base, timeout=30)
            path = f"/heartbeat/{identity['terminal_id']}"
        with client:
            ready.wait()
            began = time.time()
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                start = time.perf_counter()
                headers = sign("POST", f"{base}{path}", body, key, identity["key_id"]) if mode == "signed" else {}
                try:
                    reply = client.post(path, content=body, headers=headers)
                    ok = reply.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    mine.append(time.perf_counter() - start)
                else:
                    failed += 1
        with lock:
            latencies.extend(mine)
            errors[0] += failed
            span[0], span[1] = min(span[0], began), max(span[1], time.time())

    threads = [threading.Thread(target=run, args=(i,)) for i in identities]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors[0], span[0], span[1]


def measure(mode: str, base: str, identities: list[dict[str, str]], clients: int, seconds: float,
            ca_file: str) -> dict[str, float]:
    """Run the client processes; requests/s, p50, p99 (ms) and errors."""
    chunks = [identities[i::clients] for i in range(clients)]
    with multiprocessing.get_context("spawn").Pool(clients) as pool:
        results = pool.map(client_process, [(mode, base, c, seconds, ca_file) for c in chunks])
    latencies = sorted(x for lat, _, _, _ in results for x in lat)
    errors = sum(e for _, e, _, _ in results)
    wall = max(r[3] for r in results) - min(r[2] for r in results)
    if not latencies:
        raise RuntimeError(f"{mode}: no request succeeded ({errors} errors)")
    return {"rps": len(latencies) / wall, "p50_ms": latencies[len(latencies) // 2] * 1000,
            "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
            "requests": len(latencies), "errors": errors}


def main() -> int:
    """Set up, run the service and the baseline, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--threads", type=int, default=8, help="terminals (threads) per client process")
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
            identities = setup(state, db_url, args.clients * args.threads)
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
            base = measure("bare", f"http://127.0.0.1:{base_port}", identities, args.clients, args.seconds, ca_file)
            base["cpu_ms"] = (cpu_seconds(bare) - before) * 1000 / base["requests"]
            before = cpu_seconds(service)
            signed = measure("signed", f"https://127.0.0.1:{link_port}", identities, args.clients, args.seconds,
                             ca_file)
            signed["cpu_ms"] = (cpu_seconds(service) - before) * 1000 / signed["requests"]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=20)
        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    terminals = args.clients * args.threads
    print(f"dealer_auth: 2 server processes, PostgreSQL, {terminals} terminals in {args.clients} client processes, "
          f"{args.seconds:.0f} s each, same machine ({os.cpu_count()} cores shared by clients and servers)")
    for label, r in (("signed mTLS heartbeat", signed), ("bare Starlette write", base)):
        print(f"  {label:22s} {r['rps']:8.0f} req/s  p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  "
              f"server CPU {r['cpu_ms']:5.2f} ms/request  ({r['requests']:.0f} ok, {r['errors']:.0f} errors)")
    print(f"  ratio authenticated / bare: {signed['rps'] / base['rps']:.2f} (throughput), "
          f"{base['cpu_ms'] / signed['cpu_ms']:.2f} (server CPU per request)")
    print(f"  capacity of one free core at that CPU cost: {1000 / signed['cpu_ms']:.0f} authenticated req/s, "
          f"{1000 / base['cpu_ms']:.0f} bare")
    print(f"  target ≥ 1000 req/s and p99 < 100 ms: {'met' if signed['rps'] >= 1000 and signed['p99_ms'] < 100 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
