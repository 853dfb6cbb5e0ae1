"""A terminal process delivering one CyberPlat payment, made to be killed at a chosen step (SESSION restart tests).

    python session_restart_child.py DIR URL [KILL_AT]

DIR holds the journal (made by `prepare`) and the adapter's options (`options.json`). The process reconciles
the journal as a restarted terminal does, then runs delivery cycles until the operation leaves the outbox.
Every step (a journal write about to happen or just done, a request about to leave or just answered) prints one
line `STEP n name`; with KILL_AT=n the process kills itself with SIGKILL at step n, so the test can crash it
between journaling a new SESSION and sending it, mid-request, or between a reply and its record.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from kiosk.catalog import Catalog, Category, Provider
from kiosk.fees import NoFee
from kiosk.gateways.base import Route
from kiosk.gateways.cyberplat import CyberplatGateway
from kiosk.gateways.router import Router
from kiosk.money import Money
from kiosk.offline_queue.journal import COMMITTED, Journal
from kiosk.offline_queue.outbox import Outbox
from kiosk.offline_queue.reconcile import commit_operation, reconcile

TZ = ZoneInfo("Europe/Moscow")
PROVIDER = Provider(id="mts", name={"en": "MTS"}, category="mobile", inn="7740000076", phone="", logo="",
                    fields=(), min_amount=Money(100), max_amount=Money(1_500_000), fee=NoFee(), offline=True,
                    online_check=False, routes=(Route("cp", "mts"),))
CATALOG = Catalog(1, (Category("mobile", {"en": "Mobile"}),), {"mts": PROVIDER})


def open_journal(directory: Path) -> Journal:
    """The terminal's journal in DIR."""
    return Journal(directory / "journal.sqlite", "10001", "RUB", lambda: datetime.now(TZ))


def prepare(directory: Path, options: dict[str, Any]) -> int:
    """One committed 150 ₽ payment in a new journal, and the adapter's options; returns its operation number."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "options.json").write_text(json.dumps(options), encoding="utf-8")
    journal = open_journal(directory)
    try:
        op = journal.open_operation("mts", "9161234567", {"account": "9161234567"}, max_cash=150_00)
        journal.record_bill(op.operation, 100_00, "bv", "e1")
        journal.record_bill(op.operation, 50_00, "bv", "e2")
        return commit_operation(journal, CATALOG, op.operation, "pay").operation
    finally:
        journal.close()


class Steps:
    """Counts the steps; kills this process at the chosen one."""

    def __init__(self, kill_at: int) -> None:
        self.kill_at, self.count = kill_at, 0

    def mark(self, name: str) -> None:
        self.count += 1
        print(f"STEP {self.count} {name}", flush=True)
        if self.count == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    def around(self, owner: Any, method: str, label: Callable[..., str]) -> None:
        """Mark a step before and after every call of owner.method."""
        original = getattr(owner, method)

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            name = label(*args, **kwargs)
            self.mark(f"before {name}")
            result = original(*args, **kwargs)
            self.mark(f"after {name}")
            return result

        setattr(owner, method, wrapped)


def main(directory: Path, url: str, kill_at: int) -> int:
    """Reconcile, then deliver until the operation leaves the outbox (or ten cycles pass)."""
    options = json.loads((directory / "options.json").read_text(encoding="utf-8"))
    journal = open_journal(directory)
    gateway = CyberplatGateway("cp", {**options, "url": url})
    steps = Steps(kill_at)
    steps.around(journal, "begin_attempt", lambda number, route, verb, session=None, **_: f"journal {verb} {session}")
    steps.around(journal, "settle", lambda number, **kw: "journal new session" if kw.get("new_session")
                 else "journal outcome")
    steps.around(gateway, "_call", lambda route, step, params: f"send {step} {params.get('SESSION')}")
    reconcile(journal, CATALOG)
    outbox = Outbox(journal, Router({"cp": gateway}), CATALOG, backoff_base=0.0, backoff_max=0.0)
    try:
        for _ in range(10):
            if outbox.deliver(1) != COMMITTED:
                break
    finally:
        outbox.stop()
        gateway.close()
    print(f"STATE {journal.get(1).state}", flush=True)
    journal.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0))
