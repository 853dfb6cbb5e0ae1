"""Latency from "stacked" on the device to the durable journal record, CCNET and ccTalk at 100 ms polling.

The emulator stamps the moment a bill reaches the cassette; the host's callback writes the bill to a real
journal (SQLite WAL, synchronous=FULL, one fsync'd transaction) and stamps when that commit returns.
A pseudo-terminal moves bytes instantly, so the wire's own time at 9600 baud (frame bytes × 10 bits ÷ baud,
8N1) is computed and added to give the estimate for a real line. Run: .venv/bin/python bench/validator_latency.py
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiosk.clock import SystemClock  # noqa: E402
from kiosk.drivers.ccnet import CcnetValidator  # noqa: E402
from kiosk.drivers.cctalk import CctalkValidator  # noqa: E402
from kiosk.drivers.validator import Escrow, Stacked  # noqa: E402
from kiosk.emulators.ccnet import CcnetEmulator  # noqa: E402
from kiosk.emulators.cctalk import CctalkEmulator  # noqa: E402
from kiosk.offline_queue.journal import Journal  # noqa: E402

BAUD, POLL, BILLS = 9600, 0.1, 25
# Bytes on the wire for the report that carries the credit: request + reply (+ the host's ACK for CCNET).
WIRE_BYTES = {"ccnet": 6 + 7 + 6, "cctalk": 5 + 16}


def measure(protocol: str) -> list[float]:
    """Seconds from stacking to callback, for each bill."""
    emu = CcnetEmulator(step_seconds=0.05) if protocol == "ccnet" else CctalkEmulator(step_seconds=0.05)
    stacked_at: list[float] = []
    into = emu._into_cassette if protocol == "ccnet" else emu._stack

    def stamped():
        ok = into()
        stacked_at.append(time.perf_counter())
        return ok
    if protocol == "ccnet":
        emu._into_cassette = stamped
    else:
        emu._stack = stamped
    emu.start()
    seen: list[float] = []
    done = threading.Event()
    driver = None
    tmp = tempfile.TemporaryDirectory()
    journal = Journal(Path(tmp.name) / "journal.sqlite", "10001", "RUB", SystemClock(ZoneInfo("Europe/Moscow")).now)
    operation = journal.open_operation("mts", "9123456789", {}, max_cash=10**12).operation

    def on_event(event):
        if isinstance(event, Stacked):
            journal.record_bill(operation, event.bill.value, protocol, event.event_id)  # durable before we stamp
            seen.append(time.perf_counter())
            done.set()
        elif isinstance(event, Escrow):
            driver.stack()
    cls = CcnetValidator if protocol == "ccnet" else CctalkValidator
    driver = cls(on_event, emu.path, baudrate=BAUD, poll_interval=POLL, hotplug=False)
    try:
        driver.start()
        driver.enable(b.value for b in driver.bill_table())
        time.sleep(0.3)
        rng = random.Random(7)
        for _ in range(BILLS):
            done.clear()
            # A mechanism's own timing, unrelated to the host's poll phase: stacking lands anywhere in it.
            emu.step_seconds = rng.uniform(0.02, 0.22)
            while not emu.insert(100).startswith("ok"):
                time.sleep(0.01)
            if not done.wait(5):
                raise SystemExit(f"{protocol}: no Stacked within 5 s")
            time.sleep(0.05)
    finally:
        driver.stop()
        emu.stop()
        journal.close()
        tmp.cleanup()
    return [b - a for a, b in zip(stacked_at, seen, strict=True)]


def main() -> int:
    """Print the figures."""
    print(f"validator latency: stacked on device → durable journal record; {BAUD} baud, poll {POLL * 1000:.0f} ms, "
          f"{BILLS} bills each")
    for protocol in ("ccnet", "cctalk"):
        lat = sorted(measure(protocol))
        wire = WIRE_BYTES[protocol] * 10 / BAUD
        mean, p95, worst = statistics.mean(lat), lat[int(len(lat) * 0.95) - 1], lat[-1]
        print(f"  {protocol}: measured on pty mean {mean * 1000:.1f} ms, median {statistics.median(lat) * 1000:.1f} ms,"
              f" p95 {p95 * 1000:.1f} ms, max {worst * 1000:.1f} ms")
        print(f"    wire's own limit {WIRE_BYTES[protocol]} bytes ÷ {BAUD} baud = {wire * 1000:.1f} ms; "
              f"estimated on a real line: mean {(mean + wire) * 1000:.1f} ms, max {(worst + wire) * 1000:.1f} ms")
        print(f"    added latency over the wire limit: mean {mean * 1000:.1f} ms "
              f"({mean / POLL:.2f} poll periods), max {worst * 1000:.1f} ms; "
              f"under one poll period: mean {'yes' if mean < POLL else 'NO'}, max {'yes' if worst < POLL else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
