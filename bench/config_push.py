"""Pushed configuration: what one bundle costs on the service and on the terminal, and a pull over the real link.

A `kiosk-dealer` service (SQLite, its own CA) runs in this process on loopback; one terminal is enrolled with a
one-time code, the demo catalog's document is assigned to it with a gateway secret. Measured, each as p50 / p99:
- service: building the terminal's bundle (assignment lookup, TOML parse, secret unsealed, Ed25519 signature),
  and the same bundle again (the process keeps built bundles by everything their bytes depend on);
- terminal: checking a bundle (signer certificate against the pinned CA, signature, then the terminal's own
  configuration and catalog loaders over its own file);
- link: a pull with a changed bundle (200, ~12 kB) and an unchanged one (304 on If-None-Match), each a signed
  request over mutual TLS on one kept-alive connection, server and client in one process.
Each line also gives the process's CPU time per round (time.process_time: on a loaded machine the figure to compare).

    .venv/bin/python bench/config_push.py [--rounds 200]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kiosk.config import load_config  # noqa: E402
from kiosk.dealer_link.client import DealerLink  # noqa: E402
from kiosk.dealer_link.config_sync import ConfigSync, check  # noqa: E402
from kiosk.dealer_link.enroll import enroll  # noqa: E402
from kiosk.emulators.payer_process import write_config  # noqa: E402
from provisioning import tenants  # noqa: E402
from provisioning.cli import init  # noqa: E402
from provisioning.config import bundles, store  # noqa: E402
from provisioning.config.vault import vault_of  # noqa: E402
from provisioning.identity import enrollment  # noqa: E402
from provisioning.server import DealerServer  # noqa: E402

CPU_MS: dict[int, float] = {}  # id(times) → this process's CPU milliseconds per round (server and client alike)


def _timed(rounds: int, work: Callable[[], object]) -> list[float]:
    times: list[float] = []
    cpu = time.process_time()
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    CPU_MS[id(times)] = (time.process_time() - cpu) * 1000 / rounds
    return times


def _line(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (f"{name:<48} p50 {statistics.median(ordered):7.2f} ms   p99 {p99:7.2f} ms   "
            f"{1000 / statistics.mean(ordered):8.0f}/s one after another   CPU {CPU_MS[id(times)]:6.3f} ms each")


def main() -> int:
    """Run the measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = init(root / "dealer", None, dev=False, hosts=["127.0.0.1", "localhost"], out=open(os.devnull, "w"))
        config = load_config(write_config(root / "terminal", gateway_mode="ok"))
        folder = config.journal_path.parent / "dealer-link"
        with DealerServer(settings) as server:
            db, vault = server.db, vault_of(settings.state_dir)
            with db.session() as session:
                dealer = tenants.create_dealer(session, "acme", "Acme")
                terminal = tenants.add_terminal(session, dealer, config.terminal, "Tverskaya 1", "Europe/Moscow", "",
                                                "bench")
                code = enrollment.new_enrollment_code(session, terminal, "bench", dt.datetime.now(dt.UTC), 1)
                document = store.create_document(session, dealer.id, "fleet", "bench")
                store.assign(session, dealer.id, store.versions(session, document)[0].id, "bench",
                             terminal_id=terminal.id)
                store.set_secret(session, terminal, "main", "password", "bench-secret", "bench", vault)
                terminal_id = terminal.id
            enroll(server.portal_url, code, server.ca_files.load().fingerprint, folder)
            ca = server.ca_files.load()

            def build() -> bundles.Bundle | None:
                with db.session() as session:
                    return bundles.build(session, ca, session.get(tenants.Terminal, terminal_id), vault)

            built = build()
            assert built is not None
            def build_afresh() -> object:
                bundles._BUILT.clear()  # as for a version or secret never built in this process
                return build()

            cold = _timed(rounds, build_afresh)
            service = _timed(rounds, build)
            link = DealerLink(folder)
            sync = ConfigSync.__new__(ConfigSync)  # only its fetch: no terminal, no thread
            sync.link = link
            terminal_side = _timed(max(20, rounds // 4), lambda: check(built.body, config, link.identity))
            changed = _timed(rounds, lambda: sync._fetch({}))
            unchanged = _timed(rounds, lambda: sync._fetch({"If-None-Match": built.etag}))
            assert sync._fetch({"If-None-Match": built.etag}).status_code == 304
            link.close()
    print(f"bundle: {len(built.body):,} bytes; {rounds} rounds each; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print(_line("service: build and sign one bundle", cold))
    print(_line("service: the same bundle again (kept in memory)", service))
    print(_line("terminal: verify and validate one bundle", terminal_side))
    print(_line("link: pull a changed bundle (200)", changed))
    print(_line("link: pull an unchanged bundle (304)", unchanged))
    return 0


if __name__ == "__main__":
    sys.exit(main())
