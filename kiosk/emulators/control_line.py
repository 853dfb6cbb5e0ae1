"""The control line every pty emulator shares: PORT= first, one answer line per command, `quit` to end."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from typing import Protocol


class Serving(Protocol):
    """An emulator that can be started and stopped and has a tty path."""

    @property
    def path(self) -> str:
        """What a driver opens."""

    def start(self) -> object:
        """Start serving the wire."""

    def stop(self) -> None:
        """Stop and remove the pty."""


def serve(emu: Serving, execute: Callable[[str], str]) -> int:
    """Start emu, print PORT=, answer stdin's lines until quit, SIGTERM or end of input; always stop emu."""
    emu.start()
    previous = signal.getsignal(signal.SIGTERM)
    try:
        # SIGTERM ends the loop like `quit`, so the pty and its link are removed.
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    except ValueError:
        previous = None  # not the main thread (a test calling main); no handler to install
    try:
        print(f"PORT={emu.path}", flush=True)
        for line in sys.stdin:
            if line.strip().lower() in ("quit", "exit"):
                print("ok bye", flush=True)
                break
            print(execute(line), flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0
