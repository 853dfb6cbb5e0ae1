"""Pluggable parts by name: name → "module:Class", imported only when asked for."""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from kiosk.errors import KioskError

VALIDATORS: dict[str, str] = {
    "virtual": "kiosk.emulators.virtual_validator:VirtualValidator",
    "ccnet": "kiosk.drivers.ccnet:CcnetValidator",
    "cctalk": "kiosk.drivers.cctalk:CctalkValidator",
    "id003": "kiosk.drivers.id003:Id003Validator",
    "essp": "kiosk.drivers.essp:EsspValidator",
}
# Validators that speak a wire protocol and have a device emulator (`kiosk emulate validator --protocol`).
WIRE_VALIDATORS = ("ccnet", "cctalk", "id003", "essp")

GATEWAYS: dict[str, str] = {
    "virtual": "kiosk.emulators.virtual_gateway:VirtualGateway",
    "osmp": "kiosk.gateways.osmp:OsmpGateway",
    "cyberplat": "kiosk.gateways.cyberplat:CyberplatGateway",
    "json": "kiosk.gateways.jsonapi:JsonApiGateway",
}

PRINTERS: dict[str, str] = {
    "virtual": "kiosk.drivers.printer:FilePrinterLink",
}


def load(kind: str, table: Mapping[str, str], name: str) -> type:
    """Import and return the class registered under name, with a clear error for an unknown one."""
    try:
        target = table[name]
    except KeyError:
        known = ", ".join(sorted(table))
        raise KioskError(f"unknown {kind} {name!r}; known: {known}") from None
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise KioskError(f"{kind} {name!r} could not be loaded from {module_name}: {exc}") from exc
    return getattr(module, class_name)
