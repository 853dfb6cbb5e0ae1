"""Serial and USB-CDC (virtual COM) 2D barcode scanners: codes framed by a suffix or a pause between bytes."""

from __future__ import annotations

import time
from collections.abc import Callable

from kiosk.drivers.hotplug import HotplugWatcher
from kiosk.drivers.scanner import CodeFramer, Scanner, parse_affix
from kiosk.drivers.serial_port import SerialPort


class SerialScanner(Scanner):
    """A scanner on a serial port: prefix and suffix as configured; a quiet gap also ends a code."""

    def __init__(self, port: str, baudrate: int = 9600, prefix: str | bytes = "none", suffix: str | bytes = "cr",
                 gap: float = 0.05, on_code: Callable[[bytes], None] | None = None,
                 reconnect_interval: float = 1.0, hotplug: bool = True) -> None:
        super().__init__(on_code, reconnect_interval, name=port)
        self.port = port
        self.framer = CodeFramer(parse_affix(prefix), parse_affix(suffix), gap)
        self._link = SerialPort(port, baudrate)
        self._use_hotplug = hotplug
        self._watcher: HotplugWatcher | None = None

    def _connect(self) -> None:
        self._link.open()
        self._link.discard_input()  # half a code from before the port was ours is not a scan

    def _disconnect(self) -> None:
        self._link.close()
        self.framer.reset()  # a code cut by the unplug is dropped, never joined to the next one

    def _read(self, timeout: float) -> list[bytes]:
        data = self._link.read(time.monotonic() + timeout)
        return self.framer.feed(data, time.monotonic()) if data else self.framer.flush(time.monotonic())

    def _started(self) -> None:
        if self._use_hotplug:
            self._watcher = HotplugWatcher.try_start(self.port, lambda action: self.wake())

    def _stopped(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.stop()
