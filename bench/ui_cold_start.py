"""Cold start to the attract screen: a new Python process imports everything, opens the journal, starts the
terminal, builds the UI and flips the first frame (target under 2 s).

    .venv/bin/python bench/ui_cold_start.py [--runs 5] [--size 1920x1080]

On SDL's dummy driver this leaves out presentation and the input stack; bench/ui_xvfb.py measures the same
under a real X server with input through XTest, which is the figure to quote.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 2.0
CHILD = """
import os, sys, time
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
sys.path.insert(0, {bench!r})
from pathlib import Path
from ui_common import real_terminal
from kiosk.screens.ui import KioskUI
with real_terminal(Path({state!r})) as terminal:
    ui = KioskUI(terminal, size=({w}, {h}))
    ui.draw(force=True)
    assert ui.screen.name == "attract"
    print("FIRST_FRAME", time.time(), flush=True)
"""


def main() -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", default="1920x1080")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    times: list[float] = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as state:
            code = CHILD.format(bench=str(ROOT / "bench"), state=state, w=width, h=height)
            start = time.time()
            out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                                 env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}, check=True).stdout
            first = float(next(line for line in out.splitlines() if line.startswith("FIRST_FRAME")).split()[1])
            times.append(first - start)
    print(f"cold start to the first attract frame at {width}x{height}, {args.runs} runs: "
          f"median {statistics.median(times):.2f} s, max {max(times):.2f} s (process spawn included)")
    print(f"target < {TARGET} s: {'OK' if max(times) < TARGET else 'OVER'}")
    return 0 if max(times) < TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
