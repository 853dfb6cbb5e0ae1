"""Hotplug: udev event filtering on fake devices, and a driver woken by the watcher to reconnect at once."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import pytest
from validator_support import wait_until

from kiosk.drivers import hotplug
from kiosk.drivers.ccnet import CcnetValidator
from kiosk.drivers.validator import Disconnected, Ready, Stacked
from kiosk.emulators.ccnet import CcnetEmulator


@dataclass
class FakeDevice:
    action: str | None
    device_node: str | None
    device_links: tuple = ()
    subsystem: str = "tty"


BY_ID = "/dev/serial/by-id/usb-FTDI_FT232R-if00-port0"


@pytest.mark.parametrize(("device", "expected"), [
    (FakeDevice("remove", "/dev/ttyUSB0"), "remove"),
    (FakeDevice("add", "/dev/ttyUSB0"), "add"),
    (FakeDevice("add", "/dev/ttyUSB1", (BY_ID,)), "add"),  # came back under another number, same by-id link
    (FakeDevice("change", "/dev/ttyUSB0"), None),
    (FakeDevice("bind", "/dev/ttyUSB0"), None),
    (FakeDevice("add", "/dev/ttyUSB3"), None),  # somebody else's adapter
    (FakeDevice("add", "/dev/ttyUSB0", subsystem="usb"), None),
    (FakeDevice("add", None), None),
])
def test_udev_event_filtering(device, expected):
    assert hotplug.relevant(device, {"/dev/ttyUSB0", BY_ID}) == expected


def test_port_names_include_the_resolved_node(scratch):
    target = scratch / "node"
    target.write_text("")
    link = scratch / "link"
    os.symlink(target, link)
    assert hotplug.port_names(str(link)) == {str(link), str(target)}
    assert hotplug.port_names(str(scratch / "gone")) == {str(scratch / "gone")}


def test_watcher_without_udev_degrades_to_none(monkeypatch):
    import pyudev

    def broken(*_a, **_k):
        raise OSError("no netlink here")
    monkeypatch.setattr(pyudev, "Context", broken)
    assert hotplug.HotplugWatcher.try_start("/dev/ttyUSB0", lambda _a: None) is None


def test_real_watcher_starts_and_stops_cleanly(no_leaks):
    watcher = hotplug.HotplugWatcher.try_start("/dev/ttyUSB0", lambda _a: None)
    if watcher is None:
        pytest.skip("udev monitoring not available here")
    seen = []
    watcher._on_change = seen.append
    watcher._event(FakeDevice("remove", "/dev/ttyUSB0"))
    watcher._event(FakeDevice("add", "/dev/ttyUSB7"))
    watcher.stop()
    assert seen == ["remove"]


class FakeWatcher:
    """Stands in for udev: the test plays the kernel."""

    instances: list = []

    def __init__(self, port, on_change):
        self.port, self.on_change, self.stopped = port, on_change, False
        FakeWatcher.instances.append(self)

    @classmethod
    def try_start(cls, port, on_change):
        return cls(port, on_change)

    def stop(self):
        self.stopped = True


def test_replugged_adapter_is_recovered_at_once_when_udev_says_so(make_pair, events, scratch, monkeypatch):
    monkeypatch.setattr(hotplug, "HotplugWatcher", FakeWatcher)
    FakeWatcher.instances.clear()
    emu = CcnetEmulator(step_seconds=0.01, link=str(scratch / "ttyUSB0"))
    # A reconnect timer far longer than the test: only the hotplug wake-up can bring it back quickly.
    emu, drv = make_pair(emu, CcnetValidator, hotplug=True, reconnect_interval=30.0)
    (watcher,) = FakeWatcher.instances
    assert watcher.port == emu.path
    events.on_escrow = lambda _e: drv.stack()
    drv.enable([10000])
    emu.wire.unplug()
    watcher.on_change("remove")
    events.wait_for(Disconnected)
    time.sleep(0.1)  # the driver has tried to reopen and is now waiting on its long timer
    emu.wire.replug()
    started = time.monotonic()
    watcher.on_change("add")
    events.wait_for(Ready, count=2, timeout=3)
    assert time.monotonic() - started < 3
    wait_until(lambda: emu.status()["phase"] == "idling")
    emu.insert(100)
    events.wait_for(Stacked)
    drv.stop()
    assert watcher.stopped
