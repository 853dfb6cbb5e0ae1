"""Shared set-up for the UI benchmarks: a real demo Terminal on the system clock in a temporary folder."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kiosk.app import Terminal
from kiosk.config import Part
from kiosk.demo_config import demo_config


@contextmanager
def real_terminal(folder: Path, timeouts: int | None = None) -> Iterator[Terminal]:
    """The demo terminal as `kiosk demo` builds it, but printing to a file; started with its outbox thread.

    timeouts (seconds) replaces every session timeout: a benchmark pressing for minutes stays on its screen.
    """
    config = demo_config(folder)
    config = dataclasses.replace(config, printer=Part("printer", "file", {"path": str(folder / "printer.bin")}))
    if timeouts is not None:
        config = dataclasses.replace(config, timeouts={key: timeouts for key in config.timeouts})
    terminal = Terminal(config)
    terminal.start()
    try:
        yield terminal
    finally:
        terminal.close()
