"""Shared serial plumbing for polled devices: typed options, a pyserial link, and the polling thread.

The thread owns the port: host commands (enable, stack, …) are queued and run between polls, so a host may
call them from inside its event callback without deadlock. The thread notices a silent device (Disconnected
after `silence_timeout`), a vanished port (Disconnected at once) and recovers by itself: it reopens the port
every `reconnect_interval` or as soon as the hotplug watcher says the adapter is back, re-initialises the
device and emits Ready.
"""

from __future__ import annotations

import errno
import logging
import select
import termios
import threading
import time
from abc import abstractmethod
from collections import deque
from collections.abc import Callable, Mapping

import serial

from kiosk.drivers.validator import (
    Bill,
    BillValidator,
    Disconnected,
    EventSink,
    Identity,
    Ready,
    ValidatorStatus,
)
from kiosk.errors import DeviceError, DeviceInitializationError, DeviceOperationError

log = logging.getLogger(__name__)

COMMON_OPTIONS: dict[str, object] = {
    "baudrate": 9600,
    "poll_interval": 0.1,
    "response_timeout": 0.2,
    "retries": 3,
    "silence_timeout": 5.0,
    "reconnect_interval": 1.0,
    "hotplug": True,
}


# termios.error is not an OSError; pyserial lets it through from tcflush on a vanished pty/adapter.
PORT_ERRORS = (serial.SerialException, OSError, termios.error, ValueError)


class PortLost(DeviceOperationError):
    """The serial port itself failed (adapter unplugged, I/O error): reopen it."""


def parse_options(protocol: str, given: Mapping[str, object], defaults: Mapping[str, object]) -> dict:
    """Options from config (strings, ints, bools) typed like their defaults; unknown names are an error."""
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise DeviceInitializationError(
            f"{protocol}: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(defaults))}")
    out = dict(defaults)
    for name, value in given.items():
        kind = type(defaults[name])
        try:
            if kind is bool and isinstance(value, str):
                if value.strip().lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                    raise ValueError(value)
                out[name] = value.strip().lower() in ("1", "true", "yes", "on")
            elif kind is int and isinstance(value, str):
                out[name] = int(value, 0)  # addresses are often written 0x28
            else:
                out[name] = kind(value)
        except (TypeError, ValueError) as exc:
            raise DeviceInitializationError(
                f"{protocol}: option {name}={value!r} is not a valid {kind.__name__}") from exc
    return out


class SerialLink:
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
        """Close, ignoring errors from a port that is already gone."""
        port, self._serial = self._serial, None
        if port is not None:
            try:
                port.close()
            except PORT_ERRORS:
                pass

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
            data = port.read(max(1, port.in_waiting))
        except PORT_ERRORS as exc:
            raise PortLost(f"{self.port}: read failed: {exc}") from exc
        return data


class PollingValidator(BillValidator):
    """A BillValidator polled over a serial link by one thread; protocols fill in the hooks."""

    protocol = ""
    DEFAULTS: dict[str, object] = {}

    def __init__(self, on_event: EventSink, port: str, options: Mapping[str, object]) -> None:
        super().__init__(on_event)
        self.port = port
        self.options = parse_options(self.protocol, options, {**COMMON_OPTIONS, **self.DEFAULTS})
        self._link = SerialLink(port, int(self.options["baudrate"]))
        self._commands: deque[tuple[str, Callable[[], None]]] = deque()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._watcher = None
        self.online = False
        self._reinit = False  # the device reset itself (power cycle): initialise again, still online
        self._last_ok = 0.0
        self._state = "stopped"
        self._detail = ""
        self._identity = Identity(self.protocol)  # filled in by _initialise
        self._bills: dict[int, Bill] = {}  # bill type → bill, read from the device by _initialise

    # -- what the host can read -------------------------------------------------------------------
    def identity(self) -> Identity:
        """Model, serial and firmware as read at initialisation."""
        return self._identity

    def bill_table(self) -> list[Bill]:
        """The bills this unit knows, values in kopecks."""
        return sorted(self._bills.values(), key=lambda b: b.bill_type)

    # -- hooks ------------------------------------------------------------------------------------
    @abstractmethod
    def _initialise(self, first: bool) -> None:
        """Bring the device to a known, configured state (first: at start, else after a loss)."""

    @abstractmethod
    def _poll(self) -> None:
        """One poll and the events it yields."""

    def _shutdown(self) -> None:
        """Best effort on stop: tell the device to accept nothing."""

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        """Open, reset and initialise the device, then start polling."""
        if self._thread:
            return
        self._stopping = False
        try:
            self._link.open()
            self._initialise(first=True)
        except DeviceInitializationError:
            self._link.close()
            raise
        except DeviceError as exc:
            self._link.close()
            raise DeviceInitializationError(f"{self.protocol} validator on {self.port}: {exc}") from exc
        self._set_online()
        self._thread = threading.Thread(target=self._run, name=f"{self.protocol}-poll", daemon=True)
        self._thread.start()
        if self.options["hotplug"]:
            from kiosk.drivers.hotplug import HotplugWatcher

            self._watcher = HotplugWatcher.try_start(self.port, self._on_hotplug)

    def stop(self) -> None:
        """Disable acceptance, stop polling and close the port."""
        self._stopping = True
        self._wake.set()
        if self._watcher:
            self._watcher.stop()
            self._watcher = None
        if self._thread:
            self._thread.join(10)
            self._thread = None
        self._link.close()
        self.online = False
        self._state = "stopped"

    def _on_hotplug(self, action: str) -> None:
        log.info("%s: hotplug %s", self.port, action)
        self._wake.set()

    def _queue(self, name: str, action: Callable[[], None]) -> None:
        self._commands.append((name, action))
        self._wake.set()

    def _sleep(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

    def _set_online(self) -> None:
        self.online, self._last_ok, self._detail = True, time.monotonic(), ""
        self.emit(Ready())

    def _set_offline(self, detail: str) -> None:
        self._detail = detail
        if self.online:
            self.online = False
            log.error("%s validator on %s lost: %s", self.protocol, self.port, detail)
            self.emit(Disconnected(detail))

    # -- the polling thread -----------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopping:
            if not self._link.is_open:
                self._reconnect()
                continue
            try:
                if self.online and not self._reinit:
                    while self._commands and not self._stopping:
                        name, action = self._commands.popleft()
                        self._run_command(name, action)
                    self._poll()
                    self._last_ok = time.monotonic()
                else:
                    self._initialise(first=False)
                    self._reinit = False
                    self._set_online()
            except PortLost as exc:
                self._link.close()
                self._set_offline(f"port lost: {exc}")
                continue
            except Exception as exc:  # noqa: BLE001 - a dead poll thread would hide every later bill
                if not isinstance(exc, DeviceError):
                    log.exception("%s: unexpected error in the polling thread; reopening the port", self.port)
                    self._link.close()
                    self._set_offline(f"internal error: {exc!r}")
                    self._sleep(float(self.options["reconnect_interval"]))
                    continue
                silent_for = time.monotonic() - self._last_ok
                if self.online and silent_for >= float(self.options["silence_timeout"]):
                    self._set_offline(f"no valid answer for {silent_for:.1f} s: {exc}")
                elif not self.online:
                    self._detail = str(exc)
            self._sleep(float(self.options["poll_interval"]))
        if self._link.is_open and self.online:
            try:
                self._shutdown()
            except DeviceError as exc:
                log.warning("%s: could not disable on stop: %s", self.port, exc)

    def _run_command(self, name: str, action: Callable[[], None]) -> None:
        try:
            action()
        except PortLost:
            raise
        except DeviceError as exc:
            # The device keeps the bill where it was; its own next state tells the host what happened.
            log.error("%s: %s failed: %s", self.port, name, exc)

    def _reconnect(self) -> None:
        try:
            self._link.open()
        except DeviceInitializationError as exc:
            self._detail = str(exc)
            self._sleep(float(self.options["reconnect_interval"]))
            return
        log.info("%s reopened; re-initialising", self.port)

    # -- shared status ----------------------------------------------------------------------------
    def _status(self, enabled: bool, extra: dict) -> ValidatorStatus:
        return ValidatorStatus(online=self.online, enabled=enabled, state=self._state, detail=self._detail,
                               extra={"port": self.port, **extra})


def wait_reply(deadline: float, link: SerialLink, feed: Callable[[bytes], object | None]) -> object | None:
    """Read until feed() returns something or the deadline passes."""
    while True:
        chunk = link.read(deadline)
        if not chunk:
            return None
        found = feed(chunk)
        if found is not None:
            return found
