"""The demo terminal's configuration: the shipped demo configuration with every durable file in one folder.

Production-safe (no emulators): the screenshot walk and the benchmarks build their demo terminal from it, and
the demo wiring (kiosk/demo_stack.py) adds the emulators around it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from kiosk.config import DEMO_CONFIG, Config, Part, load_config

DEMO_UI_TERMINAL = "10002"  # the simulator (`kiosk simulate`) uses the demo configuration's 10001


def demo_config(state_dir: Path, printer_port: int | None = None, base: Config | None = None) -> Config:
    """The demo configuration with every durable file inside state_dir and, given a port, a network printer."""
    config = base or load_config(DEMO_CONFIG)
    state_dir.mkdir(parents=True, exist_ok=True)
    validator = Part("validator", "virtual", {**config.validator.options, "cassette": str(state_dir / "cassette.sqlite")})
    gateways = {name: dataclasses.replace(part, options={**part.options, "ledger": str(state_dir / f"gateway-{name}.sqlite")})
                for name, part in config.gateways.items()}
    printer = (Part("printer", "network", {"host": "127.0.0.1", "port": printer_port}) if printer_port
               else config.printer)
    # The window demo is a terminal of its own: its receipts must never be looked up in the simulator's journal
    # (the demo configuration's number, 10001) and show another payment.
    return dataclasses.replace(config, terminal=DEMO_UI_TERMINAL, journal_path=state_dir / "journal.sqlite",
                               receipts_dir=state_dir / "receipts", validator=validator, gateways=gateways,
                               printer=printer)
