"""What the fault-schedule tests share: two real emulators, gateways whose connections can be switched off,
and the provider profiles (kiosk.gateways.profiles) each schedule is run against."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from kiosk.catalog import Provider
from kiosk.emulators.processing.jsonapi import JsonApiEmulator
from kiosk.emulators.processing.osmp import OsmpEmulator
from kiosk.fees import NoFee
from kiosk.gateways.base import Gateway, Route
from kiosk.gateways.jsonapi import JsonApiGateway
from kiosk.gateways.osmp import OsmpGateway
from kiosk.money import Money

FAULTS = ["drop-before-booking", "drop-after-booking", "http-500", "http-503", "malformed", "billion-laughs",
          "external-entity", "bad-signature", "html-page", "blank-line", "cp1251"]
# every way a real OSMP provider answers a repeated pay, played by the emulator and declared to the adapter
PROFILES = ["osmp", "osmp-status", "ubilling", "abills-old", "rebooking"]
PROVIDER = Provider(id="mts", name={"en": "MTS"}, category="mobile", inn="7740000076", phone="", logo="",
                    fields=(), min_amount=Money(100), max_amount=Money(1_500_000), fee=NoFee(), offline=True,
                    online_check=True, routes=(Route("main", "1"), Route("backup", "1")))
Servers = dict[str, OsmpEmulator | JsonApiEmulator]


class Switch(httpx.BaseTransport):
    """A real HTTP transport that can be switched off: then every connection is refused before sending."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.down = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused (switched off)", request=request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@contextmanager
def running_servers(servers: Servers, secret: str) -> Iterator[None]:
    """OSMP as "main" and the JSON API as "backup", on loopback, for one test module."""
    servers["main"] = OsmpEmulator()
    servers["backup"] = JsonApiEmulator(secret=secret)
    for server in servers.values():
        server.start()
    try:
        yield
    finally:
        for server in servers.values():
            server.stop()
        servers.clear()


def switched_gateways(servers: Servers, secret: str,
                      profile: str = "osmp") -> tuple[dict[str, Switch], dict[str, Gateway]]:
    """Fresh emulator state and the two adapters over switchable transports, with a quick circuit breaker;
    the OSMP emulator plays `profile` and the OSMP adapter is told so."""
    for server in servers.values():
        server.control("reset")
    assert servers["main"].control(f"profile {profile}").startswith("ok")
    switches = {"main": Switch(), "backup": Switch()}
    options = {"timeout": 2, "breaker_failures": 3, "breaker_reset_seconds": 2, "balance_ttl_seconds": 0}
    gateways: dict[str, Gateway] = {
        "main": OsmpGateway("main", {**options, "url": servers["main"].base_url + "/osmp", "profile": profile},
                            transport=switches["main"]),
        "backup": JsonApiGateway("backup", {**options, "url": servers["backup"].base_url, "key_id": "demo",
                                            "hmac_secret": secret}, transport=switches["backup"]),
    }
    return switches, gateways


def heal(servers: Servers, switches: dict[str, Switch]) -> None:
    """Every fault cleared and every connection back: what 'the gateways recover' means here."""
    for server in servers.values():
        server.faults.clear()
    for switch in switches.values():
        switch.down = False


def osmp_bookings(server: OsmpEmulator | JsonApiEmulator, txn: int) -> int:
    """How many times the OSMP emulator booked one txn_id (a re-booking provider books repeats as txn:N#k)."""
    key = f"txn:{txn}"
    with server.ledger.lock:
        return sum(1 for k, b in server.ledger.bookings.items()
                   if (k == key or k.startswith(key + "#")) and not b.cancelled)
