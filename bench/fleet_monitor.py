"""How the fleet monitoring scales on PostgreSQL: N terminals of one dealer, each with a day of heartbeats every
five minutes (the agreed payload), in a fresh database. Measured: one alert evaluation over the whole fleet (all
six rules switched on), the fleet page (rendered through the portal, signed in), one terminal's 24 h chart
(bucketed in SQL from raw heartbeats), the hourly rollup of the day for every terminal, the 30-day chart from the
hourly aggregates, and the pruning of the day's raw rows. Medians of several runs where a run changes nothing.

    .venv/bin/python bench/fleet_monitor.py [--terminals 1000] [--pg postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")  # Starlette's notice on import

import psycopg  # noqa: E402
from sqlalchemy import func, insert, select, update  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from provisioning import tenants  # noqa: E402
from provisioning.app import create_app  # noqa: E402
from provisioning.cli import init  # noqa: E402
from provisioning.db import Database  # noqa: E402
from provisioning.db.models import Heartbeat, Terminal  # noqa: E402
from provisioning.monitor import alerts, history  # noqa: E402
from provisioning.monitor.models import AlertRule, HeartbeatHour  # noqa: E402
from provisioning.monitor.rules import KINDS  # noqa: E402

PASSWORD = "bench password 123"


def _median_ms(work: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _payload(i: int, step: int) -> str:
    return json.dumps({"version": "1.4.0", "uptime_s": step * 300,
                       "validator": {"kind": "ccnet", "online": True, "state": "idling", "detail": ""},
                       "printer": "ready", "paper": "out" if i % 50 == 0 else "ok",
                       "cassette": {"count": (i * 7 + step * 2) % 1000, "kopecks": 1, "capacity": 1000},
                       "outbox_depth": step % 4, "outbox_oldest_s": 0, "needs_attention": int(i % 97 == 0),
                       "clock_skew_s": 0.5, "locked": False, "last_operation": step * 3, "events": []})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--terminals", type=int, default=1000)
    parser.add_argument("--pg", default=os.environ.get("KIOSK_DEALER_TEST_PG",
                                                       "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    name = f"kiosk_bench_monitor_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.pg, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = args.pg.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
    try:
        with tempfile.TemporaryDirectory() as state:
            run(url, Path(state), args.terminals)
    finally:
        with psycopg.connect(args.pg, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(url: str, state: Path, count: int) -> None:
    settings = init(state, url, dev=False, hosts=["127.0.0.1"], out=open(os.devnull, "w"))
    db = Database(url)
    now = datetime.now(UTC)
    start = now - timedelta(hours=24)
    steps = 24 * 12
    with db.session() as session:
        dealer = tenants.create_dealer(session, "bench", "Bench")
        tenants.add_user(session, dealer, "admin@bench.test", PASSWORD, "admin", "bench")
        session.execute(insert(Terminal), [{"dealer_id": dealer.id, "number": str(10000 + i), "status": "enrolled",
                                            "address": f"Street {i}", "last_seen_at": now - timedelta(seconds=30),
                                            "online": True} for i in range(count)])
        ids = session.scalars(select(Terminal.id).order_by(Terminal.id)).all()
        for kind, spec in KINDS.items():
            session.add(AlertRule(dealer_id=dealer.id, kind=kind, threshold=spec.default, enabled=True))
    loaded = time.perf_counter()
    for i, terminal_id in enumerate(ids):
        with db.session() as session:
            session.execute(insert(Heartbeat), [{"terminal_id": terminal_id, "payload": _payload(i, step),
                                                 "received_at": start + timedelta(seconds=300 * step)}
                                                for step in range(steps)])
            # the heartbeat route keeps the newest report on the terminal's row as well
            session.execute(update(Terminal).where(Terminal.id == terminal_id)
                            .values(last_heartbeat=_payload(i, steps - 1)))
    load_s = time.perf_counter() - loaded
    rows = count * steps
    print(f"fleet monitoring on PostgreSQL: {count} terminals, {rows} heartbeats over 24 h "
          f"(loaded in {load_s:.1f} s); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    def evaluate() -> tuple[int, int]:
        with db.session() as session:
            return alerts.evaluate(session, now, settings)

    first = evaluate()
    print(f"  alert evaluation, whole fleet, 6 rules: {_median_ms(evaluate, 5):.0f} ms median "
          f"(first run opened {first[0]} alerts; later runs open and close none: {evaluate()})")
    client = TestClient(create_app(settings, db), base_url="https://testserver", follow_redirects=False)
    assert client.post("/login", data={"email": "admin@bench.test", "password": PASSWORD}).status_code == 303
    page = client.get("/fleet")
    assert page.status_code == 200 and page.text.count("<tr data-terminal=") == count
    print(f"  fleet page ({len(page.content) // 1024} KiB of HTML): {_median_ms(lambda: client.get('/fleet'), 5):.0f} "
          f"ms median; filtered to offline: {_median_ms(lambda: client.get('/fleet?state=offline'), 5):.0f} ms")
    print(f"  one terminal's 24 h history page (3 SVG charts from raw rows): "
          f"{_median_ms(lambda: client.get(f'/fleet/{ids[0]}?period=24h'), 5):.0f} ms median")
    with db.session() as session:
        started = time.perf_counter()
        hours = history.rollup(session, now + timedelta(hours=1), settings)
        rollup_s = time.perf_counter() - started
        aggregates = session.scalar(select(func.count()).select_from(HeartbeatHour))
    print(f"  hourly rollup: {hours} hours × {count} terminals → {aggregates} rows in {rollup_s:.1f} s "
          f"({rows / rollup_s:.0f} heartbeats/s)")
    print(f"  one terminal's 30-day history page (from hourly rows): "
          f"{_median_ms(lambda: client.get(f'/fleet/{ids[0]}?period=30d'), 5):.0f} ms median")
    with db.session() as session:
        started = time.perf_counter()
        pruned = history.prune(session, now + timedelta(hours=1), dataclasses.replace(settings,
                                                                                      heartbeat_retention_days=0))
        prune_s = time.perf_counter() - started
    print(f"  pruning: {pruned} raw rows deleted (each terminal's newest kept) in {prune_s:.1f} s")
    client.close()
    db.close()


if __name__ == "__main__":
    main()
