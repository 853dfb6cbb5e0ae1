"""A terminal process with random payers and flaky gateways, made to be killed (crash-safety tests).

`python -m kiosk.emulators.payer_process --dir D --seed N` pays forever (or --payments N) through the real
session, journal and outbox, with the in-process validator's cassette and both gateways' ledgers in D.
`--drain` instead starts the terminal once (reconciling), heals the gateways and delivers everything.
`check_invariants(D)` then says whether money was lost or paid twice.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import threading
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from kiosk import events as ev
from kiosk.app import Terminal
from kiosk.clock import ManualClock
from kiosk.config import DEMO_DIR, Part, load_config
from kiosk.drivers.virtual import VirtualValidator
from kiosk.gateways.virtual import VirtualGateway
from kiosk.registry import WIRE_VALIDATORS

PAYERS = [("mts", "9123456789"), ("energo", "1234567890"), ("rostelecom", "123456789"),
          ("t2", "9501234567"), ("vodokanal", "12345678"), ("charity", "9161234567")]
BILLS_RUB = [10, 50, 100, 200, 500, 1000]


def write_config(directory: str | Path, gateway_mode: str = "flaky", seed: int = 0) -> Path:
    """A terminal configuration whose every file lives in directory (demo catalog)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    text = (DEMO_DIR / "terminal.toml").read_text(encoding="utf-8")
    text = text.replace('path = "catalog.toml"', f'path = "{DEMO_DIR / "catalog.toml"}"')
    text = text.replace("~/.local/state/kiosk/demo/", f"{directory}/")
    text = text.replace('protocol = "virtual"\n', f'protocol = "virtual"\nmode = "{gateway_mode}"\nseed = {seed}\n')
    # Each killed run restarts its simulated clock; a long lifetime keeps expiry out of what is tested here.
    text = text.replace("lifetime_hours = 24", "lifetime_hours = 720")
    path = directory / "terminal.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _pay_once(terminal: Terminal, clock: ManualClock, rng: random.Random) -> None:
    provider, account = rng.choice(PAYERS)
    steps: list[Any] = [ev.Touch(), ev.ChooseProvider(provider), ev.EditAccount(account), ev.SubmitAccount(),
                        ev.Confirm()]
    for event in steps:
        terminal.post(event)
        terminal.pump()
    validator = terminal.validator
    if not isinstance(validator, VirtualValidator):
        raise TypeError(f"paying without a device needs the virtual validator, not {type(validator).__name__}")
    for _ in range(rng.randint(1, 4)):
        validator.insert(rng.choice(BILLS_RUB) * 100)
        terminal.pump()
    if rng.random() < 0.2:
        clock.advance(terminal.config.timeouts["cash_collection"] + 1)  # the payer walks away
        terminal.post(ev.Tick())
    else:
        terminal.post(ev.Pay())
    terminal.pump()
    for _ in range(3):
        clock.advance(terminal.config.timeouts["delivery"] + 1)
        terminal.post(ev.Tick())
        terminal.pump()
    terminal.post(ev.ReceiptTaken())
    terminal.pump()


def _pay_with_device(terminal: Terminal, clock: ManualClock, rng: random.Random) -> None:
    """One payer at a real validator: bills arrive from the device (fed from outside) for a random while."""
    provider, account = rng.choice(PAYERS)
    for event in (ev.Touch(), ev.ChooseProvider(provider), ev.EditAccount(account), ev.SubmitAccount(),
                  ev.Confirm()):
        terminal.post(event)
        terminal.pump()
    # Handle device events the moment they are posted, as the screen loop does (it wakes on on_post).
    woken = threading.Event()
    terminal.on_post = woken.set
    deadline = time.monotonic() + rng.uniform(0.3, 2.0)
    while (left := deadline - time.monotonic()) > 0:
        woken.wait(min(left, 0.02))
        woken.clear()
        terminal.pump()
    if rng.random() < 0.2:
        clock.advance(terminal.config.timeouts["cash_collection"] + 1)  # walks away
        terminal.post(ev.Tick())
    else:
        terminal.post(ev.Pay())
    for _ in range(100):  # Pay may wait for a bill still on its way to the cassette
        terminal.pump()
        if terminal.session.state != "cash_collection":
            break
        time.sleep(0.02)
    clock.advance(terminal.config.timeouts["delivery"] + 1)
    terminal.post(ev.Tick())
    terminal.pump()
    terminal.post(ev.ReceiptTaken())
    terminal.pump()


def run(directory: Path, seed: int, payments: int | None, drain: bool, device: tuple[str, str] | None = None) -> int:
    """Pay (or drain) until done or killed; with device=(protocol, port) through the real driver."""
    config = load_config(directory / "terminal.toml")
    if device is not None:
        config = replace(config, validator=Part("validator", device[0], {"port": device[1], "poll_interval": 0.05}))
    clock = ManualClock(config.timezone, datetime.now(config.timezone))
    terminal = Terminal(config, clock=clock, background_checks=False)
    if drain:
        for gateway in terminal.gateways.values():
            if isinstance(gateway, VirtualGateway):
                gateway.set_mode("ok")
    terminal.start(background_outbox=not drain)
    print("READY", flush=True)
    try:
        if drain:
            for _ in range(5000):
                terminal.outbox.run_due(wait=True)
                due = terminal.journal.next_due_ms()
                if due is None:
                    break
                clock.advance(max(0.0, due / 1000 - clock.now().timestamp()) + 1)
            _drain_fiscal(terminal)
            return 0
        rng = random.Random(seed)
        count = 0
        pay = _pay_once if device is None else _pay_with_device
        while payments is None or count < payments:
            pay(terminal, clock, rng)
            count += 1
    finally:
        terminal.close()
    return 0


def _drain_fiscal(terminal: Terminal) -> None:
    """A fiscal registrar's receipts still owed (the kill trials' drain), until none is or no progress is made."""
    fiscal = terminal.receipts.fiscal
    while fiscal is not None:
        result = fiscal.catch_up(terminal.journal.get)
        if not result["owed"] or not result["made"]:
            return


def _rows(path: Path, sql: str) -> list[tuple]:
    if not path.exists():
        return []
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def check_invariants(directory: str | Path) -> list[str]:
    """Every way money could have been lost or paid twice, as sentences; empty when all is well."""
    directory = Path(directory)
    journal = directory / "journal.sqlite"
    problems: list[str] = []
    cassette = dict(_rows(directory / "cassette.sqlite", "SELECT event_id, value FROM cassette"))
    bills = {e: (v, op) for e, v, op in _rows(journal, "SELECT event_id, denomination, operation FROM bills")}
    if not cassette:
        return ["the cassette is empty: nothing was tested"]
    for event_id, value in cassette.items():
        if event_id not in bills:
            problems.append(f"bill {event_id} ({value}) is in the cassette but belongs to no operation")
        elif bills[event_id][0] != value:
            problems.append(f"bill {event_id}: cassette says {value}, journal says {bills[event_id][0]}")
    for event_id in set(bills) - set(cassette):
        problems.append(f"journal credits bill {event_id} that the cassette never received")
    return problems + check_operations(directory)


def check_device_cassette(directory: str | Path, cassette_file: str | Path) -> list[str]:
    """A real device's cassette (counts by denomination) against the journal and its uncertain bills.

    Every bill in the cassette must be credited once or listed as uncertain; the journal may never credit a
    bill the cassette does not hold.
    """
    directory = Path(directory)
    journal = directory / "journal.sqlite"
    counts = {int(k): v for k, v in json.loads(Path(cassette_file).read_text())["counts"].items()}
    credited: dict[int, int] = {}
    for (value,) in _rows(journal, "SELECT denomination FROM bills"):
        credited[value] = credited.get(value, 0) + 1
    uncertain: dict[int | None, int] = {}
    for (amount,) in _rows(journal, "SELECT amount FROM incidents WHERE kind='uncertain_bill'"):
        uncertain[amount] = uncertain.get(amount, 0) + 1
    problems = []
    unexplained = 0
    for value in sorted(set(counts) | set(credited)):
        extra = counts.get(value, 0) - credited.get(value, 0)
        if extra < 0:
            problems.append(f"journal credits {-extra} more {value} bills than the cassette holds")
        elif extra > uncertain.get(value, 0):
            unexplained += extra - uncertain.get(value, 0)
    if unexplained > uncertain.get(None, 0):
        problems.append(f"{unexplained} bills in the cassette are neither credited nor listed as uncertain "
                        f"(cassette {counts}, journal {credited}, uncertain {uncertain})")
    if not counts:
        problems.append("the cassette is empty: nothing was tested")
    return problems + check_operations(directory)


def check_operations(directory: Path) -> list[str]:
    """Operations against their bills and the gateways' bookings."""
    journal = directory / "journal.sqlite"
    problems: list[str] = []
    bills = {e: (v, op) for e, v, op in _rows(journal, "SELECT event_id, denomination, operation FROM bills")}
    ops = _rows(journal, "SELECT operation, state, cash, credited FROM operations")
    per_op: dict[int, int] = {}
    for value, op in bills.values():
        per_op[op] = per_op.get(op, 0) + value
    for number, state, cash, _credited in ops:
        if per_op.get(number, 0) != cash:
            problems.append(f"operation {number}: cash {cash} but its bills add up to {per_op.get(number, 0)}")
        if state == "collecting":
            problems.append(f"operation {number} is still collecting after reconciliation")
        if state == "committed":
            problems.append(f"operation {number} was not delivered after the gateways recovered")
    bookings: dict[int, list[tuple[str, int]]] = {}
    for gateway in ("main", "backup"):
        for op, amount in _rows(directory / f"gateway-{gateway}.sqlite", "SELECT operation, amount FROM bookings"):
            bookings.setdefault(op, []).append((gateway, amount))
    by_number = {n: (s, c, cr) for n, s, c, cr in ops}
    for number, booked in bookings.items():
        if len(booked) > 1:
            problems.append(f"operation {number} was booked {len(booked)} times: {booked}")
        if number not in by_number:
            problems.append(f"gateway booked operation {number} that the journal does not have")
        elif by_number[number][2] != booked[0][1]:
            problems.append(f"operation {number}: booked {booked[0][1]}, journal credited {by_number[number][2]}")
    for number, (state, _cash, _) in by_number.items():
        if state == "delivered" and number not in bookings:
            problems.append(f"operation {number} is delivered in the journal but no gateway booked it")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Command line of the payer process."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", required=True, type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--payments", type=int, default=None)
    parser.add_argument("--drain", action="store_true")
    parser.add_argument("--validator-protocol", choices=WIRE_VALIDATORS)
    parser.add_argument("--validator-port")
    args = parser.parse_args(argv)
    device = (args.validator_protocol, args.validator_port) if args.validator_protocol else None
    return run(args.dir, args.seed, args.payments, args.drain, device)


if __name__ == "__main__":
    sys.exit(main())
