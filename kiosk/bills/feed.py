"""The configured 2D barcode scanner feeding the payment session: each code read becomes a ScanCode event.

[devices.scanner] in the terminal configuration names the driver (kiosk.registry SCANNERS: serial or hid) and
its options, e.g. `driver = "serial"`, `port = "/dev/ttyACM0"`, `suffix = "cr"`; or `driver = "hid"`,
`device = "/dev/input/by-id/usb-…-event-kbd"`. No table: no scanner (bills are typed by hand).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kiosk.config import Part
from kiosk.drivers.scanner import Scanner
from kiosk.events import ScanCode
from kiosk.registry import SCANNERS, load

log = logging.getLogger(__name__)


def open_scanner(part: Part, post: Callable[[Any], None]) -> Scanner:
    """Start the configured scanner in the background; each code read is posted to the session's queue."""
    cls = load("scanner driver", SCANNERS, part.kind)

    def scanned(code: bytes) -> None:
        log.info("scanner: a code of %d bytes", len(code))  # its content is the payer's: never logged
        post(ScanCode(bytes(code)))

    scanner: Scanner = cls(on_code=scanned, **dict(part.options))
    scanner.open()
    return scanner
