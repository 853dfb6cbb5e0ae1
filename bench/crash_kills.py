"""Crash safety, long run: a paying terminal process is killed with SIGKILL at random moments, again and again,
with flaky gateways that lose replies; then it restarts, reconciles and drains, and every invariant is checked:
every stacked bill belongs to exactly one operation, no operation was booked twice, totals match.

Target: >= 200 kills with no problem.   Usage: ./dev bench crash_kills [KILLS] [SEED]
"""

from __future__ import annotations

import sys
import tempfile

from kiosk.emulators.kill_trials import run_trials


def main() -> int:
    kills = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    with tempfile.TemporaryDirectory() as tmp:
        report = run_trials(tmp, kills=kills, seed=seed)
    print(f"kills: {report.kills}; operations with money: {report.operations}; bills stacked: {report.bills}; "
          f"{report.seconds:.0f} s")
    for problem in report.problems[:20]:
        print(f"PROBLEM: {problem}")
    ok = not report.problems and report.kills >= kills
    print(f"problems: {len(report.problems)}; {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
