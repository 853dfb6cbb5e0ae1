"""A fake evdev input device for tests (no /dev/uinput in containers): events on a pipe, grab as the kernel does it.

Like the kernel, an ungrabbed device's key presses also reach every other reader (the screen, here `screen`);
a grabbed one's reach only the grabber.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass

from kiosk.drivers.scanner_keys import EV_KEY, PLAIN, SHIFTED

ENTER = 28
LEFT_SHIFT = 42


@dataclass(frozen=True)
class Event:
    """One input event."""

    type: int
    code: int
    value: int


KEYPAD = {"0": 82, "1": 79, "2": 80, "3": 81, "4": 75, "5": 76, "6": 77, "7": 71, "8": 72, "9": 73}
LEFT_ALT = 56


def _press(code: int) -> list[Event]:
    return [Event(EV_KEY, code, 1), Event(EV_KEY, code, 0)]


def key_events(data: str | bytes) -> list[Event]:
    """What a US-layout keyboard-wedge scanner sends to type data and Enter (Alt+0NNN for non-ASCII bytes)."""
    raw = data.encode("ascii") if isinstance(data, str) else data
    plain = {char: code for code, char in PLAIN.items()}
    shifted = {char: code for code, char in SHIFTED.items() if char not in plain}
    events: list[Event] = []
    for byte in raw:
        char = chr(byte)
        if char in plain:
            events += _press(plain[char])
        elif char in shifted:
            events += [Event(EV_KEY, LEFT_SHIFT, 1), *_press(shifted[char]), Event(EV_KEY, LEFT_SHIFT, 0)]
        else:
            events += [Event(EV_KEY, LEFT_ALT, 1), *[e for d in f"0{byte:03d}" for e in _press(KEYPAD[d])],
                       Event(EV_KEY, LEFT_ALT, 0)]
    return events + _press(ENTER)


class FakeInputDevice:
    """An input device: `type_text` presses keys; `vanish` unplugs it; `busy` makes grab fail with EBUSY."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._read_fd = self._write_fd = -1
        self.closed = True
        self.reopen()
        self._pending: list[Event] = []
        self.grabbed = False
        self.grab_calls = 0
        self.ungrab_calls = 0
        self.busy = False
        self.gone = False
        self.screen: list[Event] = []  # what an ungrabbed device's keys would type into the focused window

    def reopen(self) -> None:
        """A new descriptor on the same device (each evdev.InputDevice(path) opens its own)."""
        if self.closed:
            self._read_fd, self._write_fd = os.pipe()
            os.set_blocking(self._read_fd, False)
            self.closed = False

    def type_text(self, text: str | bytes) -> None:
        """The scanner types a code and presses Enter."""
        events = key_events(text)
        if not self.grabbed:
            self.screen += events
        self._pending += events
        os.write(self._write_fd, b"!")

    def vanish(self) -> None:
        """Unplugged: reads fail with ENODEV, as evdev's do."""
        self.gone = True
        os.write(self._write_fd, b"!")

    def fileno(self) -> int:
        """The descriptor select() waits on."""
        return self._read_fd

    def read(self) -> list[Event]:
        """The events waiting; BlockingIOError when none, OSError(ENODEV) once unplugged."""
        if self.gone:
            raise OSError(errno.ENODEV, "No such device")
        try:
            os.read(self._read_fd, 4096)
        except BlockingIOError:
            pass
        events, self._pending = self._pending, []
        if not events:
            raise BlockingIOError(errno.EAGAIN, "no events")
        return events

    def grab(self) -> None:
        """EVIOCGRAB."""
        self.grab_calls += 1
        if self.busy:
            raise OSError(errno.EBUSY, "Device or resource busy")
        self.grabbed = True

    def ungrab(self) -> None:
        """Release the grab."""
        self.ungrab_calls += 1
        if self.gone:
            raise OSError(errno.ENODEV, "No such device")
        self.grabbed = False

    def close(self) -> None:
        """Release the descriptors."""
        if not self.closed:
            self.closed = True
            os.close(self._read_fd)
            os.close(self._write_fd)


class FakeInputs:
    """The /dev/input of a test: plug devices in and out; `open` is what HidScanner gets as open_device."""

    def __init__(self) -> None:
        self.plugged: dict[str, FakeInputDevice] = {}
        self.opened: list[FakeInputDevice] = []

    def plug(self, path: str) -> FakeInputDevice:
        """A (new) device appears at path."""
        self.plugged[path] = FakeInputDevice(path)
        return self.plugged[path]

    def unplug(self, path: str) -> None:
        """The device at path disappears."""
        self.plugged.pop(path).vanish()

    def open(self, path: str) -> FakeInputDevice:
        """evdev.InputDevice(path)."""
        if path not in self.plugged:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        self.plugged[path].reopen()
        self.opened.append(self.plugged[path])
        return self.plugged[path]

    def close_all(self) -> None:
        """Close every device (the test's cleanup)."""
        for device in [*self.plugged.values(), *self.opened]:
            device.close()
