"""Charge registries: how long a large provider's registry takes to validate and load, and one debt lookup's cost.

A registry of ACCOUNTS accounts, each with three services and two meters (four lines per account), is parsed, then
loaded into a fresh dealer database (SQLite in a temporary folder, or the database URL given); then LOOKUPS random
accounts are looked up as the debt check does (the newest period of the account, its debt object). CPU seconds of
this process are printed beside wall seconds (the machine is shared: CPU is the figure to compare).

Usage: ./dev bench charges_load [ACCOUNTS] [DATABASE_URL]
"""

from __future__ import annotations

import random
import resource
import sys
import tempfile
import time
from pathlib import Path

from provisioning import tenants
from provisioning.charges import parse, store
from provisioning.db import Database, upgrade

LOOKUPS = 2000


def registry(accounts: int, period: str = "102026") -> bytes:
    """A registry of `accounts` accounts: cold and hot water with a meter each, and maintenance."""
    lines = ["account;period;payer;address;service;service_name;charge;debt;meter;meter_name;unit;previous;"
             "previous_date"]
    for n in range(accounts):
        account = f"{1_000_000_000 + n}"
        lines += [f"{account};{period};Плательщик {n};ул. Ленина, {n % 200}, кв. {n % 97};water_cold;ХВС;"
                  f"{n % 900},10;{n % 900},10;C{n};ХВС;m3;{n % 1000}.{n % 100:02d};25.10.2026",
                  f"{account};{period};;;water_hot;ГВС;{n % 700},20;{n % 1300},20;H{n};ГВС;m3;{n % 500}.5;25.10.2026",
                  f"{account};{period};;;maintenance;Содержание жилья;1 200,00;1 200,00;;;;;"]
    return "\n".join(lines).encode()


def cpu() -> float:
    """CPU seconds of this process so far (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    """Print the figures."""
    accounts = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as folder:
        url = sys.argv[2] if len(sys.argv) > 2 else f"sqlite:///{Path(folder) / 'bench.sqlite'}"
        data = registry(accounts)
        print(f"registry: {accounts} accounts, {len(data) / 1e6:.1f} MB, load average {open('/proc/loadavg').read()[:14]}")
        cpu0, wall0 = cpu(), time.perf_counter()
        parsed = parse.parse("bench.csv", data)
        print(f"validate: {cpu() - cpu0:.2f} s CPU, {time.perf_counter() - wall0:.2f} s wall "
              f"({accounts / max(cpu() - cpu0, 1e-9):,.0f} accounts per CPU second)")
        assert len(parsed.accounts) == accounts
        db = Database(url)
        upgrade(db.engine)
        with db.session() as session:
            dealer = tenants.create_dealer(session, f"bench{random.randrange(10**6)}", "Bench")
            dealer_id = dealer.id
        cpu0, wall0 = cpu(), time.perf_counter()
        with db.session() as session:
            loaded = store.load(session, dealer_id, "bench-water", "bench.csv", data, "bench")
        assert loaded.accepted
        print(f"validate + load in one transaction: {cpu() - cpu0:.2f} s CPU, {time.perf_counter() - wall0:.2f} s wall"
              f" ({db.engine.dialect.name})")
        picks = [f"{1_000_000_000 + random.randrange(accounts)}" for _ in range(LOOKUPS)]
        cpu0, wall0 = cpu(), time.perf_counter()
        for account in picks:
            with db.session() as session:
                found = store.current(session, dealer_id, "bench-water", account)
                assert found is not None
                store.debt_object(*found)
        spent = cpu() - cpu0
        print(f"debt lookup: {spent / LOOKUPS * 1e3:.3f} ms CPU each, "
              f"{(time.perf_counter() - wall0) / LOOKUPS * 1e3:.3f} ms wall each ({LOOKUPS} lookups)")
        db.close()


if __name__ == "__main__":
    main()
