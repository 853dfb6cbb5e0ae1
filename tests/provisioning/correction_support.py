"""Shared by the dealer-side corrections tests: a dealer with a support person and two admins, and payments uploaded
from a real journal the way a terminal's upload stores them."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from zoneinfo import ZoneInfo

from kiosk.clock import ManualClock
from kiosk.dealer_link.upload import open_reader, read_batch
from kiosk.emulators.payments import pay
from kiosk.offline_queue.journal import Journal
from provisioning import tenants
from provisioning.db import Database
from provisioning.db.models import Terminal
from provisioning.journal.ingest import store

PASSWORD = "corrections test password"
PEOPLE = {"support@acme.test": "support", "boss@acme.test": "admin", "chief@acme.test": "admin"}
_numbers = itertools.count(1)


def dealer(database: Database, slug: str = "acme") -> None:
    """The dealer and its people (once per module's database)."""
    with database.session() as session:
        owner = tenants.create_dealer(session, slug, slug.title())
        for email, role in PEOPLE.items():
            tenants.add_user(session, owner, email, PASSWORD, role, "test")


def uploaded(database: Database, folder: Path, state: str, slug: str = "acme") -> tuple[int, str, int]:
    """A new terminal of the dealer with one uploaded payment in `state` (delivered, needs_attention or committed):
    (terminal id, terminal number, operation)."""
    number = f"{os.getpid() % 1000}{next(_numbers):03d}"
    clock = ManualClock(ZoneInfo("Europe/Moscow"))
    path = folder / f"journal-{number}.sqlite"
    journal = Journal(path, number, "RUB", clock.now)
    operation = pay(journal, clock, account="7770001111", delivered=state == "delivered")
    if state == "needs_attention":
        journal.settle(operation, state="needs_attention", unpin=True, attention_reason="declined by the provider")
    journal.close()
    reader = open_reader(path)
    batch = read_batch(reader, 0)
    reader.close()
    with database.session() as session:
        owner = tenants.dealer_by_slug(session, slug)
        terminal: Terminal = tenants.add_terminal(session, owner, number, "Test st", "Europe/Moscow", "", "test")
        store(session.connection(), owner.id, terminal.id, number,
              {"format": 1, "terminal": number, "after": 0, "last": batch.last, "rows": batch.rows})
        return terminal.id, number, operation
