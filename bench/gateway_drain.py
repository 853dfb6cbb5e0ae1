"""Drain N pay requests into the OSMP emulator through OsmpGateway with bounded concurrency.

Compares throughput with a bare httpx loop sending the same requests to the same emulator in the same run
(target: ratio ≥ 0.8) and reports peak memory. The emulator runs in its own process, as it would in the field,
so the figures measure the client side rather than a shared GIL.

    .venv/bin/python bench/gateway_drain.py [--n 10000] [--threads 8]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kiosk.gateways.base import Approved, PaymentRequest, Route  # noqa: E402
from kiosk.gateways.osmp import OsmpGateway  # noqa: E402
from kiosk.money import Money  # noqa: E402

ACCEPTED = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def request(n: int) -> PaymentRequest:
    """Operation n as the outbox would hand it over."""
    return PaymentRequest("10001", n, f"10001-{n}", n, f"10001N{n}", "mts", Route("main", "1"),
                          "9161234567", {}, Money(100_00), Money(0), Money(100_00), ACCEPTED)


def drain(work, items, threads: int) -> float:
    """Run work(item) over items with `threads` workers; returns requests per second."""
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for ok in pool.map(work, items, chunksize=64):
            if not ok:
                raise SystemExit("a request failed; the figures would mean nothing")
    return len(items) / (time.perf_counter() - start)


def main() -> int:
    """Run the benchmark and print the figures."""
    args = argparse.ArgumentParser()
    args.add_argument("--n", type=int, default=10_000)
    args.add_argument("--threads", type=int, default=8)
    opts = args.parse_args()
    server = subprocess.Popen([sys.executable, "-m", "kiosk.emulators.processing.cli", "gateway", "--protocol",
                               "osmp", "--port", "0"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parent.parent)
    try:
        port = int(server.stdout.readline().strip().removeprefix("PORT="))
        url = f"http://127.0.0.1:{port}/osmp"
        limits = httpx.Limits(max_connections=opts.threads, max_keepalive_connections=opts.threads)
        bare = httpx.Client(limits=limits, timeout=60)

        def bare_pay(n: int) -> bool:
            # the same request the adapter sends, without the adapter: parameters, GET, read, parse nothing
            reply = bare.get(url, params={"command": "pay", "txn_id": str(n), "account": "9161234567",
                                          "sum": "100.00", "prv_id": "1", "txn_date": "20240301120000"})
            return reply.status_code == 200 and b"<result>0</result>" in reply.content

        gateway = OsmpGateway("main", {"url": url, "timezone": "Europe/Moscow", "max_connections": opts.threads})

        def adapter_pay(item: int | PaymentRequest) -> bool:
            return isinstance(gateway.pay(item if isinstance(item, PaymentRequest) else request(item)), Approved)

        drain(bare_pay, range(10_000_000, 10_000_500), opts.threads)  # warm-up: connections, imports
        drain(adapter_pay, range(20_000_000, 20_000_500), opts.threads)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # alternate quarters so a drift in machine load hits both sides equally
        quarter = opts.n // 4
        bare_rates, adapter_rates = [], []
        for q in range(4):
            requests = [request(n) for n in range(40_000_000 + q * quarter, 40_000_000 + (q + 1) * quarter)]
            bare_rates.append(drain(bare_pay, range(30_000_000 + q * quarter, 30_000_000 + (q + 1) * quarter),
                                    opts.threads))
            adapter_rates.append(drain(adapter_pay, requests, opts.threads))
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.start()
        drain(adapter_pay, range(50_000_000, 50_001_000), opts.threads)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        gateway.close()
        bare.close()
        server.stdin.write("status\n")
        server.stdin.flush()
        status = server.stdout.readline().strip()
        bare_rate, adapter_rate = sum(bare_rates) / 4, sum(adapter_rates) / 4
        print(f"requests per side:        {opts.n} (threads: {opts.threads})")
        print(f"bare httpx loop:          {bare_rate:8.0f} req/s  (quarters: {', '.join(f'{r:.0f}' for r in bare_rates)})")
        print(f"OsmpGateway.pay:          {adapter_rate:8.0f} req/s  (quarters: "
              f"{', '.join(f'{r:.0f}' for r in adapter_rates)})")
        print(f"ratio adapter/bare:       {adapter_rate / bare_rate:8.2f}  (target ≥ 0.80)")
        print(f"peak RSS (ru_maxrss):     {rss_after / 1024:8.1f} MiB (before the measured runs: "
              f"{rss_before / 1024:.1f} MiB)")
        print(f"tracemalloc peak, 1000 adapter pays: {peak / 1024:.0f} KiB")
        print(f"emulator: {status}")
        server.stdin.write("quit\n")
        server.stdin.flush()
        server.wait(timeout=10)
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
