"""Printer links: thin wrappers over python-escpos connection classes, adding timed reads for status."""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Self

from kiosk.errors import DeviceInitializationError, DeviceOperationError

log = logging.getLogger(__name__)


# -- links ----------------------------------------------------------------------------------------------
class PrinterLink(ABC):
    """Bytes to (and, on two-way links, from) a printer, through a python-escpos connection.

    A subclass says how to make the connection (`_make`) and how to read with a timeout (`_read`); the link
    is a context manager and `close()` is idempotent.
    """

    two_way: bool = True

    def __init__(self, timeout: float = 2.0) -> None:
        self.timeout = float(timeout)
        self._device: Any = None

    @abstractmethod
    def _make(self) -> Any:
        """Create the python-escpos connection object."""

    def open(self) -> None:
        """Connect; DeviceInitializationError if the printer is not there."""
        if self._device is not None:
            return
        device = self._make()
        try:
            device.open()
        except Exception as exc:  # python-escpos raises its own tree plus OSError/serial/usb errors
            raise DeviceInitializationError(f"printer {self.describe()}: cannot open: {exc}") from exc
        self._device = device

    def close(self) -> None:
        """Disconnect (idempotent)."""
        device, self._device = self._device, None
        if device is not None:
            try:
                device.close()
            except Exception as exc:  # closing a dead link must not hide the fault that killed it
                log.debug("closing printer %s: %s", self.describe(), exc)

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def write(self, data: bytes) -> None:
        """Send bytes; DeviceOperationError if the link fails (the link is closed for a fresh retry)."""
        self.open()
        try:
            self._device._raw(data)
        except Exception as exc:
            self.close()
            raise DeviceOperationError(f"printer {self.describe()}: write failed: {exc}") from exc

    def query(self, command: bytes, valid: Callable[[int], bool], timeout: float) -> int | None:
        """Send a status command and return the first reply byte that fits `valid`, or None on timeout."""
        if not self.two_way:
            return None
        self.open()
        self._drain()
        self.write(command)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                chunk = self._read(left)
            except Exception as exc:
                self.close()
                raise DeviceOperationError(f"printer {self.describe()}: read failed: {exc}") from exc
            for byte in chunk:
                if valid(byte):
                    return byte
        return None

    def _drain(self) -> None:
        # A late answer to an earlier query must not be taken for the answer to this one.
        while self._read(0.0):
            pass

    @abstractmethod
    def _read(self, timeout: float) -> bytes:
        """Whatever bytes arrive within timeout (b'' if none)."""

    def describe(self) -> str:
        """Where the printer is, for messages."""
        return type(self).__name__


class SerialLink(PrinterLink):
    """RS-232 / USB-serial / pty, two-way."""

    def __init__(self, port: str, baudrate: int = 115200, timeout: float = 2.0, rtscts: bool = False) -> None:
        super().__init__(timeout)
        self.port, self.baudrate, self.rtscts = port, int(baudrate), bool(rtscts)

    def _make(self) -> Any:
        from escpos.printer import Serial

        # dsrdtr=False: kiosk printers rarely wire DSR, and a pty has no modem lines at all.
        return Serial(devfile=self.port, baudrate=self.baudrate, timeout=self.timeout, dsrdtr=False,
                      xonxoff=False)

    def _read(self, timeout: float) -> bytes:
        serial_port = self._device.device
        serial_port.timeout = timeout
        # read(16) would wait for all 16 bytes; a status answer is one.
        first = serial_port.read(1)
        return first + serial_port.read(serial_port.in_waiting) if first else b""

    def describe(self) -> str:
        return f"serial:{self.port}"


class NetworkLink(PrinterLink):
    """Raw TCP (port 9100); most network printers answer status queries on the same connection."""

    def __init__(self, host: str, port: int = 9100, timeout: float = 5.0, two_way: bool = True) -> None:
        super().__init__(timeout)
        self.host, self.port, self.two_way = host, int(port), bool(two_way)

    def _make(self) -> Any:
        from escpos.printer import Network

        return Network(host=self.host, port=self.port, timeout=self.timeout)

    def _read(self, timeout: float) -> bytes:
        sock = self._device.device
        sock.settimeout(timeout if timeout > 0 else 0.0)
        try:
            data = sock.recv(16)
        except (TimeoutError, BlockingIOError):
            return b""
        finally:
            sock.settimeout(self.timeout)
        if not data:
            raise ConnectionError("printer closed the connection")
        return data

    def describe(self) -> str:
        return f"tcp:{self.host}:{self.port}"


class UsbLink(PrinterLink):
    """USB printer class device through pyusb (needs the pyusb package and device permissions)."""

    def __init__(self, vendor_id: int, product_id: int, timeout: float = 2.0, two_way: bool = True) -> None:
        super().__init__(timeout)
        self.vendor_id, self.product_id, self.two_way = int(vendor_id), int(product_id), bool(two_way)

    def _make(self) -> Any:
        from escpos.printer import Usb

        return Usb(idVendor=self.vendor_id, idProduct=self.product_id, timeout=int(self.timeout * 1000))

    def _read(self, timeout: float) -> bytes:
        import usb.core  # pyusb, present whenever a Usb link could be opened

        try:
            return bytes(self._device.device.read(self._device.in_ep, 16, max(int(timeout * 1000), 1)))
        except usb.core.USBTimeoutError:
            return b""

    def describe(self) -> str:
        return f"usb:{self.vendor_id:04x}:{self.product_id:04x}"


class FileLink(PrinterLink):
    """A device or plain file (/dev/usb/lp0, a spool file): one-way, status unknown."""

    two_way = False

    def __init__(self, path: str, timeout: float = 2.0) -> None:
        super().__init__(timeout)
        self.path = path

    def _make(self) -> Any:
        from escpos.printer import File

        return File(devfile=self.path)

    def _read(self, timeout: float) -> bytes:
        return b""

    def describe(self) -> str:
        return f"file:{self.path}"

