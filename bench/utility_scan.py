"""Benchmark: a scanned ЕПД in the payment session, in CPU time (the machine may be shared and loaded).

    .venv/bin/python bench/utility_scan.py [scans]

Prints per scan: the bill read and matched to a provider (GOST R 56042 parse + catalog match), the split of a
payment across services, and the whole session step from the ScanCode event to the debt screen (parse, match,
account check against the in-process virtual gateway, the debt parsed), on the demo catalog. No target is set
by the brief; the figures show the scan costs a payer nothing noticeable next to the scanner's beep.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiosk import events as ev  # noqa: E402
from kiosk.bills.match import BillMatch, read_bill  # noqa: E402
from kiosk.utility import parse_debt  # noqa: E402
from kiosk.utility_demo import DEMO_DEBTS, SAMPLE_EPD  # noqa: E402


def cpu_ms(work, repeat: int) -> list[float]:  # noqa: ANN001
    """CPU milliseconds of each of `repeat` runs."""
    out = []
    for _ in range(repeat):
        start = time.process_time()
        work()
        out.append((time.process_time() - start) * 1000)
    return out


def main(scans: int = 300) -> int:
    """Print median and 95th percentile CPU times."""
    from kiosk.app import Terminal
    from kiosk.clock import ManualClock
    from kiosk.config import Part
    from kiosk.demo_config import demo_config

    code = SAMPLE_EPD.read_bytes()
    debt = parse_debt(DEMO_DEBTS["1048572"])
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-utility-") as temp:
        config = demo_config(Path(temp))
        config = dataclasses.replace(config, printer=Part("printer", "none", {}))
        terminal = Terminal(config, clock=ManualClock(config.timezone), background_checks=False)
        terminal.start(background_outbox=False)
        try:
            assert isinstance(read_bill(terminal.catalog, code), BillMatch)
            match = cpu_ms(lambda: read_bill(terminal.catalog, code), scans)
            split = cpu_ms(lambda: [debt.split_of(amount) for amount in range(100_00, 100_00 + 1000)], 20)

            def scan_to_debt() -> None:
                terminal.post(ev.ScanCode(code))
                terminal.pump()
                assert terminal.session.state == "debt", terminal.session.state
                terminal.post(ev.Cancel())
                terminal.pump()

            session = cpu_ms(scan_to_debt, max(20, scans // 5))
        finally:
            terminal.close()

    def line(name: str, values: list[float], per: int = 1) -> str:
        values = sorted(v / per for v in values)
        p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
        return f"{name:<48} median {statistics.median(values):8.3f} ms   p95 {p95:8.3f} ms   (CPU)"

    print(f"utility_scan: {scans} scans; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(line("bill read + matched to the provider", match))
    print(line("split of one payment across 4 services", split, per=1000))
    print(line("ScanCode → debt screen (session, check, debt)", session))
    return 0


if __name__ == "__main__":
    sys.exit(main(*(int(a) for a in sys.argv[1:2])))
