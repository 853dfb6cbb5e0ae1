"""Test helpers: a journaled, committed payment with a chosen fee, without a session; a desk on a fake drive."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from fake_registrar import FakeRegistrar

from kiosk.app import Terminal
from kiosk.catalog import load_catalog
from kiosk.clock import ManualClock
from kiosk.config import load_config
from kiosk.emulators.payer_process import write_config
from kiosk.fees import Split
from kiosk.fiscal.demo_settings import make_fiscal
from kiosk.fiscal.desk import FiscalDesk
from kiosk.fiscal.ledger import FiscalLedger
from kiosk.money import Money
from kiosk.offline_queue.journal import Journal, Operation


def committed(journal: Journal, cash: int = 15000, fee: int = 300, provider: str = "mts",
              account: str = "9123456789") -> Operation:
    """An operation that took `cash` in one bill and is committed with `fee`."""
    op = journal.open_operation(provider, account, {"account": account}, max_cash=1_500_000)
    journal.record_bill(op.operation, cash, "virtual", f"bill-{op.operation}")
    split = Split(cash=Money(cash), fee=Money(fee), credited=Money(cash - fee))
    return journal.commit(op.operation, split, "pay")


START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


class Rig:
    """A journal, a fake drive on a settable clock, and the desk between them."""

    def __init__(self, tmp_path):
        config = load_config(make_fiscal(write_config(tmp_path, gateway_mode="ok"), "/dev/null"))
        self.moment = START
        self.journal = Journal(tmp_path / "journal.sqlite", "10001", "RUB", ManualClock(config.timezone).now)
        self.registrar = FakeRegistrar(now=lambda: self.moment)
        self.ledger = FiscalLedger(self.journal)
        self.ledger.start()
        self.desk = FiscalDesk(self.registrar, self.ledger, config,
                               load_catalog(config.catalog_path, config.currency), now=lambda: self.moment)

    def fiscal(self, number):
        return json.loads(self.journal.conn.execute("SELECT details FROM operations WHERE operation=?",
                                                    (number,)).fetchone()[0]).get("fiscal")

    def incidents(self, kind):
        return [i for i in self.journal.incidents() if i["kind"] == kind]

    def receipts(self):
        return [d for d in self.registrar.documents.values() if d.kind == "receipt"]


def start(config_path, registrar):
    """A terminal on this configuration whose fiscal registrar is `registrar`, started without background work."""
    config = load_config(config_path)
    terminal = Terminal(config, clock=ManualClock(config.timezone), background_checks=False, registrar=registrar)
    terminal.start(background_outbox=False)
    return terminal
