"""The emulated Shtrih-M fiscal registrar as the demo, the simulator and the kill trials use it: its fiscal drive's
state file and printout in a state folder, and a terminal configuration pointed at it.

`FiscalRig` runs `kiosk emulate fiscal` as a process of its own, as the validator emulator runs in the demo (the
registrar outlives the terminal, like a real one); `LocalFiscalRig` answers on a pty from this process, for
benchmarks that count the emulator's commands.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import tomllib
from pathlib import Path
from typing import Any, Self

from kiosk.config import Config, Part
from kiosk.external_validator import spawn_emulator, stop_emulator
from kiosk.fiscal.demo_settings import DEMO_FISCAL
from kiosk.fiscal.settings import parse_fiscal
from kiosk.schema import Doc

#: driver waits for a registrar answering at memory speed (still lenient for a loaded machine)
DRIVER_OPTIONS: dict[str, Any] = {"answer_timeout": 5.0, "control_timeout": 0.5, "byte_timeout": 0.3}
STOP_WAIT = 5.0  # seconds the emulator process gets to remove its pty after `quit`


class BaseRig:
    """What every rig shares: where the drive and printout live, the configuration, what the drive holds."""

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.state_file = state_dir / "fiscal-drive.json"
        self.printout = state_dir / "fiscal-printout.txt"

    @property
    def port(self) -> str:
        """The pty the driver opens."""
        raise NotImplementedError

    def configure(self, config: Config) -> Config:
        """The configuration with its printer being this registrar and the demo dealer's fiscal data."""
        fiscal = config.fiscal or parse_fiscal(Doc("demo fiscal data", tomllib.loads(DEMO_FISCAL)), "fiscal")
        printer = Part("printer", "fiscal", {"port": self.port, "tz": config.timezone.key, **DRIVER_OPTIONS})
        return dataclasses.replace(config, printer=printer, fiscal=fiscal)

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
        refunds = sum(d.get("kind_1054", 1) == 2 for d in receipts)
        text = (f"fiscal registrar (emulated Shtrih-M): {len(receipts)} receipts"
                + (f" ({refunds} of them refunds)" if refunds else "")
                + f", {sum(d['kind'] == 'shift_open' for d in documents)} shift opens, "
                f"{sum(d['kind'] == 'z_report' for d in documents)} Z-reports; state {self.state_file}, "
                f"printout {self.printout}")
        if receipts:
            text += f"\n  last receipt QR: {receipts[-1]['qr']}"
        return text

    def start(self) -> Self:
        """Start answering on a fresh pty (the drive's state carries over from earlier runs)."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop answering (the state file stays)."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class FiscalRig(BaseRig):
    """`kiosk emulate fiscal` in a process of its own, steered through its control line (stdin/stdout)."""

    def __init__(self, state_dir: Path, *extra: str) -> None:
        super().__init__(state_dir)
        self.extra = extra
        self.process: subprocess.Popen[str] | None = None
        self._port = ""

    def start(self) -> Self:
        """Start the emulator process and wait for its PORT= line."""
        self.process, self._port = spawn_emulator("fiscal", "--state", str(self.state_file),
                                                  "--printout", str(self.printout), *self.extra)
        return self

    def _running(self) -> subprocess.Popen[str]:
        if self.process is None:
            raise RuntimeError("the fiscal registrar emulator is not started")
        return self.process

    @property
    def port(self) -> str:
        """The pty the driver opens."""
        self._running()
        return self._port

    @property
    def pid(self) -> int:
        """The emulator process's id."""
        return self._running().pid

    def command(self, line: str) -> str:
        """One control command and its one-line answer; RuntimeError if the emulator refused it."""
        process = self._running()
        assert process.stdin is not None and process.stdout is not None  # pipes (spawn_emulator)
        process.stdin.write(line + "\n")
        process.stdin.flush()
        answer = process.stdout.readline().strip()
        if not answer.startswith("ok"):
            raise RuntimeError(f"the fiscal registrar emulator refused {line!r}: {answer or 'it exited'}")
        return answer

    def status(self) -> dict[str, Any]:
        """The emulator's `status` answer."""
        status: dict[str, Any] = json.loads(self.command("status").removeprefix("ok "))
        return status

    def advance_clock(self, hours: float) -> None:
        """Move the registrar's clock ahead (the open shift ages: past 24 h it must be closed before a sale)."""
        offset = float(self.status()["clock_offset"]) / 3600 + hours
        self.command(f"clock {offset}")

    def stop(self) -> None:
        """Quit the emulator process (the state file stays)."""
        process, self.process = self.process, None
        if process is not None:
            stop_emulator(process, STOP_WAIT)


class LocalFiscalRig(BaseRig):
    """The emulator on a pty served from this process (its registrar can be hooked and counted)."""

    def __init__(self, state_dir: Path) -> None:
        super().__init__(state_dir)
        from kiosk.emulators.shtrih import ShtrihEmulator

        self.emulator: ShtrihEmulator | None = None
        self._make = lambda: ShtrihEmulator(self.state_file, self.printout)

    def start(self) -> Self:
        """Start answering on a fresh pty."""
        self.emulator = self._make().start()
        return self

    @property
    def port(self) -> str:
        """The pty the driver opens."""
        if self.emulator is None:
            raise RuntimeError("the fiscal registrar emulator is not started")
        return self.emulator.path

    def advance_clock(self, hours: float) -> None:
        """Move the registrar's clock ahead."""
        if self.emulator is None:
            raise RuntimeError("the fiscal registrar emulator is not started")
        with self.emulator.lock:
            drive = self.emulator.registrar.drive
            drive.state.clock_offset += hours * 3600
            drive.save()

    def stop(self) -> None:
        """Stop answering (the state file stays)."""
        if self.emulator is not None:
            self.emulator.stop()
            self.emulator = None
