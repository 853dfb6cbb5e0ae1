"""A barcode scanner emulator in another process (`kiosk emulate scanner`) on a pseudo-terminal: the demo's
scan key and the end-to-end tests scan a bill through it, so the code reaches the kiosk over the real serial
driver. Only spoken to through a pipe: production code never imports the emulators."""

from __future__ import annotations

from pathlib import Path

from kiosk.config import Part
from kiosk.errors import KioskError
from kiosk.external_validator import spawn_emulator, stop_emulator


class ExternalScanner:
    """An emulator process we started: its PORT=, and one answer line per command."""

    def __init__(self, suffix: str = "cr") -> None:
        self.suffix = suffix
        self._process, self.port = spawn_emulator("scanner", "--suffix", suffix)

    def part(self) -> Part:
        """The configuration's [devices.scanner] for the serial driver on this emulator."""
        return Part("scanner", "serial", {"port": self.port, "suffix": self.suffix})

    def command(self, line: str) -> str:
        """One command (`scan-file PATH`, `scan TEXT`, `unplug` …) and the emulator's answer."""
        stdin, stdout = self._process.stdin, self._process.stdout
        if stdin is None or stdout is None or self._process.poll() is not None:
            raise KioskError("the scanner emulator is not running")
        stdin.write(line + "\n")
        stdin.flush()
        return stdout.readline().strip()

    def scan_file(self, path: str | Path) -> str:
        """The payer holds a bill under the scanner: the file's bytes are sent as one code."""
        return self.command(f"scan-file {path}")

    def close(self) -> None:
        """Stop the emulator process; safe to call again."""
        stop_emulator(self._process)
