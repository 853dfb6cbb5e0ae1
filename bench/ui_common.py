"""Shared set-up for the UI benchmarks: a real demo Terminal on the system clock in a temporary folder."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kiosk.app import Terminal
from kiosk.config import Part
from kiosk.demo_stack import demo_config


@contextmanager
def real_terminal(folder: Path) -> Iterator[Terminal]:
    """The demo terminal as `kiosk demo` builds it, but printing to a file; started with its outbox thread."""
    config = demo_config(folder)
    config = dataclasses.replace(config, printer=Part("printer", "file", {"path": str(folder / "printer.bin")}))
    terminal = Terminal(config)
    terminal.start()
    try:
        yield terminal
    finally:
        terminal.close()
