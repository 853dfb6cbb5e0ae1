"""Latency from "stacked" on the device to the durable journal record, every wire protocol at 100 ms polling.

The emulator stamps the moment a bill reaches the cassette; the host's callback writes the bill to a real
journal (SQLite WAL, synchronous=FULL, one fsync'd transaction) and stamps when that commit returns.
A pseudo-terminal moves bytes instantly, so the wire's own time at 9600 baud (frame bytes × bits per byte ÷
baud: 10 for 8N1, 11 for ID003's 8E1 and SSP's 8N2) is computed and added to give the estimate for a real line.
"Stacked" is the credit point: CCNET/ccTalk "stacked", ID003 VEND VALID, eSSP "credit note".
Run: .venv/bin/python bench/validator_latency.py [protocol …]
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
from kiosk.drivers.validator import Escrow, Stacked  # noqa: E402
from kiosk.emulators.ccnet import CcnetEmulator  # noqa: E402
from kiosk.emulators.cctalk import CctalkEmulator  # noqa: E402
from kiosk.emulators.essp import EsspEmulator  # noqa: E402
from kiosk.emulators.id003 import Id003Emulator  # noqa: E402
from kiosk.offline_queue.journal import Journal  # noqa: E402
from kiosk.registry import VALIDATORS, WIRE_VALIDATORS, load  # noqa: E402

BAUD, POLL, BILLS = 9600, 0.1, 25
# Per protocol: the emulator, its method that puts a bill in the cassette, the bytes on the wire for the report
# that carries the credit (request + reply, + the host's ACK for CCNET, which goes out before the credit is
# handled; ID003's ACK and eSSP's EVENT ACK go out after it) and bits per byte. eSSP: POLL WITH ACK, an
# encrypted packet (STX SEQ LEN STEX+16 CRC CRC) and its reply.
PROTOCOLS = {
    "ccnet": (CcnetEmulator, "_into_cassette", 6 + 7 + 6, 10),
    "cctalk": (CctalkEmulator, "_stack", 5 + 16, 10),
    "id003": (Id003Emulator, "_into_cassette", 5 + 5, 11),
    "essp": (EsspEmulator, "_into_cassette", 2 * 22, 11),
}


def measure(protocol: str) -> list[float]:
    """Seconds from stacking to callback, for each bill."""
    factory, hook, _bytes, _bits = PROTOCOLS[protocol]
    emu = factory(step_seconds=0.05)
    stacked_at: list[float] = []
    into = getattr(emu, hook)

    def stamped():
        ok = into()
        stacked_at.append(time.perf_counter())
        return ok
    setattr(emu, hook, stamped)
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
    cls = load("validator driver", VALIDATORS, protocol)
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
    for protocol in sys.argv[1:] or WIRE_VALIDATORS:
        lat = sorted(measure(protocol))
        wire_bytes, bits = PROTOCOLS[protocol][2:]
        wire = wire_bytes * bits / BAUD
        mean, p95, worst = statistics.mean(lat), lat[int(len(lat) * 0.95) - 1], lat[-1]
        busy = load("validator driver", VALIDATORS, protocol).DEFAULTS.get("busy_poll_interval")
        if busy:
            print(f"  ({protocol} polls every {float(busy) * 1000:.0f} ms while a bill travels to the cassette)")
        print(f"  {protocol}: measured on pty mean {mean * 1000:.1f} ms, median {statistics.median(lat) * 1000:.1f} ms,"
              f" p95 {p95 * 1000:.1f} ms, max {worst * 1000:.1f} ms")
        print(f"    wire's own limit {wire_bytes} bytes × {bits} bits ÷ {BAUD} baud = {wire * 1000:.1f} ms; "
              f"estimated on a real line: mean {(mean + wire) * 1000:.1f} ms, max {(worst + wire) * 1000:.1f} ms")
        print(f"    added latency over the wire limit: mean {mean * 1000:.1f} ms "
              f"({mean / POLL:.2f} poll periods), max {worst * 1000:.1f} ms; "
              f"under one poll period: mean {'yes' if mean < POLL else 'NO'}, max {'yes' if worst < POLL else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
