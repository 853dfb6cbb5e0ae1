"""Helpers for validator driver and emulator tests: event collection, waiting, leak checks."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `pytest` without an installed kiosk
    sys.path.insert(0, str(ROOT))


class Events:
    """Collects driver events; tests wait for kinds of events with a timeout."""

    def __init__(self) -> None:
        self.items: list = []
        self._cond = threading.Condition()
        self.on_escrow = None  # called with the event from the driver thread, like a host would

    def __call__(self, event) -> None:
        with self._cond:
            self.items.append(event)
            self._cond.notify_all()
        if self.on_escrow and type(event).__name__ == "Escrow":
            self.on_escrow(event)

    def of(self, kind) -> list:
        with self._cond:
            return [e for e in self.items if isinstance(e, kind)]

    def wait_for(self, kind, count: int = 1, timeout: float = 5.0) -> list:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [e for e in self.items if isinstance(e, kind)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {count}× {kind.__name__} within {timeout} s; got {self.items}")
                self._cond.wait(left)


def wait_until(predicate, timeout: float = 5.0, what: str = "condition") -> None:
    """Poll predicate until true or fail."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))



def check_leaks(threads_before: set, fds_before: set[str]) -> None:
    """Fail if threads or file descriptors opened since the snapshot are still around (after a grace)."""
    deadline = time.monotonic() + 3
    while True:
        extra = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
        leaked_fds = {fd for fd in fds() - fds_before if os.path.exists(f"/proc/self/fd/{fd}")}
        if not extra and not leaked_fds:
            return
        if time.monotonic() > deadline:
            targets = {fd: os.readlink(f"/proc/self/fd/{fd}") for fd in leaked_fds
                       if os.path.exists(f"/proc/self/fd/{fd}")}
            raise AssertionError(f"leaked threads {extra} / fds {targets}")
        time.sleep(0.02)


FAST = {"poll_interval": 0.02, "response_timeout": 0.15, "silence_timeout": 0.6, "reconnect_interval": 0.05,
        "hotplug": False}


def start_recorded_pair(make_pair, events: Events, wire: list, emulator, driver_cls, parser_factory, ready,
                        stack: bool = True, enable: bool = True, **options):
    """Start emulator + driver with every frame on the wire decoded into `wire` as ("rx"|"tx", frame).

    With stack, the host stacks every escrow; with enable, every bill is enabled and `ready(emulator)` waited for.
    """
    parsers = {"rx": parser_factory(), "tx": parser_factory()}
    emulator.wire.on_wire = lambda way, data: wire.extend((way, f) for f in parsers[way].feed(data))
    emu, drv = make_pair(emulator, driver_cls, **options)
    if stack:
        events.on_escrow = lambda _e: drv.stack()
    if enable:
        drv.enable(b.value for b in drv.bill_table())
        wait_until(lambda: ready(emu), what="accepting")
    return emu, drv
