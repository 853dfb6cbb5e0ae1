"""The byte transport under polled serial devices: a pyserial port that reports every failure as PortLost."""

from __future__ import annotations

import errno
import logging
import select
import termios
import time
from collections.abc import Callable
from typing import TypeVar

import serial

from kiosk.errors import DeviceInitializationError, DeviceOperationError

log = logging.getLogger(__name__)

# termios.error is not an OSError; pyserial lets it through from tcflush on a vanished pty/adapter.
PORT_ERRORS = (serial.SerialException, OSError, termios.error, ValueError)

Reply = TypeVar("Reply")


class PortLost(DeviceOperationError):
    """The serial port itself failed (adapter unplugged, I/O error): reopen it."""


class SerialPort:
    """A pyserial port that reports every failure as PortLost and reads up to a deadline."""

    def __init__(self, port: str, baudrate: int, parity: str = serial.PARITY_NONE,
                 stopbits: float = serial.STOPBITS_ONE) -> None:
        self.port, self.baudrate = port, baudrate
        self.parity, self.stopbits = parity, stopbits  # ID003 wants 8E1, SSP 8N2; CCNET and ccTalk 8N1
        self._serial: serial.Serial | None = None

    @property
    def is_open(self) -> bool:
        """True while the port is open."""
        return self._serial is not None

    def open(self) -> None:
        """Open at the configured speed and line format; DeviceInitializationError if the port is not there."""
        try:
            try:
                self._serial = serial.Serial(self.port, self.baudrate, parity=self.parity, stopbits=self.stopbits,
                                             timeout=0, write_timeout=1, exclusive=True)
            except termios.error as exc:
                if self.parity == serial.PARITY_NONE or exc.args[0] != errno.EINVAL:
                    raise
                # A pseudo-terminal has no parity to set (Linux refuses it once set before); no UART does that.
                log.info("%s refuses parity %s; opening it without parity", self.port, self.parity)
                self._serial = serial.Serial(self.port, self.baudrate, stopbits=self.stopbits, timeout=0,
                                             write_timeout=1, exclusive=True)
        except PORT_ERRORS as exc:
            raise DeviceInitializationError(f"cannot open {self.port}: {exc}") from exc

    def close(self) -> None:
        """Close, ignoring errors from a port that is already gone (idempotent)."""
        port, self._serial = self._serial, None
        if port is not None:
            try:
                port.close()
            except PORT_ERRORS:
                pass

    def __enter__(self) -> SerialPort:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _port(self) -> serial.Serial:
        if self._serial is None:
            raise PortLost(f"{self.port} is not open")
        return self._serial

    def write(self, data: bytes) -> None:
        """Send bytes."""
        try:
            self._port().write(data)
        except PORT_ERRORS as exc:
            raise PortLost(f"{self.port}: write failed: {exc}") from exc

    def discard_input(self) -> None:
        """Drop stale bytes (a late reply to an earlier command)."""
        try:
            self._port().reset_input_buffer()
        except PORT_ERRORS as exc:
            raise PortLost(f"{self.port}: {exc}") from exc

    def read(self, deadline: float) -> bytes:
        """Whatever arrives before the deadline (monotonic); b'' once it passes."""
        port = self._port()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return b""
        try:
            # select instead of pyserial's timeout setter, which re-programs termios on every change
            ready, _, _ = select.select([port.fileno()], [], [], remaining)
            if not ready:
                return b""
            data: bytes = port.read(max(1, port.in_waiting))
        except PORT_ERRORS as exc:
            raise PortLost(f"{self.port}: read failed: {exc}") from exc
        return data


def wait_reply(deadline: float, port: SerialPort, feed: Callable[[bytes], Reply]) -> Reply | None:
    """Read until feed() returns something or the deadline passes."""
    while True:
        chunk = port.read(deadline)
        if not chunk:
            return None
        found = feed(chunk)
        if found is not None:
            return found
