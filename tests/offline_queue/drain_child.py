"""A terminal's outbox draining its journal into an OSMP emulator, as a process of its own (to be SIGKILLed).

    python -m tests.offline_queue.drain_child JOURNAL URL PROFILE

Reconciles the journal as the terminal does at start-up, says READY, then delivers through the background loop
until nothing is left to deliver, and exits 0.
"""

from __future__ import annotations

import sys
import time
from zoneinfo import ZoneInfo

from kiosk.catalog import Catalog, Category, Provider
from kiosk.clock import SystemClock
from kiosk.fees import NoFee
from kiosk.gateways.base import Route
from kiosk.gateways.osmp import OsmpGateway
from kiosk.gateways.router import Router
from kiosk.money import Money
from kiosk.offline_queue.journal import COMMITTED, Journal
from kiosk.offline_queue.outbox import Outbox
from kiosk.offline_queue.reconcile import reconcile

PROVIDER = Provider(id="mts", name={"en": "MTS"}, category="mobile", inn="7740000076", phone="", logo="",
                    fields=(), min_amount=Money(100), max_amount=Money(1_500_000), fee=NoFee(), offline=True,
                    online_check=False, routes=(Route("main", "1"),))
CATALOG = Catalog(1, (Category("mobile", {"en": "Mobile"}),), {"mts": PROVIDER})


def open_journal(path: str) -> Journal:
    """The terminal's journal."""
    return Journal(path, "10001", "RUB", SystemClock(ZoneInfo("Europe/Moscow")).now)


def main() -> int:
    path, url, profile = sys.argv[1:4]
    journal = open_journal(path)
    reconcile(journal, CATALOG)
    gateway = OsmpGateway("main", {"url": url, "timezone": "Europe/Moscow", "timeout": 10, "profile": profile})
    outbox = Outbox(journal, Router({"main": gateway}), CATALOG, concurrency=4, backoff_base=0.05, backoff_max=0.2)
    print("READY", flush=True)
    outbox.start()
    while journal.count(COMMITTED):
        time.sleep(0.02)
    outbox.stop()
    gateway.close()
    journal.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
