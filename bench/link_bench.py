"""Shared machinery of the dealer-link benchmarks (dealer_auth.py, fleet_heartbeats.py): a fresh PostgreSQL database,
terminals enrolled directly (own key, certificate from the service's CA), two `kiosk-dealer serve` processes on one
port (SO_REUSEPORT), and light asyncio client processes sending signed requests over real mutual TLS.

Each request is signed as it is sent (its own nonce, `created` now), with the terminal's own signer, as a terminal
does; the clients run on the same machine and share its cores with the servers and PostgreSQL, so their CPU is
reported too.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import multiprocessing
import os
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

from kiosk.dealer_link.signing import CLIENT_CERT_HEADER, client_cert_header, sign  # noqa: E402

PG_DEFAULT = os.environ.get("KIOSK_DEALER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU the processes have used (from /proc): a figure other load on the machine does not bend."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def rss_bytes(pids: list[int]) -> int:
    """Resident memory of the processes."""
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


def postgres_pids(database: str) -> list[int]:
    """The PostgreSQL backends serving `database` (their CPU is part of each request's cost)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if f" {database} ".encode() in (entry / "cmdline").read_bytes().replace(b"\0", b" ") + b" ":
                    pids.append(int(entry.name))
    return pids


def machine_load() -> str:
    """The 1-minute load average and the core count, for the report."""
    return f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 60) -> None:
    """Wait until something accepts connections on loopback `port`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {port}")


@contextlib.contextmanager
def fresh_database(pg: str) -> Iterator[tuple[str, str]]:
    """A new PostgreSQL database for one run, dropped afterwards: (its SQLAlchemy URL, its name)."""
    import psycopg

    name = f"kiosk_dealer_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}", name
    finally:
        with psycopg.connect(pg, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def enroll_terminals(state: Path, db_url: str, terminals: int) -> list[dict[str, str]]:
    """`kiosk-dealer init`, then `terminals` terminals enrolled directly (key, CSR, certificate): their identities
    (number, PEM file with key and certificate, key id, database id)."""
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


def _children(pid: int) -> list[int]:
    """The child processes of `pid` (Linux)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


@contextlib.contextmanager
def dealer_servers(state: Path, count: int = 2) -> Iterator[tuple[int, list[int]]]:
    """`kiosk-dealer serve --workers count`: that many server processes sharing one link port and its TLS session
    tickets, as the service is deployed: (the link port, the server processes' pids)."""
    port, link_port = free_port(), free_port()
    proc = subprocess.Popen([sys.executable, "-m", "provisioning.cli", "--state", str(state), "serve", "--port",
                             str(port), "--link-port", str(link_port), "--workers", str(count)],
                            stdout=subprocess.DEVNULL)
    try:
        wait_port(link_port)
        time.sleep(2)  # every process listening, not just the first
        yield link_port, _children(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def http_request(path: str, host: str, body: bytes, headers: dict[str, str], close: bool = False) -> bytes:
    """One complete HTTP/1.1 POST as bytes."""
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", "Content-Type: application/json",
             f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers.items())]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class SignedHeartbeats(Sequence[bytes]):
    """One terminal's heartbeat requests as kiosk.dealer_link.client sends them (RFC 9440 Client-Cert too): request
    k is signed when it is read, just before it is sent (own nonce, `created` now). Picklable: the key is loaded in
    the client process, on first use."""

    def __init__(self, base: str, identity: dict[str, str], bodies: list[bytes], close: bool = False) -> None:
        self.path = f"/api/v1/terminals/bench/{identity['number']}/heartbeat"
        self.url, self.host = f"{base}{self.path}", base.split("://", 1)[1]
        self.pem, self.key_id, self.bodies, self.close = identity["pem"], identity["key_id"], bodies, close
        self._signing: tuple[Any, str] | None = None

    def __len__(self) -> int:
        return len(self.bodies)

    @overload
    def __getitem__(self, index: int) -> bytes: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[bytes]: ...

    def __getitem__(self, index: int | slice) -> bytes | Sequence[bytes]:
        if isinstance(index, slice):
            return [self[k] for k in range(*index.indices(len(self)))]
        if self._signing is None:
            from cryptography.hazmat.primitives.serialization import load_pem_private_key

            pem = Path(self.pem).read_bytes()
            self._signing = (load_pem_private_key(pem, None), client_cert_header(
                x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)))
        key, cert = self._signing
        body = self.bodies[index]
        return http_request(self.path, self.host, body, {**sign("POST", self.url, body, key, self.key_id),
                                                         CLIENT_CERT_HEADER: cert}, self.close)


def signed_heartbeats(base: str, identity: dict[str, str], bodies: list[bytes], close: bool = False) -> Sequence[bytes]:
    """A terminal's heartbeats with these bodies, each signed as it is sent."""
    return SignedHeartbeats(base, identity, bodies, close)


class ResumingContext(ssl.SSLContext):
    """A terminal's client TLS that offers its last session on a new connection, as kiosk.dealer_link.tls_session
    does for the terminal's blocking sockets (asyncio wraps a BIO instead of a socket)."""

    session: ssl.SSLSession | None = None

    def wrap_bio(self, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO, server_side: bool = False,
                 server_hostname: str | bytes | None = None, session: ssl.SSLSession | None = None) -> ssl.SSLObject:
        """As SSLContext.wrap_bio, offering the kept session."""
        return super().wrap_bio(incoming, outgoing, server_side=server_side, server_hostname=server_hostname,
                                session=session or self.session)


def tls_context(ca_file: str, identity: dict[str, str], resume: bool = False) -> ssl.SSLContext:
    """The terminal's client side of mutual TLS: its own certificate, the service's CA pinned (resuming sessions)."""
    context = ResumingContext(ssl.PROTOCOL_TLS_CLIENT) if resume else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=ca_file)
    context.load_cert_chain(identity["pem"])
    return context


def _keep_session(context: Any, writer: asyncio.StreamWriter) -> None:
    """Remember the connection's session (its TLS 1.3 ticket came with the reply) for the next connection."""
    if isinstance(context, ResumingContext):
        context.session = writer.get_extra_info("ssl_object").session


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> bool:
    """Send one request and read its whole reply; whether it was 200."""
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")  # the status line and headers in one read, not one per line
    status, *lines = head.split(b"\r\n")
    length = 0
    for line in lines:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status.split(b" ", 2)[1:2] == [b"200"]


@dataclass
class Plan:
    """What one client process does: its terminals, their requests, and when each goes."""

    port: int
    requests: list[Sequence[bytes]]  # per terminal, in order (a signed request is signed when it is read)
    identities: list[dict[str, str]]  # per terminal (its PEM makes its TLS client context)
    ca_file: str | None  # the service's CA for mutual TLS; None: plain HTTP
    seconds: float
    interval: float = 0.0  # open loop: each terminal sends every `interval` s (staggered); 0: closed loop
    reconnect: bool = False  # a new (mutual TLS) connection for every request, as a terminal whose idle
    # connection the server closed between two heartbeats
    resume: bool = False  # reconnecting, resume the TLS session (kiosk.dealer_link.tls_session)
    ready: Any = None  # a shared barrier: every client (and measure()) passes it when set up, so the window opens
    # at once everywhere and the servers' CPU is read after the handshakes and first heartbeats, not before


async def _closed_loop(plan: Plan, n: int, context: Any, start: asyncio.Event, deadline: list[float],
                       latencies: list[float], set_up: list[int]) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", plan.port, ssl=context)
    set_up[0] += 1
    failed = 0
    try:
        await start.wait()
        for raw in plan.requests[n]:
            if time.monotonic() >= deadline[0]:
                break
            began = time.perf_counter()
            if await exchange(reader, writer, raw):
                latencies.append(time.perf_counter() - began)
            else:
                failed += 1
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
    return failed


async def _open_loop(plan: Plan, n: int, context: Any, start: asyncio.Event, deadline: list[float],
                     latencies: list[float], t0: list[float], set_up: list[int]) -> int:
    """One terminal on a schedule: request k is due at t0 + offset + k·interval; its latency counts from when it
    was due (a late start is the service's delay too: no coordinated omission)."""
    offset = plan.interval * n / len(plan.requests)
    connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = await asyncio.open_connection(
        "127.0.0.1", plan.port, ssl=context)
    assert connection is not None
    # A first heartbeat before the window: the terminal is online and its key cached, as in a running fleet.
    requests = plan.requests[n]
    await exchange(*connection, requests[0])
    set_up[0] += 1
    if plan.reconnect:
        _keep_session(context, connection[1])
        connection[1].close()
        connection = None
    failed = 0
    try:
        await start.wait()
        for k in range(len(requests) - 1):
            due = t0[0] + offset + k * plan.interval
            if due >= deadline[0]:
                break
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            raw = requests[k + 1]  # signed now, as it goes
            try:
                if plan.reconnect:
                    reader, writer = await asyncio.open_connection("127.0.0.1", plan.port, ssl=context)
                    ok = await exchange(reader, writer, raw)
                    _keep_session(context, writer)
                    writer.close()
                else:
                    assert connection is not None
                    ok = await exchange(*connection, raw)
            except (OSError, ssl.SSLError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                ok = False
            if ok:
                latencies.append(time.monotonic() - due)
            else:
                failed += 1
    finally:
        if connection is not None:
            connection[1].close()
    return failed


def run_plan(plan: Plan) -> dict[str, Any]:
    """One client process: connections made (TLS handshakes done) before the window opens. Latencies, errors, the
    window and the client's own CPU."""

    async def run() -> dict[str, Any]:
        latencies: list[float] = []
        start, deadline, t0, set_up = asyncio.Event(), [float("inf")], [0.0], [0]
        contexts = [None if plan.ca_file is None else tls_context(plan.ca_file, i, plan.resume)
                    for i in plan.identities]
        if plan.interval:
            tasks = [asyncio.create_task(_open_loop(plan, n, contexts[n], start, deadline, latencies, t0, set_up))
                     for n in range(len(plan.requests))]
        else:
            tasks = [asyncio.create_task(_closed_loop(plan, n, contexts[n], start, deadline, latencies, set_up))
                     for n in range(len(plan.requests))]
        # every connection (and TLS handshake, and an open loop's first heartbeat) answered before the window, then a
        # second for the machine to settle: a window opened on the set-up's tail measured the set-up (2,000
        # terminals' first handshakes and heartbeats still queued: every slow heartbeat was in the first 2 s)
        waited = time.monotonic() + 120
        while set_up[0] < len(tasks) and time.monotonic() < waited and not any(t.done() for t in tasks):
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)
        if plan.ready is not None:
            plan.ready.wait()
        cpu, began = time.process_time(), time.time()
        t0[0] = time.monotonic()
        deadline[0] = t0[0] + plan.seconds
        start.set()
        errors = sum(await asyncio.gather(*tasks))
        return {"latencies": latencies, "errors": errors, "began": began, "ended": time.time(),
                "client_cpu": time.process_time() - cpu}

    try:
        import uvloop

        return uvloop.run(run())
    except ImportError:
        return asyncio.run(run())


def measure(plans: list[Plan], on_start: Callable[[], None] = lambda: None) -> dict[str, float]:
    """Run one client process per plan; `on_start` is called as the window opens (after every client's set-up).
    Requests/s, p50, p99 (ms), errors and the clients' CPU per request."""
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(len(plans)) as pool:
        ready = manager.Barrier(len(plans) + 1)
        pending = pool.map_async(run_plan, [dataclasses.replace(plan, ready=ready) for plan in plans])
        ready.wait(timeout=600)
        on_start()
        results = pending.get()
    latencies = sorted(x for r in results for x in r["latencies"])
    errors = sum(r["errors"] for r in results)
    wall = max(r["ended"] for r in results) - min(r["began"] for r in results)
    if not latencies:
        raise RuntimeError(f"no request succeeded ({errors} errors)")
    return {"rps": len(latencies) / wall, "p50_ms": latencies[len(latencies) // 2] * 1000,
            "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
            "max_ms": latencies[-1] * 1000, "requests": len(latencies), "errors": errors,
            "client_cpu_ms": sum(r["client_cpu"] for r in results) * 1000 / len(latencies)}


def measure_with_cpu(plans: list[Plan], servers: list[int], database: str) -> dict[str, float]:
    """measure(), plus the servers' and PostgreSQL's CPU per request over the window (ms)."""
    before: list[float] = []
    result = measure(plans, lambda: before.extend([cpu_seconds(servers), cpu_seconds(postgres_pids(database))]))
    result["cpu_ms"] = (cpu_seconds(servers) - before[0]) * 1000 / result["requests"]
    result["pg_ms"] = (cpu_seconds(postgres_pids(database)) - before[1]) * 1000 / result["requests"]
    return result


def split(items: list[Any], parts: int) -> list[list[Any]]:
    """Round-robin `items` into `parts` lists."""
    return [items[i::parts] for i in range(parts)]


def report_json(**extra: Any) -> bytes:
    """A heartbeat body shaped like a real terminal's report (kiosk.dealer_link.status: `events` only when there
    are some, so the service stores the rest as sent)."""
    report = {"version": "bench", "uptime_s": 86400, "terminal": "bench",
              "validator": {"kind": "ccnet", "online": True, "state": "idle", "detail": ""},
              "printer": "ready", "paper": "ok", "cassette": {"count": 412, "kopecks": 21_450_000, "capacity": 1000},
              "gateways": {"main": "closed"}, "outbox_depth": 0, "outbox_kopecks": 0, "outbox_oldest_s": None,
              "needs_attention": 0, "uncertain_bills": 0, "last_payment_at": "2026-11-29T21:14:03.118000+00:00",
              "free_disk_bytes": 9_812_344_832, "clock_skew_s": 0.4, "config_version": 7, "theme": "default",
              "locked": False, "last_operation": 18_234, "fault": None}
    return json.dumps({**report, **extra}).encode()
