"""What `devices probe` can tell about a 2D barcode scanner on a port that no bill validator answers on.

A scanner never answers anything: it only speaks when it reads a code. So probe can know it in two ways only:
udev says so (the USB vendor/model of the adapter names a scanner maker or "barcode"/"scanner"), or bytes
arrive unasked while probe listens (`--listen SECONDS`: scan any code meanwhile). Bill validators on these
protocols never send unasked, so unsolicited data means a scanner (or line noise: the sample is shown).
A silent port without udev hints may still be a scanner; probe cannot know, and says so.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping

from kiosk.drivers.serial_port import SerialPort
from kiosk.errors import DeviceError

log = logging.getLogger(__name__)

# Words in udev's ID_VENDOR / ID_MODEL of common 2D scanners (USB-CDC and USB-serial).
SCANNER_WORDS = re.compile(r"scan|barcode|bar_code|imager|honeywell|metrologic|zebra|symbol|datalogic|newland|"
                           r"mindeo|cino|opticon|unitech|argox|atol|mertech|sunlux|youjie|netum|eyoyo", re.I)
NOTE = ("a 2D barcode scanner is silent until it scans: udev does not name one here; run probe with "
        "--listen SECONDS and scan a code meanwhile, or configure the scanner port explicitly")


def udev_properties(port: str) -> Mapping[str, str]:
    """udev's properties of the port's device ({} where udev or the device is unavailable)."""
    try:
        import pyudev

        device = pyudev.Devices.from_device_file(pyudev.Context(), port)
        return dict(device.properties)
    except Exception as exc:  # no udev in containers; pyudev raises assorted errors for a pty
        log.debug("udev knows nothing of %s (%s)", port, exc)
        return {}


def from_udev(properties: Mapping[str, str]) -> dict | None:
    """A scanner finding if udev's vendor/model names one."""
    vendor, model = properties.get("ID_VENDOR", ""), properties.get("ID_MODEL", "")
    if not SCANNER_WORDS.search(f"{vendor} {model}"):
        return None
    return {"protocol": "scanner", "identified_by": "udev",
            "identity": {"vendor": vendor, "model": model,
                         "usb_id": f"{properties.get('ID_VENDOR_ID', '')}:{properties.get('ID_MODEL_ID', '')}"}}


def listen(port: str, seconds: float, baudrate: int = 9600) -> bytes:
    """Whatever arrives unasked on the port within seconds."""
    received = bytearray()
    deadline = time.monotonic() + seconds
    with SerialPort(port, baudrate) as link:
        while time.monotonic() < deadline:
            received += link.read(deadline)
    return bytes(received)


def identify(port: str, listen_seconds: float = 0.0) -> dict | None:
    """A scanner finding for a port no validator answered on, or None (then NOTE says why probe cannot know)."""
    found = from_udev(udev_properties(port))
    if found or listen_seconds <= 0:
        return found
    try:
        data = listen(port, listen_seconds)
    except DeviceError as exc:
        log.info("cannot listen on %s: %s", port, exc)
        return None
    if not data:
        return None
    return {"protocol": "scanner", "identified_by": "unsolicited data while listening",
            "sample": data[:48].decode("latin-1").encode("unicode_escape").decode("ascii")}
