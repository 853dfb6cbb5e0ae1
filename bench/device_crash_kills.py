"""Crash safety with real bytes: the kiosk, driving a CCNET, ccTalk, ID003 or eSSP validator emulator over a
pseudo-terminal, is killed with SIGKILL at random moments while the emulator (another process) keeps its
cassette and payers keep feeding banknotes. After restart and reconciliation the cassette must hold exactly the
bills the journal credits, plus bills listed as uncertain — never one dropped or counted twice.

Uncertain bills are not lost (support settles them by the encashment count) but each one is work and a payer
who may wait: at restart the kiosk asks the device what became of its last bill, and only what the device
cannot tell is listed. The share printed is uncertain bills per bill credited.

The ccTalk emulator runs with a 1 s poll timeout, as real ccTalk units have: a unit whose event buffer is not
read stops drawing bills in, so payers' attempts while the kiosk restarts do not push the outcome of the bill
in flight out of the five-event buffer. (Without it: 6.0 % uncertain, 23 of 383 bills, 100 trials, seed 1.)

Target: >= 100 trials with no problem, uncertain share under 5 %.
Usage: ./dev bench device_crash_kills [TRIALS] [ccnet|cctalk|id003|essp] [SEED]
"""

from __future__ import annotations

import sys
import tempfile

from kiosk.emulators.kill_trials import run_device_trials

UNCERTAIN_TARGET = 0.05


def main() -> int:
    """Run the trials and print the figures."""
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    protocol = sys.argv[2] if len(sys.argv) > 2 else "ccnet"
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    with tempfile.TemporaryDirectory() as tmp:
        report = run_device_trials(tmp, kills=trials, protocol=protocol, seed=seed)
    print(f"{protocol}: trials (kills) {report.kills}; operations with money {report.operations}; bills credited "
          f"{report.bills}; bills listed as uncertain {report.uncertain} "
          f"({report.uncertain_share:.1%} of bills credited, target < {UNCERTAIN_TARGET:.0%}); "
          f"{report.seconds:.0f} s")
    for problem in report.problems[:20]:
        print(f"PROBLEM: {problem}")
    ok = not report.problems and report.kills >= trials and report.uncertain_share < UNCERTAIN_TARGET
    print(f"problems: {len(report.problems)}; {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
