"""A terminal process for the crash test: `python command_terminal.py CONFIG MARKER` runs a terminal whose
`test_receipt` (a command that must never run twice) writes its id to MARKER, then takes a minute, so the test can
kill the process in the middle of it. SIGTERM stops it cleanly."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from kiosk.app import Terminal
from kiosk.config import load_config
from kiosk.dealer_link import command_poller, commands


def main(config_path: str, marker: str) -> int:
    """Run until SIGTERM."""

    def slow_receipt(ctx: commands.CommandContext, args: dict[str, Any]) -> dict[str, Any]:
        with open(marker, "a") as out:
            out.write(ctx.command_id + "\n")
            out.flush()
            os.fsync(out.fileno())
        time.sleep(60)
        return {"printer": "printed"}

    commands.HANDLERS["test_receipt"] = slow_receipt
    command_poller.KEEPALIVE = 0.3  # hang up quickly at SIGTERM
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    terminal = Terminal(load_config(Path(config_path)))
    terminal.start()
    try:
        while not stop.is_set():
            terminal.pump()
            stop.wait(0.05)
    finally:
        terminal.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
