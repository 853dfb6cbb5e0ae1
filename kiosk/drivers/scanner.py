"""The 2D barcode scanner contract: a background reader that hands each scanned code to a callback or a queue.

Like python-can's BusABC, the base asks little of a backend: `_connect()`, `_disconnect()` and `_read(timeout)`
(codes read within the timeout; DeviceOperationError when the device is gone). The base runs the reader thread,
reconnects a vanished device every `reconnect_interval` (at once when the hotplug watcher says it is back), and
is a context manager whose close() may be called any number of times.
"""

from __future__ import annotations

import logging
import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Self

from kiosk.errors import DeviceError, DeviceOperationError

log = logging.getLogger(__name__)

# Suffix/prefix names a configuration may use instead of bytes.
AFFIXES = {"none": b"", "cr": b"\r", "lf": b"\n", "crlf": b"\r\n", "tab": b"\t", "etx": b"\x03", "stx": b"\x02"}
MAX_CODE_BYTES = 8192  # the largest QR holds under 3 kB; anything longer is line noise, not a code


def parse_affix(text: str | bytes) -> bytes:
    """A prefix/suffix from a name (cr, lf, crlf, tab, none, stx, etx), hex (0x0d0a) or bytes as they are."""
    if isinstance(text, bytes):
        return text
    lowered = text.strip().lower()
    if lowered in AFFIXES:
        return AFFIXES[lowered]
    if lowered.startswith("0x"):
        try:
            return bytes.fromhex(lowered[2:])
        except ValueError:
            pass
    raise ValueError(f"prefix/suffix {text!r}: expected one of {', '.join(AFFIXES)} or hex such as 0x0d0a")


class CodeFramer:
    """Cuts a scanner's byte stream into codes: by the suffix, or by a pause between bytes."""

    def __init__(self, prefix: bytes = b"", suffix: bytes = b"\r", gap: float = 0.05) -> None:
        self.prefix, self.suffix, self.gap = prefix, suffix, gap
        self._pending = bytearray()
        self._last_byte = 0.0

    def feed(self, data: bytes, now: float) -> list[bytes]:
        """Bytes that arrived at `now` (monotonic); the codes they complete."""
        codes = self.flush(now) if data else []
        self._pending += data
        if data:
            self._last_byte = now
        while self.suffix and (end := self._pending.find(self.suffix)) >= 0:
            codes.append(bytes(self._pending[:end]))
            del self._pending[:end + len(self.suffix)]
        if len(self._pending) > MAX_CODE_BYTES:
            log.warning("scanner: %d bytes without an end; dropped as noise", len(self._pending))
            self._pending.clear()
        return [code for code in map(self._strip, codes) if code]

    def flush(self, now: float) -> list[bytes]:
        """The pending code if the line has been quiet for `gap` seconds (a code without, or with a lost, suffix)."""
        if not self._pending or now - self._last_byte < self.gap:
            return []
        code = self._strip(bytes(self._pending))
        self._pending.clear()
        return [code] if code else []

    def reset(self) -> None:
        """Forget a half-received code (the device went away in the middle of it)."""
        self._pending.clear()

    def _strip(self, code: bytes) -> bytes:
        # A scanner sending CR LF to a host expecting CR leaves the LF in front of the next code.
        code = code.lstrip(b"\r\n")
        if self.prefix:
            start = code.find(self.prefix)
            if start < 0:
                log.warning("scanner: code without the configured prefix %r; dropped", self.prefix)
                return b""
            code = code[start + len(self.prefix):]
        return code


class Scanner(ABC):
    """A barcode scanner: scanned codes (bytes) go to `on_code` if given, else to the `codes` queue."""

    def __init__(self, on_code: Callable[[bytes], None] | None = None, reconnect_interval: float = 1.0,
                 name: str = "scanner") -> None:
        self.on_code = on_code
        self.reconnect_interval = reconnect_interval
        self.name = name
        self.codes: queue.Queue[bytes] = queue.Queue()
        self.connected = False
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @abstractmethod
    def _connect(self) -> None:
        """Open the device (DeviceInitializationError when it is not there)."""

    @abstractmethod
    def _disconnect(self) -> None:
        """Release the device; must not fail on a device that is already gone."""

    @abstractmethod
    def _read(self, timeout: float) -> list[bytes]:
        """Codes completed within timeout seconds (DeviceOperationError when the device vanished)."""

    def _started(self) -> None:
        """Hook for backends to start helpers (a hotplug watcher) once the reader runs."""
        return None

    def _stopped(self) -> None:
        """Hook for backends to stop their helpers."""
        return None

    def open(self) -> None:
        """Start reading in the background (idempotent); a missing device is retried, not an error."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"scanner-{self.name}", daemon=True)
        self._thread.start()
        self._started()

    def close(self) -> None:
        """Stop reading and release the device; safe to call again."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        self._wake.set()
        self._stopped()
        thread.join(5)

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get(self, timeout: float | None = None) -> bytes | None:
        """The next scanned code from the queue, or None after timeout seconds."""
        try:
            return self.codes.get(timeout=timeout)
        except queue.Empty:
            return None

    def wake(self) -> None:
        """Retry a lost device now (the hotplug watcher calls this when the device is back)."""
        self._wake.set()

    def _deliver(self, code: bytes) -> None:
        if self.on_code is None:
            self.codes.put(code)
            return
        try:
            self.on_code(code)
        except Exception:  # a failing consumer must not kill the reader; the next scan gets through
            log.exception("%s: the code handler failed", self.name)

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.connected:
                try:
                    self._connect()
                except DeviceError as exc:
                    log.debug("%s: not connected (%s)", self.name, exc)
                    self._wake.wait(self.reconnect_interval)
                    self._wake.clear()
                    continue
                self.connected = True
                log.info("%s: connected", self.name)
            try:
                for code in self._read(0.05):
                    self._deliver(code)
            except DeviceOperationError as exc:
                log.warning("%s: lost (%s); reconnecting", self.name, exc)
                self.connected = False
                self._disconnect()
        if self.connected:
            self.connected = False
        self._disconnect()
