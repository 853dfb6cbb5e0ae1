"""Benchmark: a scanned ЕПД code from the scanner's last byte to a parsed bill, and the parser alone.

    .venv/bin/python bench/scanner_latency.py [scans]

End to end: the scanner emulator writes a real-looking sample (code + CR LF) to a pseudo-terminal, the serial
scanner driver frames it and hands it over, GOST R 56042 parses it. Target: a bill on the screen well inside
the scanner's beep, under 50 ms. The parser alone is also printed per code, against the same samples.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiosk.bills.gost_qr import PaymentCode, parse  # noqa: E402
from kiosk.drivers.scanner_serial import SerialScanner  # noqa: E402
from kiosk.emulators.scanner import ScannerEmulator  # noqa: E402

TARGET_MS = 50.0
SAMPLES = sorted((Path(__file__).resolve().parents[1] / "tests" / "bills" / "data").glob("*.qr"))


def main(scans: int = 200) -> int:
    """Print median and 95th-percentile scan-to-bill latency and the parse time; 1 if the target is missed."""
    codes = [p.read_bytes().rstrip(b"\r\n") for p in SAMPLES]
    valid = [c for c in codes if isinstance(parse(c), PaymentCode)]
    start = time.perf_counter()
    rounds = 200
    for _ in range(rounds):
        for code in codes:
            parse(code)
    parse_us = (time.perf_counter() - start) / (rounds * len(codes)) * 1e6

    emulator = ScannerEmulator(suffix=b"\r\n")
    emulator.start()
    latencies = []
    try:
        with SerialScanner(emulator.path, suffix="crlf", hotplug=False, reconnect_interval=0.05) as scanner:
            while not scanner.connected:
                time.sleep(0.01)
            for index in range(scans):
                code = valid[index % len(valid)]
                sent = time.perf_counter()
                emulator.scan(code)
                got = scanner.get(timeout=2)
                bill = parse(got) if got else None
                if not isinstance(bill, PaymentCode):
                    print(f"scan {index}: lost or refused ({bill})")
                    return 1
                latencies.append((time.perf_counter() - sent) * 1000)
    finally:
        emulator.stop()
    median = statistics.median(latencies)
    p95 = statistics.quantiles(latencies, n=20)[-1]
    print(f"parse alone: {parse_us:.1f} µs per code ({len(codes)} samples, valid and refused)")
    print(f"scan → parsed bill over a pty: median {median:.2f} ms, p95 {p95:.2f} ms over {scans} scans "
          f"(median/target {median / TARGET_MS:.3f}, target {TARGET_MS:.0f} ms)")
    return 0 if p95 < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
