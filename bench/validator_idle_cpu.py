"""CPU used while idle-polling a validator at 100 ms (target < 2 % of one core), every wire protocol.

The emulator runs in its own process (`python -m kiosk.emulators.validator_cli`), so the figure for the
driver is this process alone; the emulator's own figure is shown beside it. Run:
.venv/bin/python bench/validator_idle_cpu.py [seconds [protocol …]]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiosk.registry import VALIDATORS, WIRE_VALIDATORS, load  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def measure(protocol: str, seconds: float) -> tuple[float, float, int]:
    """(driver % of a core, emulator % of a core, polls answered)."""
    emu = subprocess.Popen([sys.executable, "-m", "kiosk.emulators.validator_cli", "--protocol", protocol],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[1])
    assert emu.stdout is not None and emu.stdin is not None  # both pipes, as asked
    port = emu.stdout.readline().strip().removeprefix("PORT=")
    cls = load("validator driver", VALIDATORS, protocol)
    driver = cls(lambda _e: None, port, poll_interval=0.1, hotplug=False)
    try:
        driver.start()
        driver.enable(b.value for b in driver.bill_table())  # idling, accepting: the usual wait for a payer
        time.sleep(1)
        cpu0, emu0, wall0 = time.process_time(), proc_cpu(emu.pid), time.monotonic()
        time.sleep(seconds)
        cpu1, emu1, wall1 = time.process_time(), proc_cpu(emu.pid), time.monotonic()
        online = driver.status().online
    finally:
        driver.stop()
        emu.stdin.write("quit\n")
        emu.stdin.close()
        emu.wait(5)
        emu.stdout.close()
    wall = wall1 - wall0
    if not online:
        raise SystemExit(f"{protocol}: driver went offline during the measurement")
    return (cpu1 - cpu0) / wall * 100, (emu1 - emu0) / wall * 100, int(wall / 0.1)


def main() -> int:
    """Print the figures."""
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    print(f"validator idle CPU: poll every 100 ms for {seconds:.0f} s (target < 2 % of one core)")
    for protocol in sys.argv[2:] or WIRE_VALIDATORS:
        driver, emulator, polls = measure(protocol, seconds)
        verdict = "meets" if driver < 2 else "MISSES"
        print(f"  {protocol}: driver {driver:.2f} % of one core ({verdict} the < 2 % target), "
              f"emulator process {emulator:.2f} %, ~{polls} polls")
    return 0


if __name__ == "__main__":
    sys.exit(main())
