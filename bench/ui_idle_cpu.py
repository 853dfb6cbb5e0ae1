"""Idle CPU of the kiosk's pygame loop on the attract screen (target: under 3 % of one core, no busy loop).

Runs the real loop (KioskUI.run) over a real Terminal on the system clock, with the outbox thread running,
for --seconds, and divides the process's CPU time by the wall time.

    .venv/bin/python bench/ui_idle_cpu.py [--seconds 10] [--size 1920x1080]

SDL_VIDEODRIVER=dummy is the default here (headless); with a display, e.g. DISPLAY=:99 SDL_VIDEODRIVER=x11.

On SDL's dummy driver this leaves out presentation and the input stack; bench/ui_xvfb.py measures the same
under a real X server with input through XTest, which is the figure to quote.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET = 3.0


def main() -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--size", default="1920x1080")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))

    from ui_common import real_terminal

    from kiosk.screens.ui import KioskUI

    with tempfile.TemporaryDirectory() as temp, real_terminal(Path(temp)) as terminal:
        ui = KioskUI(terminal, size=(width, height))
        ui.draw(force=True)
        stop = threading.Timer(args.seconds, lambda: setattr(ui, "exit_code", 0))
        wall, cpu = time.perf_counter(), time.process_time()
        stop.start()
        ui.run()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        stop.cancel()
    share = 100 * cpu / wall
    print(f"idle on the attract screen for {wall:.1f} s at {width}x{height} "
          f"({os.environ['SDL_VIDEODRIVER']} video driver)")
    print(f"CPU: {cpu * 1000:.0f} ms = {share:.2f} % of one core (target < {TARGET} %) "
          f"{'OK' if share < TARGET else 'OVER'}")
    return 0 if share < TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
