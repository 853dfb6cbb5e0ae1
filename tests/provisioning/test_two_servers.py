"""Stateless servers: two `kiosk-dealer serve` processes against one database share sessions of nothing but the
database — a terminal enrolled on one is served by the other, a replay to the other is refused (shared nonces),
and periodic work runs once across both."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from kiosk.dealer_link.client import DealerLink
from kiosk.dealer_link.enroll import enroll
from kiosk.dealer_link.signing import sign
from provisioning import tenants
from provisioning.db.models import AuditEntry, PeriodicJob, Terminal
from provisioning.identity import enrollment
from provisioning.identity.ca import CAFiles
from provisioning.periodic import claim_and_run


def _spawn(state: Path, name: str, tmp: Path) -> tuple[subprocess.Popen, dict]:
    ready = tmp / f"{name}.json"
    proc = subprocess.Popen([sys.executable, "-m", "provisioning.cli", "--state", str(state), "serve", "--port", "0",
                             "--link-port", "0", "--ready-file", str(ready), "--periodic-tick", "0.1",
                             "--job-period", "mark_offline=0.5"],
                            stdout=subprocess.DEVNULL, stderr=open(tmp / f"{name}.log", "wb"))
    deadline = time.monotonic() + 60
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"server {name} did not start: {(tmp / f'{name}.log').read_text()}")
        time.sleep(0.1)
    return proc, json.loads(ready.read_text())


@pytest.fixture(scope="module")
def two_servers(dealer_state, tmp_path_factory) -> Iterator[list[dict]]:
    tmp = tmp_path_factory.mktemp("servers")
    started: list[tuple[subprocess.Popen, dict]] = []
    try:
        for name in ("a", "b"):
            started.append(_spawn(dealer_state.state_dir, name, tmp))
        yield [info for _, info in started]
    finally:
        for proc, _ in started:
            proc.terminate()
        for proc, _ in started:
            try:
                assert proc.wait(timeout=20) == 0 or proc.returncode == -15
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.mark.slow
def test_terminal_enrolled_on_one_server_is_served_by_the_other_and_replays_fail_on_both(
        two_servers, database, dealer_state, tmp_path):
    a, b = two_servers
    ca = CAFiles(dealer_state.ca_dir).load()
    with database.session() as session:
        dealer = tenants.create_dealer(session, "acme", "Acme")
        terminal = tenants.add_terminal(session, dealer, "2001", "", "Europe/Moscow", "", "test")
        code = enrollment.new_enrollment_code(session, terminal, "test", dt.datetime.now(dt.UTC), 24)
    settings = enroll(a["portal_url"], code, ca.fingerprint, tmp_path / "t")
    assert settings.link_url == a["link_url"]
    with DealerLink(tmp_path / "t") as link:
        path = f"{link.terminal_path}/heartbeat"
        headers = sign("POST", f"{b['link_url']}{path}", b"{}", link.key, link.key_id)
        context = link.identity.tls_context()
        assert httpx.post(f"{b['link_url']}{path}", content=b"{}", headers=headers, verify=context).status_code == 200
        replay = httpx.post(f"{a['link_url']}{path}", content=b"{}", headers=headers, verify=context)
        assert replay.status_code == 401 and "replayed" in replay.json()["detail"]


@pytest.mark.slow
def test_periodic_work_runs_once_across_both_servers(two_servers, database):
    with database.session() as session:
        dealer = tenants.create_dealer(session, "quiet", "Quiet")
        terminal = tenants.add_terminal(session, dealer, "2100", "", "Europe/Moscow", "", "test")
        terminal.online, terminal.last_seen_at = True, dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    start = time.monotonic()
    deadline = start + 30
    while time.monotonic() < deadline:
        with database.session() as session:
            if not session.scalar(select(Terminal.online).where(Terminal.number == "2100")):
                break
        time.sleep(0.2)
    time.sleep(2.0)  # both servers keep offering the job meanwhile
    elapsed = time.monotonic() - start
    with database.session() as session:
        offline = session.scalars(select(AuditEntry).where(AuditEntry.action == "terminal.offline",
                                                           AuditEntry.target == "terminal 2100")).all()
        job = session.get(PeriodicJob, "mark_offline")
    assert len(offline) == 1  # one server marked it; the other saw it done
    # every 0.5 s across both servers (the servers ran a little before this test started, hence the margin)
    assert job is not None and job.runs <= (elapsed + 60) / 0.5


def test_a_due_job_is_claimed_by_exactly_one_of_many_concurrent_servers(database, dealer_state):
    now = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)  # due for sure, whatever ran before
    ran: list[bool] = []
    calls: list[int] = []

    def job(session, when, settings):
        calls.append(1)
        time.sleep(0.2)  # hold the row while the others try

    def worker(name: str) -> None:
        ran.append(claim_and_run(database, "contended", job, 3600, dealer_state, name, now=now))

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(ran) == 1 and len(calls) == 1
