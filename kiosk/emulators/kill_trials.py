"""Kill a paying terminal process with SIGKILL again and again, then prove no money was lost or paid twice."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from kiosk.emulators.payer_process import BILLS_RUB, check_device_cassette, check_invariants, write_config
from kiosk.external_validator import ExternalValidator


@dataclass
class TrialReport:
    """What a series of kills came to."""

    kills: int = 0
    operations: int = 0
    bills: int = 0
    uncertain: int = 0
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def uncertain_share(self) -> float:
        """Bills listed as uncertain per bill credited (support settles them by the encashment count)."""
        return self.uncertain / self.bills if self.bills else 0.0


def _child(directory: Path, *args: str) -> tuple[subprocess.Popen[str], IO[str]]:
    """The paying terminal process and its standard output (where it says READY)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    child = subprocess.Popen([sys.executable, "-m", "kiosk.emulators.payer_process", "--dir", str(directory), *args],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    if child.stdout is None:  # stdout=PIPE always gives one; say so rather than fail later on None
        raise RuntimeError("the paying terminal process has no output pipe")
    return child, child.stdout


class Feeder(threading.Thread):
    """A queue of payers at the validator: pushes a random banknote in every few hundred milliseconds."""

    def __init__(self, device: ExternalValidator, rng: random.Random) -> None:
        super().__init__(name="bill-feeder", daemon=True)
        self.device, self.rng, self.stop_flag = device, rng, threading.Event()
        self.offered = 0

    def run(self) -> None:
        while not self.stop_flag.wait(self.rng.uniform(0.1, 0.4)):
            self.device.insert(str(self.rng.choice(BILLS_RUB)))
            self.offered += 1

    def stop(self) -> None:
        """Stop feeding and wait for the thread."""
        self.stop_flag.set()
        self.join()


def run_device_trials(directory: str | Path, kills: int, protocol: str = "ccnet", seed: int = 0,
                      max_delay: float = 2.5) -> TrialReport:
    """Kill a terminal that uses the real driver while the emulator process (the device) keeps its cassette."""
    directory = Path(directory)
    write_config(directory, gateway_mode="flaky", seed=seed)
    cassette = directory / f"cassette-{protocol}.json"
    # A ccTalk unit stops taking bills 1 s after its last buffer read, as real ones do (see emulators/cctalk.py).
    extra = ("--poll-timeout", "1") if protocol == "cctalk" else ()
    device = ExternalValidator.spawn(protocol, cassette, "--step", "0.05", "--escrow-timeout", "3", *extra)
    rng = random.Random(seed)
    report = TrialReport()
    started = time.monotonic()
    feeder = Feeder(device, random.Random(seed + 1))
    feeder.start()
    try:
        _kill_repeatedly(directory, report, kills, seed, lambda: rng.uniform(0.2, max_delay),
                         "--validator-protocol", protocol, "--validator-port", device.port)
    finally:
        feeder.stop()
        # With no host renewing HOLD, a bill left in escrow goes back to the payer; let the device settle.
        time.sleep(4)
        device.close()
    _drain(directory, report)
    report.problems.extend(check_device_cassette(directory, cassette))
    _count(directory, report)
    report.seconds = time.monotonic() - started
    return report


def _kill_repeatedly(directory: Path, report: TrialReport, kills: int, seed: int, delay: Callable[[], float],
                     *args: str) -> None:
    """Start the paying terminal, let it run for delay() seconds, SIGKILL it; kills times."""
    for trial in range(kills):
        child, output = _child(directory, "--seed", str(seed * 100_000 + trial), *args)
        if output.readline().strip() != "READY":
            child.kill()
            child.wait()
            report.problems.append(f"trial {trial}: the terminal did not start")
            continue
        time.sleep(delay())
        child.send_signal(signal.SIGKILL)
        child.wait()
        output.close()
        report.kills += 1


def _drain(directory: Path, report: TrialReport) -> None:
    drain, _ = _child(directory, "--drain")
    drain.communicate(timeout=300)
    if drain.returncode != 0:
        report.problems.append(f"the draining run failed with status {drain.returncode}")


def _count(directory: Path, report: TrialReport) -> None:
    conn = sqlite3.connect(directory / "journal.sqlite")
    report.operations = conn.execute("SELECT COUNT(*) FROM operations WHERE cash > 0").fetchone()[0]
    report.bills = conn.execute("SELECT COUNT(*) FROM bills").fetchone()[0]
    report.uncertain = conn.execute("SELECT COUNT(*) FROM incidents WHERE kind='uncertain_bill'").fetchone()[0]
    conn.close()


def run_trials(directory: str | Path, kills: int, seed: int = 0, max_delay: float = 0.4) -> TrialReport:
    """Start, let it pay for a random moment, SIGKILL; repeat; then drain and check every invariant."""
    directory = Path(directory)
    write_config(directory, gateway_mode="flaky", seed=seed)
    rng = random.Random(seed)
    report = TrialReport()
    started = time.monotonic()
    _kill_repeatedly(directory, report, kills, seed, lambda: rng.uniform(0.0, max_delay))
    _drain(directory, report)
    report.problems.extend(check_invariants(directory))
    _count(directory, report)
    report.seconds = time.monotonic() - started
    return report
