"""The emulated Shtrih-M fiscal registrar as the demo, the simulator and the kill trials use it: on a pty in this
process, its fiscal drive's state file and printout in a state folder, and a terminal configuration pointed at it."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from pathlib import Path
from typing import Any, Self

from kiosk.config import Config, Part
from kiosk.emulators.shtrih import ShtrihEmulator
from kiosk.fiscal.demo_settings import DEMO_FISCAL
from kiosk.fiscal.settings import parse_fiscal
from kiosk.schema import Doc

#: driver waits for a registrar answering at memory speed (still lenient for a loaded machine)
DRIVER_OPTIONS: dict[str, Any] = {"answer_timeout": 5.0, "control_timeout": 0.5, "byte_timeout": 0.3}


class FiscalRig:
    """A running emulated registrar; `state_file` is the truth about which fiscal documents exist."""

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.state_file = state_dir / "fiscal-drive.json"
        self.printout = state_dir / "fiscal-printout.txt"
        self.emulator: ShtrihEmulator | None = None

    def start(self) -> Self:
        """Start answering on a fresh pty (the drive's state carries over from earlier runs)."""
        self.emulator = ShtrihEmulator(self.state_file, self.printout).start()
        return self

    @property
    def port(self) -> str:
        """The pty the driver opens."""
        if self.emulator is None:
            raise RuntimeError("the fiscal registrar emulator is not started")
        return self.emulator.path

    def configure(self, config: Config) -> Config:
        """The configuration with its printer being this registrar and the demo dealer's fiscal data."""
        fiscal = config.fiscal or parse_fiscal(Doc("demo fiscal data", tomllib.loads(DEMO_FISCAL)), "fiscal")
        printer = Part("printer", "fiscal", {"port": self.port, "tz": config.timezone.key, **DRIVER_OPTIONS})
        return dataclasses.replace(config, printer=printer, fiscal=fiscal)

    def advance_clock(self, hours: float) -> None:
        """Move the registrar's clock ahead (the open shift ages: past 24 h it must be closed before a sale)."""
        if self.emulator is None:
            raise RuntimeError("the fiscal registrar emulator is not started")
        with self.emulator.lock:
            drive = self.emulator.registrar.drive
            drive.state.clock_offset += hours * 3600
            drive.save()

    def documents(self) -> list[dict[str, Any]]:
        """Every document in the drive's archive, by number."""
        if not self.state_file.exists():
            return []
        state = json.loads(self.state_file.read_text(encoding="utf-8"))
        return [state["documents"][key] for key in sorted(state["documents"], key=int)]

    def summary(self) -> str:
        """One line: what the drive holds now."""
        documents = self.documents()
        receipts = [d for d in documents if d["kind"] == "receipt"]
        text = (f"fiscal registrar (emulated Shtrih-M): {len(receipts)} receipts, "
                f"{sum(d['kind'] == 'shift_open' for d in documents)} shift opens, "
                f"{sum(d['kind'] == 'z_report' for d in documents)} Z-reports; state {self.state_file}, "
                f"printout {self.printout}")
        if receipts:
            text += f"\n  last receipt QR: {receipts[-1]['qr']}"
        return text

    def stop(self) -> None:
        """Stop answering (the state file stays)."""
        if self.emulator is not None:
            self.emulator.stop()
            self.emulator = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
