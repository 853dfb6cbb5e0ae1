"""What the registry, reconciliation and turnover tests share: a dealer whose terminal (zone Asia/Omsk, UTC+6) paid
a utility provider (zone Europe/Moscow, UTC+3) around one Moscow day, written by the terminal's own journal and
uploaded by its own batch reader, so the dealer service reads exactly what a terminal sends."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from kiosk.clock import ManualClock
from kiosk.dealer_link.upload import open_reader, read_batch
from kiosk.emulators.payments import pay
from kiosk.offline_queue.journal import Journal
from provisioning import tenants
from provisioning.journal.ingest import store

MOSCOW, OMSK = ZoneInfo("Europe/Moscow"), ZoneInfo("Asia/Omsk")
DAY = date(2026, 3, 10)  # the provider's (Moscow) day the registry is for
SPLIT = {"split": [{"service": "water_cold", "name": "Холодное водоснабжение", "amount": 50000},
                   {"service": "water_hot", "name": "Горячее водоснабжение", "amount": 48000}],
         "readings": [{"meter": "123456", "name": "ХВС", "service": "water_cold", "unit": "m3",
                       "previous": "123.45", "value": "130.10"},
                      {"meter": "223344", "name": "ГВС", "service": "water_hot", "unit": "m3",
                       "previous": "55.00", "value": "57.25"},
                      {"meter": "998877", "name": "Свет", "service": "power", "unit": "kWh",
                       "previous": "1000.5", "value": "1100.0"}]}


def _at(clock: ManualClock, moment: datetime) -> None:
    clock.advance((moment - clock.now()).total_seconds())


def upload_history(session: Any, folder: Path, dealer_slug: str, number: str = "30001") -> dict[str, Any]:
    """The dealer, its terminal and these payments, uploaded; returns the operation numbers by name.

    before: 09.03 23:50 Moscow (already 10.03 in Omsk), delivered — not in the 10.03 registry
    plain: 10.03 10:00, 150 ₽, delivered · utility: 12:00, 1000 ₽ split across two services, three readings
    unknown: 14:00, 200 ₽, never confirmed (not delivered) · late: 23:30, 500 ₽, delivered
    after: 11.03 00:30, delivered — not in the registry · other: 10.03 11:00, another provider's payment"""
    clock = ManualClock(OMSK, datetime(2026, 3, 9, 23, 0, tzinfo=MOSCOW))
    path = folder / f"journal-{number}.sqlite"
    journal = Journal(path, number, "RUB", clock.now)
    ops: dict[str, int] = {}
    for name, moment, kwargs in (
            ("before", datetime(2026, 3, 9, 23, 50), {"bills": (10000,)}),
            ("plain", datetime(2026, 3, 10, 10, 0), {"bills": (10000, 5000), "account": "1000000001"}),
            ("other", datetime(2026, 3, 10, 11, 0), {"provider": "mts", "account": "9123456789"}),
            ("utility", datetime(2026, 3, 10, 12, 0), {"bills": (50000, 50000), "account": "1000000002",
                                                       "details": SPLIT}),
            ("unknown", datetime(2026, 3, 10, 14, 0), {"bills": (10000, 10000), "account": "1000000003",
                                                       "delivered": False}),
            ("late", datetime(2026, 3, 10, 23, 30), {"bills": (50000,), "account": "1000000004"}),
            ("after", datetime(2026, 3, 11, 0, 30), {"bills": (10000,), "account": "1000000005"})):
        _at(clock, moment.replace(tzinfo=MOSCOW))
        ops[name] = pay(journal, clock, **({"provider": "vodokanal", "account": "1000000000"} | kwargs))
    journal.close()
    dealer = tenants.create_dealer(session, dealer_slug, dealer_slug.title())
    terminal = tenants.add_terminal(session, dealer, number, "Lenina 7", "Asia/Omsk", "", "test")
    reader, after = open_reader(path), 0
    while (batch := read_batch(reader, after, 50)).count:
        store(session.connection(), dealer.id, terminal.id, number,
              {"format": 1, "terminal": number, "after": after, "last": batch.last, "rows": batch.rows})
        after = batch.last
    reader.close()
    return {"dealer": dealer.id, "terminal": terminal.id, "number": number, **ops}


def add_profile(session: Any, dealer_id: int, **settings: Any) -> None:
    """The vodokanal provider's registry settings (Moscow, 03:00, CSV, UTF-8, nowhere to send) with `settings`."""
    from provisioning.registries.models import RegistryProfile

    defaults: dict[str, Any] = {"name": "Водоканал", "timezone": "Europe/Moscow", "build_at": "03:00",
                                "scheduled": False, "formats": "csv", "encoding": "utf-8", "emails": "",
                                "drop_dir": "", "import_format": "{}"}
    session.add(RegistryProfile(dealer_id=dealer_id, provider="vodokanal", **(defaults | settings)))
