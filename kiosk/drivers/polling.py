"""The polling template for serial bill validators: one thread owns the port, protocols fill in a few hooks.

Host commands (enable, stack, …) are queued and run between polls, so a host may call them from inside its
event callback without deadlock. The thread notices a silent device (Disconnected after `silence_timeout`), a
vanished port (Disconnected at once) and recovers by itself: it reopens the port every `reconnect_interval` or
as soon as the hotplug watcher says the adapter is back, re-initialises the device and emits Ready.

A protocol (ccnet.py, cctalk.py, …) subclasses PollingValidator and writes `_initialise`, `_poll`,
`_send_acceptance` and `_send_decision`; everything else — threads, retries of the port, options — is here.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import abstractmethod
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from kiosk.drivers import hotplug
from kiosk.drivers.serial_port import PortLost, SerialPort
from kiosk.drivers.validator import BillValidator, Decision, Disconnected, EventSink, Ready
from kiosk.errors import DeviceError, DeviceInitializationError

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


def parse_options(protocol: str, given: Mapping[str, object], defaults: Mapping[str, object]) -> dict[str, Any]:
    """Options from config (strings, ints, bools) typed like their defaults; unknown names are an error."""
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise DeviceInitializationError(
            f"{protocol}: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(defaults))}")
    out = dict(defaults)
    for name, value in given.items():
        kind: type[Any] = type(defaults[name])
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


class PollingValidator(BillValidator):
    """A BillValidator polled over a serial port by one thread; protocols fill in the hooks."""

    protocol = ""
    DEFAULTS: dict[str, object] = {}

    def __init__(self, on_event: EventSink, port: str, options: Mapping[str, object]) -> None:
        super().__init__(on_event)
        self.port = port
        self.options = parse_options(self.protocol, options, {**COMMON_OPTIONS, **self.DEFAULTS})
        self._link = SerialPort(port, int(self.options["baudrate"]))
        self._commands: deque[tuple[str, Callable[[], None]]] = deque()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._watcher: hotplug.HotplugWatcher | None = None
        self._reinit = False  # the device reset itself (power cycle): initialise again, still online
        self._last_ok = 0.0
        self.counters: dict[str, int] = {}  # protocol fault counters, shown in status().extra

    # -- protocol hooks ---------------------------------------------------------------------------
    @abstractmethod
    def _initialise(self, first: bool) -> None:
        """Bring the device to a known, configured state (first: at start, else after a loss)."""

    @abstractmethod
    def _poll(self) -> None:
        """One poll and the events it yields."""

    @abstractmethod
    def _send_acceptance(self) -> None:
        """Program the device to accept the bill types in `self._types` (on the polling thread)."""

    @abstractmethod
    def _send_decision(self, decision: Decision) -> None:
        """Send stack, return or hold for the bill in escrow (on the polling thread)."""

    def _shutdown(self) -> None:
        """Best effort on stop: tell the device to accept nothing."""
        self._types = set()
        self._send_acceptance()

    # -- BillValidator hooks: queued for the polling thread ---------------------------------------
    def _apply_acceptance(self) -> None:
        self._queue("acceptance", self._send_acceptance)

    def _decide(self, decision: Decision) -> None:
        self._queue(decision, lambda: self._send_decision(decision))

    def _status_extra(self) -> dict[str, object]:
        return {"port": self.port, "protocol": self.protocol, **self.counters}

    # -- lifecycle --------------------------------------------------------------------------------
    def _open(self) -> None:
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
            self._watcher = hotplug.HotplugWatcher.try_start(self.port, self._on_hotplug)

    def _close(self) -> None:
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
            self.turned_at = time.monotonic()  # systemd's watchdog is fed only while this loop turns
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
