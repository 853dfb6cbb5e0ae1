"""`kiosk-dealer serve`: two listeners in one process — the portal (people, enrollment) and the terminal link
(mutual TLS required) — over one stateless app, plus the periodic worker that coordinates through the database."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import ssl
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import uvicorn

from kiosk.dealer_link.identity import write_private as write_atomic
from provisioning.app import LINK_PATHS, PathGate, create_app
from provisioning.db import Database
from provisioning.heartbeat import HeartbeatRoute
from provisioning.identity.ca import CAFiles
from provisioning.periodic import PeriodicWorker
from provisioning.settings import Settings


def _run_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run the servers on uvloop (its TLS and sockets are in C: half the CPU of asyncio's pure-Python TLS layer
    per request), or on asyncio's loop where uvloop is not installed."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    uvloop.run(main)


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to DealerServer (two servers share one process)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _bind(host: str, port: int, reuse_port: bool) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:  # several server processes on one port, the kernel spreads connections
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def link_tls(settings: Settings) -> ssl.SSLContext:
    """The link listener's TLS: the service's certificate, the terminal's required and checked against the CA.
    Made once before server processes are forked (`kiosk-dealer serve --workers N`), the processes share its
    session-ticket keys, so a terminal that reconnects resumes its TLS session with whichever process accepts it."""
    files = CAFiles(settings.ca_dir)
    return uvicorn.config.create_ssl_context(certfile=str(files.server_cert), keyfile=str(files.server_key),
                                             password=None, ssl_version=ssl.PROTOCOL_TLS_SERVER,
                                             cert_reqs=ssl.CERT_REQUIRED, ca_certs=str(files.cert), ciphers="TLSv1")


def link_keep_alive(settings: Settings) -> int:
    """Seconds the link listener keeps an idle terminal connection: past two heartbeat intervals."""
    return 2 * settings.heartbeat_interval + 30


class DealerServer:
    """The service's listeners and periodic worker; `run()` blocks (the CLI), `start()`/`close()` use a thread."""

    def __init__(self, settings: Settings, host: str = "127.0.0.1", port: int = 0, link_port: int = 0,
                 reuse_port: bool = False, periodic_tick: float = 1.0, periods: dict[str, float] | None = None,
                 worker_name: str | None = None, shared_tls: ssl.SSLContext | None = None,
                 periodic: bool = True) -> None:
        self.settings = settings
        self.shared_tls = shared_tls  # the link's TLS made before forking (link_tls), else each process its own
        self.ca_files = CAFiles(settings.ca_dir)
        self.portal_tls = not settings.dev
        self.portal_socket = _bind(host, port, reuse_port)
        self.link_socket = _bind(host, link_port, reuse_port)
        shown = f"[{host}]" if ":" in host else host
        self.portal_url = f"{'https' if self.portal_tls else 'http'}://{shown}:{self.portal_socket.getsockname()[1]}"
        self.link_url = f"https://{shown}:{self.link_socket.getsockname()[1]}"
        self.db = Database(settings.db_url)
        self.app = create_app(settings, self.db, link_url=self.link_url)
        # periodic=False: `serve --workers N` runs the jobs in a process of their own (provisioning.workers)
        self.worker = PeriodicWorker(self.db, settings, worker_name or f"{socket.gethostname()}:{os.getpid()}",
                                     tick=periodic_tick, periods=periods) if periodic else None
        self._servers: list[_QuietServer] = []
        self._heartbeats: HeartbeatRoute | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = threading.Event()

    def _tls(self, client_certs: bool) -> dict[str, Any]:
        options: dict[str, Any] = {"ssl_certfile": str(self.ca_files.server_cert),
                                      "ssl_keyfile": str(self.ca_files.server_key)}
        if client_certs:
            options |= {"ssl_ca_certs": str(self.ca_files.cert), "ssl_cert_reqs": ssl.CERT_REQUIRED}
        return options

    def _make_servers(self) -> list[_QuietServer]:
        common: dict[str, Any] = {"log_level": "warning", "access_log": False, "lifespan": "off",
                                     "timeout_keep_alive": 30}
        portal = uvicorn.Config(PathGate(self.app, deny=("/api/v1/terminals/",)), **common,
                                **(self._tls(False) if self.portal_tls else {}))
        self._heartbeats = HeartbeatRoute(self.app, self.app.state.services)  # the hot path, without FastAPI
        # Terminals keep their connection from one heartbeat to the next (kiosk.dealer_link.client: the heartbeat
        # interval and a margin): a handshake costs the service more than the heartbeat itself. Idle link
        # connections are kept longer than that, so the terminal, not the service, closes an idle one.
        link = uvicorn.Config(PathGate(self._heartbeats, allow=LINK_PATHS),
                              **(common | {"timeout_keep_alive": link_keep_alive(self.settings)}), **self._tls(True))
        if self.shared_tls is not None:
            link.load()  # what uvicorn would load on start, but the TLS context is the one shared with the others
            link.ssl = self.shared_tls
        return [_QuietServer(portal), _QuietServer(link)]

    async def _serve(self) -> None:
        self._servers = self._make_servers()
        self._loop = asyncio.get_running_loop()
        tasks = [asyncio.create_task(self._servers[0].serve([self.portal_socket])),
                 asyncio.create_task(self._servers[1].serve([self.link_socket]))]
        while not all(s.started for s in self._servers):
            if any(t.done() for t in tasks):
                break
            await asyncio.sleep(0.01)
        self._started.set()
        try:
            await asyncio.gather(*tasks)
        finally:
            if self._heartbeats is not None:
                await self._heartbeats.close()  # its database connections live on this loop

    def stop(self) -> None:
        """Ask both listeners to finish (safe from any thread or a signal handler)."""
        for server in self._servers:
            server.should_exit = True

    def write_ready(self, path: Path) -> None:
        """Tell whoever started us where we listen (a JSON file, written atomically)."""
        data = {"portal_url": self.portal_url, "link_url": self.link_url, "pid": os.getpid()}
        write_atomic(path, json.dumps(data).encode(), 0o644)

    def run(self, ready_file: Path | None = None) -> None:
        """Serve until SIGINT/SIGTERM."""
        if self.worker is not None:
            self.worker.start()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stop())
        if ready_file is not None:
            threading.Thread(target=self._announce, args=(ready_file,), daemon=True).start()
        try:
            _run_loop(self._serve())
        finally:
            self._cleanup()

    def _announce(self, ready_file: Path) -> None:
        if self._started.wait(60):
            self.write_ready(ready_file)

    def start(self) -> DealerServer:
        """Serve from a thread (tests, the demo); returns once both listeners accept connections."""
        if self.worker is not None:
            self.worker.start()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), name="dealer-server", daemon=True)
        self._thread.start()
        if not self._started.wait(30):
            self.close()
            raise RuntimeError("dealer service did not start within 30 s")
        return self

    def _cleanup(self) -> None:
        if self.worker is not None:
            self.worker.close()
        for sock in (self.portal_socket, self.link_socket):
            sock.close()
        self.db.close()

    def close(self) -> None:
        """Stop serving and release sockets, threads and database connections (idempotent)."""
        self.stop()
        if self._thread is not None:
            self._thread.join(timeout=15)
            self._thread = None
            self._cleanup()

    def __enter__(self) -> DealerServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
