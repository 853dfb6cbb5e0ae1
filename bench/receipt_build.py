"""Benchmark: median time to build a payment receipt model and encode it to ESC/POS, per paper width.

    .venv/bin/python bench/receipt_build.py [runs]

Target: under 20 ms per receipt on the terminal PC.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiosk.drivers.escpos_render import EscposRenderer, printer_model  # noqa: E402
from kiosk.emulators.sample_receipts import payment_data  # noqa: E402
from kiosk.receipt import build_payment  # noqa: E402

TARGET_MS = 20.0


def main(runs: int = 200) -> int:
    """Print the median build+encode time per model and its ratio to the target; 1 if any misses it."""
    data = payment_data()
    worst = 0.0
    for name in ("generic-58", "generic-80-42", "generic-80-48"):
        renderer = EscposRenderer(printer_model(name))
        renderer.render(build_payment(data))  # warm-up: code page tables, imports
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            size = len(renderer.render(build_payment(data)))
            times.append((time.perf_counter() - start) * 1000)
        median = statistics.median(times)
        worst = max(worst, median)
        print(f"{name:14s} median {median:6.2f} ms  p95 {sorted(times)[int(runs * 0.95) - 1]:6.2f} ms  "
              f"{size:5d} bytes  ({median / TARGET_MS:.2f} of the {TARGET_MS:.0f} ms target, {runs} runs)")
    return 0 if worst < TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
