"""Kill a paying terminal with SIGKILL in the middle of its fiscal receipts, again and again; then prove that no
payment got two fiscal documents and none was lost. The emulated registrar's state file is the truth.

The registrar outlives every killed terminal: it runs here, in the trial process, or (`separate`) as
`kiosk emulate fiscal` in a process of its own, armed through its `kill-host` control command. Each trial picks a kill
point: the n-th command the registrar receives from that terminal process (start-up recovery included), or of
one kind (FF45 signing a receipt; after a day has passed on the registrar's clock, the Z-report or the shift
opening), and a phase — "before" (the terminal dies as the command arrives; it never runs) or "after" (the command ran, even
FF45 signing a receipt, and the terminal dies before reading the answer, which stays pending on the wire).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.drivers import shtrih_frame as sf
from kiosk.emulators.fiscal_rig import DRIVER_OPTIONS, FiscalRig, LocalFiscalRig
from kiosk.emulators.kill_trials import _child
from kiosk.emulators.payer_process import check_invariants, write_config
from kiosk.emulators.shtrih_drive import FiscalDrive
from kiosk.emulators.shtrih_kill import KillSwitch
from kiosk.fiscal.demo_settings import make_fiscal

MAX_COMMAND = 160  # kill points are drawn among the first commands of a run: start-up, then two or three payments
SIGNING_SHARE = 0.4  # share of kills aimed at FF45 (close receipt: the drive signs) rather than any command
SHIFT_EVERY = 5  # every fifth kill is aimed at the Z-report or the shift opening after a day has passed
SHIFT_HOURS_PASSED = 25
SIGNS = {"receipt": 1, "refund": 2}  # the journal's receipt kinds and their calculation sign (1054)
RUN_LIMIT = 20.0  # seconds a terminal may run before it is killed anyway (it stopped talking to the registrar)


@dataclass
class FiscalTrialReport:
    """What the kills came to."""

    kills: int = 0
    points: Counter[tuple[str, str]] = field(default_factory=Counter)  # (command, phase) → kills there
    receipts: int = 0  # fiscal receipts in the drive at the end
    operations: int = 0  # operations that took money
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    @property
    def signing_kills(self) -> int:
        """Kills around FF45, the command that makes the fiscal drive sign a receipt."""
        return sum(n for (command, _), n in self.points.items() if command == "FF45")


class RemoteSwitch:
    """The kill switch of a separate `kiosk emulate fiscal` process, armed through its control line."""

    def __init__(self, rig: FiscalRig) -> None:
        self.rig = rig

    def arm(self, pid: int, target: int, phase: str, only: int | None = None) -> None:
        """Kill process pid at its target-th command (of kind `only`); pid 0 disarms."""
        if not pid:
            self.rig.command("kill-host off")
            return
        self.rig.command(f"kill-host {pid} {phase} {target}" + (f" {only:X}" if only is not None else ""))

    @property
    def hit(self) -> tuple[str, str] | None:
        """Where the last kill struck (command, phase), if it did."""
        where = self.rig.status().get("host_kill")
        return (where.split()[0], where.split()[1]) if where else None

    def advance_clock(self, hours: float) -> None:
        """A day passes on the registrar's clock."""
        self.rig.advance_clock(hours)


class LocalSwitch(KillSwitch):
    """The kill switch hooked into an in-process emulator."""

    def __init__(self, rig: LocalFiscalRig) -> None:
        if rig.emulator is None:
            raise RuntimeError("start the registrar first")
        super().__init__(rig.emulator.registrar)
        self.rig = rig

    def advance_clock(self, hours: float) -> None:
        """A day passes on the registrar's clock."""
        self.rig.advance_clock(hours)


def run_fiscal_trials(directory: str | Path, kills: int, seed: int = 0, separate: bool = False) -> FiscalTrialReport:
    """Kill `kills` times at random fiscal moments, drain, and check the registrar's documents against the journal.

    separate: the registrar is `kiosk emulate fiscal` in a process of its own (as in the demo), armed through its
    control line; otherwise it answers from this process.
    """
    directory = Path(directory)
    config_path = write_config(directory, gateway_mode="flaky", seed=seed)
    rng = random.Random(seed)
    report = FiscalTrialReport()
    started, cpu = time.monotonic(), _cpu()
    rig: FiscalRig | LocalFiscalRig = FiscalRig(directory) if separate else LocalFiscalRig(directory)
    with rig:
        make_fiscal(config_path, rig.port, **DRIVER_OPTIONS)
        switch: RemoteSwitch | LocalSwitch = (RemoteSwitch(rig) if isinstance(rig, FiscalRig)
                                              else LocalSwitch(rig))
        for trial in range(kills):
            child, output = _child(directory, "--seed", str(seed * 100_000 + trial))
            phase = rng.choice(("before", "after"))
            if trial % SHIFT_EVERY == SHIFT_EVERY - 1:
                # a day passes on the registrar: the next start-up or sale closes the shift and opens a new one
                switch.advance_clock(SHIFT_HOURS_PASSED)
                switch.arm(child.pid, 1, phase, only=rng.choice((sf.Z_REPORT, sf.OPEN_SHIFT)))
            elif rng.random() < SIGNING_SHARE:  # the moment that matters most: the drive signing a receipt
                switch.arm(child.pid, rng.randint(1, 3), phase, only=sf.FN_CLOSE_RECEIPT)
            else:
                switch.arm(child.pid, rng.randint(1, MAX_COMMAND), phase)
            try:
                child.wait(RUN_LIMIT)  # the switch kills it; a terminal that stopped talking is killed anyway
            except subprocess.TimeoutExpired:
                child.send_signal(signal.SIGKILL)
                child.wait()
            output.close()
            report.kills += 1
            report.points[switch.hit or ("none", "timer")] += 1
            switch.arm(0, 0, "before")
        drain, _ = _child(directory, "--drain")
        drain.communicate(timeout=600)
        if drain.returncode != 0:
            report.problems.append(f"the draining run failed with status {drain.returncode}")
    report.problems.extend(check_invariants(directory))
    report.problems.extend(check_fiscal(directory, rig.state_file))
    report.receipts = sum(1 for d in _documents(rig.state_file) if d["kind"] == "receipt")
    report.operations = len(_rows(directory / "journal.sqlite", "SELECT operation FROM operations WHERE cash > 0"))
    report.seconds, report.cpu_seconds = time.monotonic() - started, _cpu() - cpu
    return report


def _cpu() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _documents(state_file: Path) -> list[dict[str, Any]]:
    if not state_file.exists():
        return []
    return list(json.loads(state_file.read_text(encoding="utf-8"))["documents"].values())


def _rows(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def check_fiscal(directory: Path, state_file: Path) -> list[str]:
    """Every way a fiscal receipt could have been doubled or lost, as sentences; empty when all is well."""
    journal = directory / "journal.sqlite"
    problems = [f"fiscal drive: {p}" for p in FiscalDrive(state_file).verify()]
    drive = {d["fd"]: d for d in _documents(state_file)}
    rows = _rows(journal, "SELECT operation, kind, state, fd, fp, total FROM fiscal_documents")
    done = {fd: (op, kind, fp, total) for op, kind, state, fd, fp, total in rows if state == "done"}
    for op, kind, state, *_ in rows:
        if state == "intent":
            problems.append(f"operation {op}: a {kind} intent is still unresolved after the drain")
    for fd, document in drive.items():
        if fd not in done:
            problems.append(f"the drive holds {document['kind']} FD {fd} that the journal does not know (lost)")
            continue
        op, kind, fp, total = done[fd]
        receipt = kind in SIGNS  # a refund is a receipt of another calculation sign (1054)
        if (("receipt" if receipt else kind), fp) != (document["kind"], document["fp"]) or (
                receipt and SIGNS[kind] != document.get("kind_1054", 1)):
            problems.append(f"FD {fd}: the journal says {kind} FP {fp}, the drive {document['kind']} "
                            f"(1054 = {document.get('kind_1054')}) FP {document['fp']}")
        if receipt and total != document["total"]:
            problems.append(f"FD {fd} of operation {op}: the drive's total {document['total']} != {total}")
    for fd in set(done) - set(drive):
        problems.append(f"the journal records FD {fd} that the drive never made")
    per_operation = Counter(op for op, kind, *_ in done.values() if kind == "receipt")
    for op, count in per_operation.items():
        if count > 1:
            problems.append(f"operation {op} has {count} fiscal receipts")
    since = _rows(journal, "SELECT value FROM meta WHERE key='fiscal_since_operation'")
    first = int(since[0][0]) if since else 1
    for (op,) in _rows(journal, "SELECT operation FROM operations WHERE cash > 0 AND state NOT IN "
                                "('collecting', 'cancelled') AND operation >= ?", (first,)):
        if per_operation.get(op, 0) != 1:
            problems.append(f"operation {op} took money but has no fiscal receipt after the drain")
    return problems
