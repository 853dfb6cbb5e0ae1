"""Kill a paying terminal process with SIGKILL again and again, then prove no money was lost or paid twice."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.emulators.payer_process import check_invariants, write_config


@dataclass
class TrialReport:
    """What a series of kills came to."""

    kills: int = 0
    operations: int = 0
    bills: int = 0
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _child(directory: Path, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "kiosk.emulators.payer_process", "--dir", str(directory), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)


def run_trials(directory: str | Path, kills: int, seed: int = 0, max_delay: float = 0.4) -> TrialReport:
    """Start, let it pay for a random moment, SIGKILL; repeat; then drain and check every invariant."""
    directory = Path(directory)
    write_config(directory, gateway_mode="flaky", seed=seed)
    rng = random.Random(seed)
    report = TrialReport()
    started = time.monotonic()
    for trial in range(kills):
        child = _child(directory, "--seed", str(seed * 100_000 + trial))
        if child.stdout.readline().strip() != "READY":
            child.kill()
            child.wait()
            report.problems.append(f"trial {trial}: the terminal did not start")
            continue
        time.sleep(rng.uniform(0.0, max_delay))
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        report.kills += 1
    drain = _child(directory, "--drain")
    drain.communicate(timeout=300)
    if drain.returncode != 0:
        report.problems.append(f"the draining run failed with status {drain.returncode}")
    report.problems.extend(check_invariants(directory))
    import sqlite3

    conn = sqlite3.connect(directory / "journal.sqlite")
    report.operations = conn.execute("SELECT COUNT(*) FROM operations WHERE cash > 0").fetchone()[0]
    report.bills = conn.execute("SELECT COUNT(*) FROM bills").fetchone()[0]
    conn.close()
    report.seconds = time.monotonic() - started
    return report
