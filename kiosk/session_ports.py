"""The payment session's boundary: what it talks to (SessionDeps) and what a screen sees of it (SessionView)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kiosk.catalog import Catalog, Provider
from kiosk.clock import ManualClock, SystemClock
from kiosk.config import Config
from kiosk.drivers import validator as dv
from kiosk.gateways.router import Router
from kiosk.money import Money
from kiosk.offline_queue.journal import Journal, Operation
from kiosk.offline_queue.outbox import Outbox


@dataclass
class SessionDeps:
    """Everything the session talks to; the composition root (app.py, the simulator, tests) fills it."""

    config: Config
    catalog: Catalog
    journal: Journal
    validator: dv.BillValidator
    router: Router
    outbox: Outbox | None
    clock: SystemClock | ManualClock
    run_check: Callable[[int, Provider, str, Money, Mapping[str, str]], None]
    print_receipt: Callable[[Operation, str], str | None]
    validator_name: str = "validator"
    service_pin_ok: Callable[[str], bool] = lambda pin: False
    printer_ready: Callable[[], bool] = lambda: True
    encash: Callable[[str], Any] = lambda reason: None
    detect_operator: Callable[[str], tuple[str | None, str]] = lambda number: (None, number)


@dataclass
class SessionView:
    """What a screen needs to draw the current moment."""

    state: str
    category: str | None = None
    provider: str | None = None
    account: str = ""
    account_display: str = ""
    account_error: str = ""
    details: dict[str, str] = field(default_factory=dict)
    operation: int | None = None
    cash: int = 0
    fee: int = 0
    credited: int = 0
    min_amount: int = 0
    max_amount: int = 0
    offline: bool = False
    message: str = ""
    seconds_left: int | None = None
    waiting: int = 0
    fault: str | None = None
    outcome: str = ""
    no_receipt: bool = False
    receipt: str = ""  # "printing" while a receipt is on its way out, then the journaled receipt status
    locked: str | None = None  # locked by the dealer: the message to show (None: not locked)
    # utility bills (kiosk.utility_session)
    scan_problem: Any = None  # a Refusal or NotServed: .text(lang) says why a scanned code cannot be paid
    debt: Any = None  # kiosk.utility.Debt the check answered
    meter: Any = None  # kiosk.utility.Meter being read
    meter_index: int = 0
    reading_text: str = ""
    reading_problem: str = ""
    readings: tuple[Any, ...] = ()
    skip_allowed: bool = False
