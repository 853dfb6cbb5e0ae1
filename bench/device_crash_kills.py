"""Crash safety with real bytes: the kiosk, driving a CCNET, ccTalk, ID003 or eSSP validator emulator over a
pseudo-terminal, is killed with SIGKILL at random moments while the emulator (another process) keeps its
cassette and payers keep feeding banknotes. After restart and reconciliation the cassette must hold exactly the
bills the journal credits, plus bills listed as uncertain — never one dropped or counted twice.

Target: >= 100 trials with no problem; bills listed as uncertain < 5 % of bills credited.
Usage: ./dev bench device_crash_kills [TRIALS] [ccnet|cctalk|id003|essp] [SEED]
"""

from __future__ import annotations

import sys
import tempfile

from kiosk.emulators.kill_trials import run_device_trials


def main() -> int:
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    protocol = sys.argv[2] if len(sys.argv) > 2 else "ccnet"
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    with tempfile.TemporaryDirectory() as tmp:
        report = run_device_trials(tmp, kills=trials, protocol=protocol, seed=seed)
    print(f"{protocol}: trials (kills) {report.kills}; operations with money {report.operations}; bills credited "
          f"{report.bills}; bills listed as uncertain {report.uncertain} "
          f"({report.uncertain / max(report.bills, 1) * 100:.1f} % of bills credited; target < 5 %); "
          f"{report.seconds:.0f} s")
    for problem in report.problems[:20]:
        print(f"PROBLEM: {problem}")
    ok = not report.problems and report.kills >= trials
    print(f"problems: {len(report.problems)}; {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
