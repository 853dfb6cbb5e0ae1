"""Shared by the corrections tests: a terminal's journal and outbox with real gateways talking HTTP to processing
emulators on loopback (two OSMP providers, one JSON processing), and a count of what each provider booked for an
operation — the one fact that says whether a payment was ever booked twice."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from kiosk.catalog import Catalog, Category, Provider
from kiosk.clock import ManualClock
from kiosk.dealer_link.corrections import Corrector
from kiosk.emulators.processing.core import ProcessingEmulator
from kiosk.emulators.processing.jsonapi import JsonApiEmulator
from kiosk.emulators.processing.osmp import OsmpEmulator
from kiosk.fees import NoFee
from kiosk.gateways.base import Gateway, Route
from kiosk.gateways.jsonapi import JsonApiGateway
from kiosk.gateways.osmp import OsmpGateway
from kiosk.gateways.router import Router
from kiosk.money import Money
from kiosk.offline_queue.journal import Journal
from kiosk.offline_queue.outbox import Outbox
from kiosk.offline_queue.reconcile import commit_operation

GATEWAYS = ("main", "other", "json")
ACCOUNT = "9161234567"


def catalog(gateways: tuple[str, ...] = GATEWAYS) -> Catalog:
    """One provider reachable through these gateways (in this order)."""
    mts = Provider(id="mts", name={"en": "MTS"}, category="mobile", inn="7740000076", phone="", logo="", fields=(),
                   min_amount=Money(100), max_amount=Money(1_500_000), fee=NoFee(), offline=True,
                   online_check=False, routes=tuple(Route(name, "1") for name in gateways))
    return Catalog(1, (Category("mobile", {"en": "Mobile"}),), {"mts": mts})


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, ProcessingEmulator]]:
    """The three processing emulators, serving on ports the OS picked."""
    running: dict[str, ProcessingEmulator] = {
        "main": OsmpEmulator(profile="osmp-status"), "other": OsmpEmulator(profile="osmp-status"),
        "json": JsonApiEmulator(key_id="dealer-7", secret="hmac-Secret-42")}
    for server in running.values():
        server.start()
    yield running
    for server in running.values():
        server.stop()


def operation_of(key: str) -> int:
    """The operation a provider's booking key belongs to (OSMP 'txn:…########[#n]', JSON 'T…-##########-…')."""
    if key.startswith("txn:"):
        return int(key[4:].split("#")[0][-8:])
    return int(key.split("-")[1])


class Rig:
    """A journal, real gateways over HTTP, the outbox and the corrector; `profile` for both OSMP providers."""

    def __init__(self, folder: Path, servers: dict[str, ProcessingEmulator], profile: str = "osmp-status",
                 other_profile: str | None = None, served: str | None = None,
                 routes: tuple[str, ...] = GATEWAYS) -> None:
        """`served`: how the main provider really behaves, when its gateway declares `profile` instead."""
        self.servers = servers
        for name, server in servers.items():
            server.control("reset")
            if name == "main":
                server.control(f"profile {served or profile}")
            elif name == "other":
                server.control(f"profile {other_profile or profile}")
        self.clock = ManualClock(ZoneInfo("Europe/Moscow"))
        self.journal = Journal(folder / "journal.sqlite", "10001", "RUB", self.clock.now)
        self.catalog = catalog(routes)
        self.gateways: dict[str, Gateway] = {
            "main": OsmpGateway("main", {"url": servers["main"].base_url + "/osmp", "timeout": 2, "profile": profile}),
            "other": OsmpGateway("other", {"url": servers["other"].base_url + "/osmp", "timeout": 2,
                                           "profile": other_profile or profile}),
            "json": JsonApiGateway("json", {"url": servers["json"].base_url, "key_id": "dealer-7",
                                            "hmac_secret": "hmac-Secret-42", "timeout": 2})}
        self.outbox = Outbox(self.journal, Router(self.gateways), self.catalog, concurrency=2, lifetime=10**9,
                             rng=random.Random(0))
        self.corrector = Corrector(self.journal, self.outbox)

    def committed(self, kopecks: int = 100_00, account: str = ACCOUNT) -> int:
        """A new committed operation of `kopecks` in one bill."""
        op = self.journal.open_operation("mts", account, {"account": account}, max_cash=kopecks)
        self.journal.record_bill(op.operation, kopecks, "virtual", f"bill-{op.operation}")
        return commit_operation(self.journal, self.catalog, op.operation, "pay").operation

    def live(self, number: int) -> list[tuple[str, str, int]]:
        """(gateway, account, amount) of every booking of this operation not reversed, at every provider."""
        out = []
        for name, server in self.servers.items():
            with server.ledger.lock:
                for key, booking in server.ledger.bookings.items():
                    if operation_of(key) == number and not booking.cancelled:
                        out.append((name, booking.account, booking.amount))
        return out

    def run(self, kind: str, number: int, **args: Any) -> dict[str, Any]:
        """A correction as the remote command hands it over (approved where `approved` is given)."""
        return self.corrector.run(kind, {"operation": number, "op_key": self.journal.get(number).idempotency_key,
                                         "correction": 1, "requested_by": "support@acme.test", **args})

    def verbs(self, number: int) -> list[str]:
        """Each attempt as 'verb@gateway'."""
        return [f"{a['verb']}@{a['gateway']}" for a in self.journal.attempts(number)]

    def close(self) -> None:
        """Stop the outbox, close the journal and the gateways."""
        self.outbox.stop()
        self.journal.close()
        for gateway in self.gateways.values():
            gateway.close()
