"""Crash safety of fiscal receipts: a paying terminal whose printer is the emulated Shtrih-M fiscal registrar is
killed with SIGKILL at chosen commands of its receipts (40 % of the kills at FF45, where the fiscal drive signs;
every fifth after a day passed on the registrar's clock, at the Z-report or the shift opening; half before the
command runs, half after it ran and before the answer is read), restarted, and finally drained.
Then: every fiscal document in the drive's state file is journaled with its operation, no payment has two, every
payment that took money has one, and the money invariants of the ordinary kill trials hold.

With `separate`, the registrar is `kiosk emulate fiscal` in a process of its own (as in the demo) and the kills
come from its `kill-host` switch; otherwise it answers from this process.

Target: >= 100 kills with no problem.   Usage: ./dev bench fiscal_kills [KILLS] [SEED] [separate]
"""

from __future__ import annotations

import os
import sys
import tempfile

from kiosk.emulators.fiscal_kill_trials import run_fiscal_trials


def main() -> int:
    kills = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    separate = len(sys.argv) > 3 and sys.argv[3] == "separate"
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        report = run_fiscal_trials(tmp, kills=kills, seed=seed, separate=separate)
    points = ", ".join(f"{command} {phase}: {n}" for (command, phase), n in sorted(report.points.items()))
    print(f"registrar: {'a separate kiosk emulate fiscal process' if separate else 'in this process'}")
    print(f"kills: {report.kills}; distinct kill points (command, phase): {len(report.points)}; "
          f"kills around FF45 (signing): {report.signing_kills}")
    print(f"kill points: {points}")
    print(f"operations with money: {report.operations}; fiscal receipts in the drive: {report.receipts}; "
          f"{report.seconds:.0f} s wall, {report.cpu_seconds:.0f} s CPU (this process and its children); "
          f"load average at start {load:.1f}")
    for problem in report.problems[:20]:
        print(f"PROBLEM: {problem}")
    ok = not report.problems and report.kills >= kills and report.receipts == report.operations
    print(f"problems: {len(report.problems)}; {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
