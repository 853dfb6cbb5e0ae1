"""A bill validator emulator in another process, fed by scripts: the simulator and crash tests use the real
driver on its pseudo-terminal, and push bills in through the emulator's control commands.

The emulator runs as the `kiosk emulate validator` command in its own process: this module only speaks to it
through a pipe and never imports the emulators (production code must not).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import IO

from kiosk.config import Config, Part
from kiosk.errors import KioskError


def spawn_emulator(what: str, *args: str) -> tuple[subprocess.Popen[str], str]:
    """Start `kiosk emulate WHAT ARGS…` as a separate process: it and the pty it announced (its PORT= line)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "emulate", what, *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    assert process.stdout is not None and process.stdin is not None  # both are pipes, as asked above
    first = process.stdout.readline().strip()
    if not first.startswith("PORT="):
        process.kill()
        process.wait()
        raise KioskError(f"the {what} emulator did not start (said {first!r})")
    return process, first.removeprefix("PORT=")


def stop_emulator(process: subprocess.Popen[str], wait: float = 5.0) -> None:
    """Ask an emulator process we started to quit (its state files stay), kill it if it has not within `wait` s,
    and close our pipes to it; safe to call again."""
    if process.poll() is None:
        try:
            assert process.stdin is not None  # a pipe (spawn_emulator)
            process.stdin.write("quit\n")
            process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):  # it is gone already, or the pipe is closed
            pass
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for stream in (process.stdin, process.stdout):
        if stream is not None and not stream.closed:
            try:
                stream.close()
            except BrokenPipeError:
                pass


class ExternalValidator:
    """An emulator process we started (control through its stdin) or one somebody else started (a FIFO)."""

    def __init__(self, protocol: str, port: str, control: IO[str] | None,
                 process: subprocess.Popen[str] | None = None) -> None:
        self.protocol, self.port, self._control, self._process = protocol, port, control, process

    @classmethod
    def spawn(cls, protocol: str, state_file: str | Path, *extra: str) -> ExternalValidator:
        """Start `kiosk emulate validator` as a separate process and wait for its PORT= line."""
        Path(state_file).parent.mkdir(parents=True, exist_ok=True)
        process, port = spawn_emulator("validator", "--protocol", protocol, "--state-file", str(state_file), *extra)
        assert process.stdin is not None  # a pipe, as spawn_emulator asks
        return cls(protocol, port, process.stdin, process)

    @classmethod
    def attach(cls, protocol: str, port: str, control_fifo: str | None) -> ExternalValidator:
        """Use an emulator already running on port; bills go in through its control FIFO, if given."""
        control = open(control_fifo, "w", buffering=1, encoding="utf-8") if control_fifo else None  # noqa: SIM115
        return cls(protocol, port, control)

    @property
    def answers(self) -> bool:
        """Whether the emulator's one-line answers can be read (only from a process we started)."""
        return self._process is not None

    def configure(self, config: Config, poll_interval: float = 0.05) -> Config:
        """The configuration with its validator replaced by the real driver on this port."""
        part = Part("validator", self.protocol, {"port": self.port, "poll_interval": poll_interval})
        return replace(config, validator=part)

    def command(self, line: str) -> str:
        """Send one control command; with our own process, return its one-line answer."""
        if self._control is None:
            raise KioskError("no way to reach the validator emulator: start it yourself with its stdin on a FIFO "
                             "and pass --validator-control FIFO, or let the simulator start it")
        self._control.write(line + "\n")
        self._control.flush()
        if self._process is not None:
            return self._answer()
        return ""

    def _answer(self) -> str:
        stdout = self._process.stdout if self._process is not None else None
        return stdout.readline().strip() if stdout is not None else ""

    def insert(self, roubles: str) -> str:
        """A payer pushes a banknote in."""
        return self.command(f"insert {roubles}")

    def close(self) -> None:
        """Stop our emulator process (its cassette file stays), or let go of the FIFO."""
        if self._process is not None:
            stop_emulator(self._process)  # its stdin is our control: closed with it
        if self._control is not None and not self._control.closed:
            try:
                self._control.close()
            except BrokenPipeError:
                pass
