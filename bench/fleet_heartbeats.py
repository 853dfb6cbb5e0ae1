"""A fleet's heartbeats against the dealer service: N simulated terminals (own keys and certificates, RFC 9421
signed, mutual TLS) send full reports — every key kiosk.dealer_link.status sends, some with state changes — on a
schedule to 2 `kiosk-dealer serve` processes on PostgreSQL. Open loop: the offered rate is fixed, each heartbeat's
latency counts from when it was due, so a slow service cannot hide by sending less.

Every terminal sends one heartbeat before the window (online, its key in the servers' caches: a running fleet).
Three ways a terminal can reach the service, measured separately:
  keep-alive  each terminal keeps its connection between heartbeats (TLS handshake once): what a terminal does, its
              idle connection kept past the heartbeat interval by both sides (kiosk.dealer_link.client);
  resume      each heartbeat on a new connection that resumes the TLS session (a terminal whose idle connection a
              NAT box dropped; the server processes share their ticket keys: `serve --workers`);
  reconnect   each heartbeat on a new connection with a full mutual TLS handshake (the worst case: terminals from
              before session resumption).

    .venv/bin/python bench/fleet_heartbeats.py [--rate 1100] [--terminals 2000] [--seconds 15] [--clients 2]
                                               [--modes keep-alive,resume,reconnect] [--pg postgresql://…/test]
Target (issue 14): ≥ 1,000 heartbeats/s (60,000 terminals at one a minute), p99 < 100 ms.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from link_bench import (  # noqa: E402
    PG_DEFAULT,
    Plan,
    dealer_servers,
    enroll_terminals,
    fresh_database,
    machine_load,
    measure_with_cpu,
    report_json,
    rss_bytes,
    signed_heartbeats,
    split,
)

EVENT_SHARE = 50  # one heartbeat in this many carries a state change


def _bodies(count: int, first: int) -> list[bytes]:
    """A terminal's reports; every EVENT_SHARE-th carries a state change (as after a validator fault)."""
    bodies = []
    for k in range(count):
        events = []
        if (first + k) % EVENT_SHARE == 0:
            events = [{"id": secrets.token_hex(8), "at": datetime.now(UTC).isoformat(), "kind": "validator_fault",
                       "detail": "Jammed"}]
        bodies.append(report_json(uptime_s=86400 + k * 60, **({"events": events} if events else {})))
    return bodies


def _plans(port: int, identities: list[dict[str, str]], clients: int, seconds: float, rate: float, ca_file: str,
           reconnect: bool, resume: bool) -> list[Plan]:
    interval = len(identities) / rate  # each terminal's period for the fleet to offer `rate` heartbeats/s
    per_terminal = int(seconds / interval) + 3  # the first is sent before the window
    base = f"https://127.0.0.1:{port}"
    plans = []
    for chunk in split(identities, clients):
        requests = [signed_heartbeats(base, i, _bodies(per_terminal, int(i["number"])), close=reconnect)
                    for i in chunk]
        plans.append(Plan(port, requests, chunk, ca_file, seconds, interval=interval,
                          reconnect=reconnect, resume=resume))
    return plans


def main() -> int:
    """Enroll the fleet, run the servers, offer the rate in each mode, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=1100,
                        help="heartbeats/s the fleet offers (default 10 %% over the target: met is no rounding matter)")
    parser.add_argument("--terminals", type=int, default=2000, help="simulated terminals (each its own connection)")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--modes", default="keep-alive,resume,reconnect")
    parser.add_argument("--pg", default=PG_DEFAULT)
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    load_before = machine_load()
    results = {}
    with fresh_database(args.pg) as (db_url, db_name), tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        identities = enroll_terminals(state, db_url, args.terminals)
        ca_file = str(state / "ca" / "ca.pem")
        with dealer_servers(state, 2) as (port, servers):
            idle_rss = rss_bytes(servers)
            for mode in modes:
                plans = _plans(port, identities, args.clients, args.seconds, args.rate, ca_file,
                               mode in ("resume", "reconnect"), mode == "resume")
                result = measure_with_cpu(plans, servers, db_name)
                result["rss_mb"] = rss_bytes(servers) / 2**20
                results[mode] = result
    print(f"fleet_heartbeats: {args.terminals} terminals offering {args.rate:.0f} heartbeats/s for {args.seconds:.0f} s "
          f"per mode, 2 server processes, PostgreSQL, {args.clients} client processes on the same machine "
          f"({load_before} before, {machine_load()} after); full reports (~{len(report_json())} bytes), one in "
          f"{EVENT_SHARE} with a state change; servers' memory {idle_rss / 2**20:.0f} MB before")
    for mode, r in results.items():
        print(f"  {mode:10s} {r['rps']:7.0f} heartbeats/s  p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:7.1f} ms  "
              f"max {r['max_ms']:7.1f} ms  server CPU {r['cpu_ms']:5.2f} ms/heartbeat, PostgreSQL CPU "
              f"{r['pg_ms']:4.2f}, client CPU {r['client_cpu_ms']:4.2f}  ({r['requests']:.0f} ok, {r['errors']:.0f} "
              f"errors; servers {r['rss_mb']:.0f} MB)")
        met = r["rps"] >= 1000 and r["p99_ms"] < 100
        print(f"  {'':10s} target ≥ 1000/s and p99 < 100 ms: {'met' if met else 'NOT met'}; at this server CPU one "
              f"free core carries {1000 / r['cpu_ms']:.0f} heartbeats/s")
    print(f"  ({os.cpu_count()} cores shared by clients, servers, PostgreSQL and any other load)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
