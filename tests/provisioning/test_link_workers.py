"""`kiosk-dealer serve --workers 2`: two server processes on the same ports sharing the link's TLS session tickets —
a terminal that reconnects resumes its session whichever process the kernel gives the new connection to."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from types import SimpleNamespace

from monitor_support import enrolled

RECONNECTS = 12  # the kernel spreads new connections over both processes: all on one has odds of 1 in 2048


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_reconnecting_terminal_resumes_with_either_process(dealer_state, database, tmp_path):
    port, link_port, ready = _free_port(), _free_port(), tmp_path / "ready.json"
    log = tmp_path / "serve.log"
    proc = subprocess.Popen([sys.executable, "-m", "provisioning.cli", "--state", str(dealer_state.state_dir), "serve",
                             "--port", str(port), "--link-port", str(link_port), "--workers", "2",
                             "--ready-file", str(ready)], stdout=subprocess.DEVNULL, stderr=open(log, "wb"))
    try:
        deadline = time.monotonic() + 90
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline, f"not started: {log.read_text()}"
            time.sleep(0.1)
        time.sleep(1)  # the second process listening too
        info = json.loads(ready.read_text())
        server = SimpleNamespace(portal_url=info["portal_url"], settings=dealer_state)
        with enrolled(server, database, tmp_path, "4201") as link:  # type: ignore[arg-type]
            path = f"{link.terminal_path}/heartbeat"
            for _ in range(RECONNECTS):
                # each on a connection of its own: the service closes it after the reply
                reply = link.http.post(path, content=b"{}", headers={**link.signed_headers("POST", path, b"{}"),
                                                                     "Connection": "close"})
                assert reply.status_code == 200, reply.text
            assert link.tls.handshakes == RECONNECTS
            assert link.tls.resumed == RECONNECTS - 1  # every one after the first, on either process
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) in (0, 1), log.read_text()


def _children(pid: int) -> set[int]:
    found = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout.split()
    return {int(p) for p in found}


def test_the_periodic_jobs_run_in_a_process_of_their_own_beside_the_servers(dealer_state, database, tmp_path):
    # The jobs' Python work (alerts over the whole fleet, rollups, registries) would hold the interpreter's lock
    # against a server's event loop: beside the servers, not in them.
    from sqlalchemy import select

    from provisioning.db.models import PeriodicJob

    port, link_port, ready = _free_port(), _free_port(), tmp_path / "ready.json"
    log = tmp_path / "serve.log"
    started = time.time()
    proc = subprocess.Popen([sys.executable, "-m", "provisioning.cli", "--state", str(dealer_state.state_dir), "serve",
                             "--port", str(port), "--link-port", str(link_port), "--workers", "2",
                             "--periodic-tick", "0.2", "--ready-file", str(ready)],
                            stdout=subprocess.DEVNULL, stderr=open(log, "wb"))
    try:
        deadline = time.monotonic() + 90
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline, f"not started: {log.read_text()}"
            time.sleep(0.1)
        children = _children(proc.pid)
        assert len(children) == 3, children  # two servers and the jobs' process
        server = json.loads(ready.read_text())["pid"]
        assert server in children

        def runners() -> set[int]:
            with database.session() as session:
                return {int(row.last_run_by.rsplit(":", 1)[1]) for row in session.scalars(select(PeriodicJob))
                        if row.last_run_at is not None and row.last_run_at.timestamp() >= started - 1}

        while not runners() and time.monotonic() < deadline:
            time.sleep(0.1)
        ran = runners()
        assert ran and ran <= children, (ran, children)
        (jobs_process,) = children - {server} - _listening(children)
        assert ran == {jobs_process}  # only the process without listeners runs jobs
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) in (0, 1), log.read_text()


def _listening(pids: set[int]) -> set[int]:
    """Those of `pids` that hold a listening TCP socket (the servers)."""
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
    return {pid for pid in pids if f"pid={pid}," in out}
