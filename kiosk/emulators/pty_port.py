"""Pseudo-terminal plumbing for emulators: a pty pair and a thread that runs a device on it with line faults.

The emulator owns the master side; drivers open the slave tty path with pyserial exactly as they would open
/dev/ttyUSB0. An optional stable link path (a symlink) lets tests unplug the "adapter" (the pty disappears)
and plug it back (a new pty appears under the same name), as a USB-serial adapter does.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import threading
import time
import tty
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)

BITS_PER_BYTE = 10  # 8N1: start bit, eight data bits, stop bit


class PtyPort:
    """A raw pty pair: read()/write() on the master; `path` is what a driver opens."""

    def __init__(self, link: str | os.PathLike | None = None) -> None:
        self.link = os.fspath(link) if link else None
        self._master = -1
        self._slave = -1
        self.tty_path = ""
        self.open()

    @property
    def path(self) -> str:
        """The path a driver should open (the stable link if one was asked for)."""
        return self.link or self.tty_path

    @property
    def is_open(self) -> bool:
        """True while the pty exists."""
        return self._master >= 0

    def open(self) -> None:
        """Create the pty (again) and point the link at it."""
        if self.is_open:
            return
        master, slave = os.openpty()
        # Raw before any driver opens it: no echo, no line discipline translating bytes.
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self.tty_path = os.ttyname(slave)
        if self.link:
            tmp = f"{self.link}.new"
            if os.path.lexists(tmp):
                os.unlink(tmp)
            os.symlink(self.tty_path, tmp)
            os.replace(tmp, self.link)

    def close(self) -> None:
        """Make the pty disappear (the driver's reads fail as on an unplugged adapter)."""
        if self.link and os.path.lexists(self.link):
            os.unlink(self.link)
        for fd in (self._slave, self._master):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1

    def read(self, timeout: float) -> bytes:
        """Bytes the driver sent, waiting up to timeout; b'' if none."""
        if not self.is_open:
            time.sleep(timeout)
            return b""
        ready, _, _ = select.select([self._master], [], [], timeout)
        if not ready:
            return b""
        try:
            return os.read(self._master, 4096)
        except BlockingIOError:
            return b""
        except OSError as exc:
            if exc.errno == errno.EIO:
                return b""
            raise

    def write(self, data: bytes) -> None:
        """Send bytes to the driver."""
        view = memoryview(data)
        while view and self.is_open:
            try:
                sent = os.write(self._master, view)
            except BlockingIOError:
                select.select([], [self._master], [], 0.05)
                continue
            view = view[sent:]


class WireHandler(Protocol):
    """A device's protocol side: bytes in → replies out, plus time passing."""

    def receive(self, data: bytes) -> list[bytes]:
        """Bytes arrived from the host; return the replies to send."""

    def tick(self) -> None:
        """Let time-driven device behaviour advance."""


class WireDevice:
    """Runs a handler on a pty in a thread, with switchable line faults (silent, drop, corrupt, delay, echo)."""

    def __init__(self, handler: WireHandler, lock: threading.RLock, link: str | None = None,
                 tick_seconds: float = 0.01) -> None:
        self.handler = handler
        self.lock = lock
        self.port = PtyPort(link)
        self.tick_seconds = tick_seconds
        self.silent = False
        self.echo = False
        self.delay = 0.0
        self.drop_incoming = 0
        self.corrupt_next = False
        self.on_wire: Callable[[str, bytes], None] | None = None  # ("rx"|"tx", bytes) for tests and benches
        # A pty moves bytes at memory speed; with a baud rate set, the wire takes as long as a real 8N1 line:
        # a request is acted on once its last byte would have arrived, a reply goes out byte by byte.
        self.baud: int | None = None
        self.bits_per_byte = BITS_PER_BYTE  # 11 for ID003's 8E1 and SSP's 8N2
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._requests: list[tuple[Callable[[], None], threading.Event]] = []

    @property
    def path(self) -> str:
        """What a driver opens."""
        return self.port.path

    def start(self) -> None:
        """Start serving the wire."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="emulator-wire", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and remove the pty."""
        self._stop.set()
        if self._thread:
            self._thread.join(5)
            self._thread = None
        self.port.close()

    def unplug(self) -> None:
        """The adapter disappears."""
        self._in_wire_thread(self.port.close)

    def replug(self) -> None:
        """The adapter comes back (a new pty under the same link)."""
        self._in_wire_thread(self.port.open)

    def _in_wire_thread(self, action: Callable[[], None]) -> None:
        # Only the wire thread touches the fds, so a close never races a select on a reused fd number.
        if not (self._thread and self._thread.is_alive()):
            action()
            return
        done = threading.Event()
        self._requests.append((action, done))
        done.wait(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            while self._requests:
                action, done = self._requests.pop(0)
                action()
                done.set()
            data = self.port.read(self.tick_seconds)
            if data and self.baud:
                time.sleep(len(data) * self.bits_per_byte / self.baud)  # until the request's last byte is in
            with self.lock:
                replies = self._take(data) if data else []
                self.handler.tick()
            for reply in replies:
                self._send(reply)

    def _take(self, data: bytes) -> list[bytes]:
        if self.drop_incoming:
            cut = min(self.drop_incoming, len(data))
            self.drop_incoming -= cut
            data = data[cut:]
        if not data:
            return []
        if self.echo:
            # A shared ccTalk data line: the host hears its own bytes first.
            self.port.write(data)
        if self.on_wire:
            self.on_wire("rx", data)
        if self.silent:
            return []  # the device is dead to the world: it neither acts on nor answers anything
        return self.handler.receive(data)

    def _send(self, reply: bytes) -> None:
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            if self.corrupt_next:
                self.corrupt_next = False
                reply = reply[:-1] + bytes((reply[-1] ^ 0x5A,))
            if self.on_wire:
                self.on_wire("tx", reply)
        try:
            if self.baud:
                self._send_paced(reply, self.baud)
            else:
                with self.lock:
                    self.port.write(reply)
        except OSError as exc:  # the driver side went away mid-write; a real wire just loses the bytes
            log.debug("emulator write failed: %s", exc)

    def _send_paced(self, reply: bytes, baud: int) -> None:
        start, byte_time = time.monotonic(), self.bits_per_byte / baud
        for index in range(len(reply)):
            due = start + (index + 1) * byte_time  # the moment this byte's stop bit ends
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            with self.lock:
                self.port.write(reply[index:index + 1])
