"""HID keyboard-wedge 2D barcode scanners through evdev: the device is grabbed, so its keystrokes reach only us.

Without the grab a scanner types into whatever has focus, and a payer's bill would land in the screen's text
fields. evdev is imported only when a HID scanner is opened; where it is missing the error says how to get it.
"""

from __future__ import annotations

import select
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from kiosk.drivers.scanner import Scanner
from kiosk.drivers.scanner_keys import KeyDecoder
from kiosk.errors import DeviceInitializationError, DeviceOperationError


class InputEvent(Protocol):
    """What the scanner needs of an evdev event."""

    type: int
    code: int
    value: int


class InputDeviceLike(Protocol):
    """What the scanner needs of evdev.InputDevice (tests pass a fake one)."""

    def fileno(self) -> int:
        """The descriptor to wait on."""

    def read(self) -> Iterable[InputEvent]:
        """The events waiting (BlockingIOError when none)."""

    def grab(self) -> None:
        """Take the device for ourselves."""

    def ungrab(self) -> None:
        """Give it back."""

    def close(self) -> None:
        """Release the descriptor."""


def open_evdev(path: str) -> InputDeviceLike:
    """evdev.InputDevice at path, with a clear error where evdev is not installed."""
    try:
        import evdev
    except ImportError as exc:
        raise DeviceInitializationError(
            "HID scanners need the evdev package (pip install evdev; it builds against the kernel headers)"
        ) from exc
    device: Any = evdev.InputDevice(path)
    return device


class HidScanner(Scanner):
    """A keyboard-wedge scanner at an input device path (best /dev/input/by-id/…-event-kbd): grabbed, decoded."""

    def __init__(self, device: str, grab: bool = True, on_code: Callable[[bytes], None] | None = None,
                 reconnect_interval: float = 1.0,
                 open_device: Callable[[str], InputDeviceLike] = open_evdev) -> None:
        super().__init__(on_code, reconnect_interval, name=device)
        self.device_path = device
        self.grab = grab
        self._open_device = open_device
        self._device: InputDeviceLike | None = None
        self._decoder = KeyDecoder()

    def _connect(self) -> None:
        try:
            device = self._open_device(self.device_path)
        except OSError as exc:
            raise DeviceInitializationError(f"cannot open {self.device_path}: {exc}") from exc
        if self.grab:
            try:
                device.grab()
            except OSError as exc:
                device.close()
                # EBUSY: another program (X, a second kiosk) holds it; typing into the screen is not acceptable
                raise DeviceInitializationError(f"cannot grab {self.device_path}: {exc}") from exc
        self._device = device

    def _disconnect(self) -> None:
        device, self._device = self._device, None
        self._decoder.reset()
        if device is None:
            return
        for release in ((device.ungrab, device.close) if self.grab else (device.close,)):
            try:
                release()
            except OSError:
                pass  # the device is already gone; there is nothing left to give back

    def _read(self, timeout: float) -> list[bytes]:
        device = self._device
        if device is None:
            raise DeviceOperationError(f"{self.device_path} is not open")
        try:
            ready, _, _ = select.select([device.fileno()], [], [], timeout)
            if not ready:
                return []
            events = list(device.read())
        except BlockingIOError:
            return []
        except (OSError, ValueError) as exc:  # ENODEV once unplugged; ValueError for a closed descriptor
            raise DeviceOperationError(f"{self.device_path}: {exc}") from exc
        codes = []
        for event in events:
            code = self._decoder.feed(event.type, event.code, event.value)
            if code is not None:
                codes.append(code)
        return codes


