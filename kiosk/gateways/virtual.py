"""An in-process processing system with a durable ledger of bookings: the `virtual` gateway.

It honours idempotency keys, refuses accounts ending in 0000, and has switches for the faults that matter
to money: down (nothing sent), lose-reply (booked, reply lost), timeout-before (lost before booking),
decline, and flaky (a random mix, seeded).
"""

from __future__ import annotations

import random
import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kiosk.gateways.base import (
    Approved,
    CheckOutcome,
    Code,
    Declined,
    Gateway,
    Payable,
    PaymentRequest,
    PayOutcome,
    Refused,
    RetryLater,
    Route,
    Unknown,
    Unreachable,
)
from kiosk.money import Money
from kiosk.utility import parse_debt
from kiosk.utility_demo import demo_debt, demo_payee

MODES = ("ok", "down", "lose-reply", "timeout-before", "decline", "flaky")


class VirtualGateway(Gateway):
    """Books payments into a SQLite ledger; every booking it ever made is recorded there."""

    protocol = "virtual"

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        super().__init__(name, options)
        ledger = options.get("ledger")
        path = str(Path(str(ledger)).expanduser()) if ledger else ":memory:"
        if ledger:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS bookings (id INTEGER PRIMARY KEY, gateway TEXT NOT NULL, "
            "idempotency_key TEXT NOT NULL, terminal TEXT NOT NULL, operation INTEGER NOT NULL, "
            "provider_code TEXT NOT NULL, account TEXT NOT NULL, amount INTEGER NOT NULL, "
            "external_id TEXT NOT NULL)")
        # No UNIQUE on the key on purpose: a client that books twice must show up as two rows.
        self._db.execute("CREATE INDEX IF NOT EXISTS bookings_key ON bookings (gateway, idempotency_key)")
        self._lock = threading.Lock()
        self.mode = str(options.get("mode", "ok"))
        self.rng = random.Random(int(options.get("seed", 0)))
        self.requests = 0

    def set_mode(self, mode: str) -> None:
        """Switch fault behaviour."""
        if mode not in MODES:
            raise ValueError(f"unknown gateway mode {mode!r}; expected one of {MODES}")
        self.mode = mode

    def _effective_mode(self) -> str:
        if self.mode != "flaky":
            return self.mode
        return self.rng.choice(("ok", "ok", "ok", "down", "lose-reply", "timeout-before"))

    def _booking(self, key: str) -> str | None:
        row = self._db.execute("SELECT external_id FROM bookings WHERE gateway=? AND idempotency_key=? "
                               "ORDER BY id LIMIT 1", (self.name, key)).fetchone()
        return None if row is None else row[0]

    def check(self, route: Route, account: str, amount: Money, fields: Mapping[str, str]) -> CheckOutcome:
        """Every well-formed account exists except one ending in 0000."""
        if self.mode == "down":
            return Unreachable("connection refused")
        if account.endswith("0000"):
            return Refused(Code.ACCOUNT_NOT_FOUND, "account not found")
        payee = demo_payee(route.provider_code, fields)
        if payee == {}:  # the demo bank pays by bank details only with the bill's details, as the JSON emulator
            return Refused(Code.FORBIDDEN, "payment by bank details: the bill's payee details are missing")
        if payee:
            return Payable({k: v for k, v in payee.items() if v})
        debt = demo_debt(route.provider_code, account)
        if debt is not None:  # a demo utility account: its debt by service and meters, as the JSON emulator's
            return Payable({"subscriber": account[-4:]}, debt=parse_debt(debt))
        # data, not words: the screen says "Subscriber 6789" or "Абонент 6789" in the payer's language
        return Payable({"subscriber": account[-4:]})

    def pay(self, request: PaymentRequest) -> PayOutcome:
        """Book once per idempotency key; repeat the same answer for a repeated key."""
        mode = self._effective_mode()
        with self._lock:
            self.requests += 1
            if mode == "down":
                return RetryLater("connection refused", not_executed=True)
            if mode == "timeout-before":
                return Unknown("timed out")
            if request.account.endswith("0000") or mode == "decline":
                return Declined(Code.ACCOUNT_NOT_FOUND, "account not found", "5")
            external = self._booking(request.idempotency_key)
            if external is None:
                external = f"{self.name.upper()}-{request.idempotency_key}"
                self._db.execute(
                    "INSERT INTO bookings (gateway, idempotency_key, terminal, operation, provider_code, account, "
                    "amount, external_id) VALUES (?,?,?,?,?,?,?,?)",
                    (self.name, request.idempotency_key, request.terminal, request.operation,
                     request.route.provider_code, request.account, request.credited.minor, external))
            if mode == "lose-reply":
                return Unknown("connection reset after the request was sent")
            return Approved(external)

    def status(self, request: PaymentRequest) -> PayOutcome:
        """What became of a key: approved with its id, or never registered."""
        if self.mode == "down":
            return RetryLater("connection refused", not_executed=False)
        with self._lock:
            external = self._booking(request.idempotency_key)
        if external is None:
            return RetryLater("no such payment", not_executed=True)
        return Approved(external)

    def bookings(self) -> list[dict[str, Any]]:
        """Every booking this gateway made."""
        cursor = self._db.execute("SELECT gateway, idempotency_key, terminal, operation, account, amount, "
                                  "external_id FROM bookings ORDER BY id")
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor]

    def close(self) -> None:
        """Close the ledger."""
        self._db.close()
