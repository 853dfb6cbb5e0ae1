"""USB-serial hotplug: a pyudev monitor that tells a driver its adapter went away or came back.

The driver already retries opening a lost port every `reconnect_interval`; the watcher only makes recovery
immediate. Without udev (containers, tests on a pty) the driver works the same, just a little slower.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)

ACTIONS = ("add", "remove")


def port_names(port: str) -> set[str]:
    """The names a port answers to: as configured and, while it exists, its resolved device node."""
    names = {os.path.abspath(port)}
    if os.path.exists(port):
        names.add(os.path.realpath(port))
    return names


def device_names(device: object) -> set[str]:
    """A udev device's node and its symlinks (/dev/serial/by-id/…)."""
    names = set()
    node = getattr(device, "device_node", None)
    if node:
        names.add(node)
    links: Iterable[str] = getattr(device, "device_links", None) or ()
    names.update(links)
    return names


def relevant(device: object, names: set[str]) -> str | None:
    """The action ('add'/'remove') if this udev event concerns one of our port names, else None."""
    action = getattr(device, "action", None)
    if action not in ACTIONS or getattr(device, "subsystem", None) != "tty":
        return None
    return action if device_names(device) & names else None


class HotplugWatcher:
    """Watches udev tty events for one port in a background thread and calls on_change(action)."""

    def __init__(self, port: str, on_change: Callable[[str], None]) -> None:
        import pyudev

        self.port = port
        self.names = port_names(port)
        self._on_change = on_change
        context = pyudev.Context()
        monitor = pyudev.Monitor.from_netlink(context)
        monitor.filter_by("tty")
        self._observer = pyudev.MonitorObserver(monitor, callback=self._event, name=f"hotplug-{port}")
        self._observer.daemon = True
        self._observer.start()

    @classmethod
    def try_start(cls, port: str, on_change: Callable[[str], None]) -> HotplugWatcher | None:
        """A running watcher, or None where udev is unavailable (the driver then just retries on a timer)."""
        try:
            return cls(port, on_change)
        except Exception as exc:  # pyudev raises assorted OSError/ImportError/ValueError subclasses
            log.info("hotplug monitoring unavailable for %s (%s); relying on periodic reconnect", port, exc)
            return None

    def _event(self, device: object) -> None:
        action = relevant(device, self.names)
        if action is None:
            return
        if action == "add":
            self.names |= port_names(self.port)  # the new node may have another number (ttyUSB1)
        self._on_change(action)

    def stop(self) -> None:
        """Stop the monitor thread."""
        self._observer.send_stop()
        self._observer.join(5)
