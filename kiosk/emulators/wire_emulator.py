"""What a device emulator on a pseudo-terminal has in common: its lock, its wire, its cassette, its life cycle."""

from __future__ import annotations

import threading
from typing import Self

from kiosk.emulators.cassette import Cassette, CassetteFullError
from kiosk.emulators.pty_port import WireDevice


class PtyEmulator:
    """A device on a pty: subclasses answer bytes in receive() and let time pass in tick()."""

    def __init__(self, link: str | None, bits_per_byte: int = 10) -> None:
        self.lock = threading.RLock()
        self.wire = WireDevice(self, self.lock, link)  # type: ignore[arg-type]  # receive/tick are the subclass's
        self.wire.bits_per_byte = bits_per_byte  # what a paced wire costs per byte: 10 for 8N1, 11 for 8E1/8N2

    @property
    def path(self) -> str:
        """The tty path a driver opens."""
        return self.wire.path

    def start(self) -> Self:
        """Start answering on the pty."""
        self.wire.start()
        return self

    def stop(self) -> None:
        """Stop and remove the pty."""
        self.wire.stop()


class WireEmulator(PtyEmulator):
    """A base for bill validator emulators: a pty device with a cassette."""

    def __init__(self, cassette: Cassette | None, link: str | None, bits_per_byte: int = 10) -> None:
        super().__init__(link, bits_per_byte)
        self.cassette = cassette or Cassette()
        self.stacked_total = 0  # bills this device has put in the cassette since start (tests compare)

    def land(self, kopecks: int | None) -> bool:
        """Put a bill in the cassette, durably, before anything reports it; False if it cannot go in."""
        if kopecks is None:
            return False
        try:
            self.cassette.add(kopecks)
        except CassetteFullError:
            return False
        self.stacked_total += 1
        return True
