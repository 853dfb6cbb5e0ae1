"""The one registry of pluggable parts: name → "module:Class", imported only when asked for.

Like python-can's BACKENDS: configuration names a part (`driver = "ccnet"`, `protocol = "osmp"`,
`link = "serial"`), `load` imports its module on first use; a new part is one line in its table. Only product
modules are named here: emulators are never reachable from a configuration.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from kiosk.errors import KioskError

VALIDATORS: dict[str, str] = {
    "virtual": "kiosk.drivers.virtual:VirtualValidator",
    "ccnet": "kiosk.drivers.ccnet:CcnetValidator",
    "cctalk": "kiosk.drivers.cctalk:CctalkValidator",
    "id003": "kiosk.drivers.id003:Id003Validator",
    "essp": "kiosk.drivers.essp:EsspValidator",
}
# Validators that speak a wire protocol and have a device emulator (`kiosk emulate validator --protocol`).
WIRE_VALIDATORS = ("ccnet", "cctalk", "id003", "essp")

GATEWAYS: dict[str, str] = {
    "virtual": "kiosk.gateways.virtual:VirtualGateway",
    "osmp": "kiosk.gateways.osmp:OsmpGateway",
    "cyberplat": "kiosk.gateways.cyberplat:CyberplatGateway",
    "json": "kiosk.gateways.jsonapi:JsonApiGateway",
}

PRINTER_LINKS: dict[str, str] = {
    "serial": "kiosk.drivers.printer_links:SerialLink",
    "network": "kiosk.drivers.printer_links:NetworkLink",
    "usb": "kiosk.drivers.printer_links:UsbLink",
    "file": "kiosk.drivers.printer_links:FileLink",
    "virtual": "kiosk.drivers.printer_links:FileLink",  # the name early configurations used for "file"
}
# Fiscal registrars (54-FZ), `[devices.printer] link = "fiscal"`, chosen by `model` (kiosk/fiscal/wiring.py).
FISCAL_REGISTRARS: dict[str, str] = {
    "shtrih": "kiosk.drivers.shtrih:ShtrihRegistrar",
}
# 2D barcode scanners (utility bills' GOST R 56042 codes): serial/USB-CDC, or HID keyboard-wedge via evdev.
SCANNERS: dict[str, str] = {
    "serial": "kiosk.drivers.scanner_serial:SerialScanner",
    "hid": "kiosk.drivers.scanner_hid:HidScanner",
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
    found = getattr(module, class_name, None)
    if not isinstance(found, type):
        raise KioskError(f"{kind} {name!r}: {module_name} has no class {class_name}")
    return found
