"""Drain committed payments through the real Outbox + Journal + OsmpGateway into the OSMP emulator.

The product's path: operations committed to a real journal (SQLite WAL, synchronous=FULL, on disk in a temp
folder), delivered by the Outbox's background loop through the Router and the OSMP adapter, each attempt
journaled before it leaves and after it returns. The yardstick: a bare httpx loop sending the same pay requests
to the same emulator with the same number of threads, nothing journaled, nothing parsed. Rounds alternate
(bare, outbox, bare, outbox …) so a drift in machine load hits both sides alike. The emulator runs in its own
process, as a provider would; its CPU is not counted on either side.

Targets (issue 10): outbox/bare ≥ 0.80 at zero gateway latency, ≥ 0.95 at 100 ms.

    .venv/bin/python bench/gateway_drain.py [--n 2000] [--slow-n 300] [--threads 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kiosk.catalog import Catalog, Category, Provider  # noqa: E402
from kiosk.clock import SystemClock  # noqa: E402
from kiosk.fees import NoFee  # noqa: E402
from kiosk.gateways.base import Route  # noqa: E402
from kiosk.gateways.osmp import OsmpGateway  # noqa: E402
from kiosk.gateways.router import Router  # noqa: E402
from kiosk.money import Money  # noqa: E402
from kiosk.offline_queue.journal import DELIVERED, Journal  # noqa: E402
from kiosk.offline_queue.outbox import Outbox  # noqa: E402
from kiosk.offline_queue.reconcile import commit_operation  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PROVIDER = Provider(id="mts", name={"en": "MTS"}, category="mobile", inn="7740000076", phone="", logo="",
                    fields=(), min_amount=Money(100), max_amount=Money(1_500_000), fee=NoFee(), offline=True,
                    online_check=False, routes=(Route("main", "1"),))
CATALOG = Catalog(1, (Category("mobile", {"en": "Mobile"}),), {"mts": PROVIDER})


class Emulator:
    """The OSMP emulator in its own process, driven through its control lines."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "kiosk.emulators.processing.cli", "gateway",
                                      "--protocol", "osmp", "--port", "0"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, cwd=ROOT)
        self.port = int(self._out.readline().strip().removeprefix("PORT="))
        self.url = f"http://127.0.0.1:{self.port}/osmp"

    @property
    def _out(self) -> IO[str]:
        assert self.proc.stdout is not None
        return self.proc.stdout

    def control(self, line: str) -> str:
        """Send one control line; its one-line answer."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self._out.readline().strip()

    def close(self) -> None:
        """Stop the process."""
        if self.proc.poll() is None:
            self.control("quit")
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                self.proc.wait(timeout=10)


class Side:
    """Figures of one side over all its rounds."""

    def __init__(self) -> None:
        self.rates: list[float] = []
        self.cpu_ms: list[float] = []
        self.switches: list[float] = []

    def add(self, n: int, seconds: float, cpu_seconds: float, switches: int) -> None:
        """One round: n payments in `seconds` of wall time, `cpu_seconds` of this process's CPU and `switches`
        thread switches."""
        self.rates.append(n / seconds)
        self.cpu_ms.append(cpu_seconds * 1000 / n)
        self.switches.append(switches / n)

    def rate(self) -> float:
        """Payments per second over all rounds (mean of rounds)."""
        return sum(self.rates) / len(self.rates)

    def cpu(self) -> float:
        """CPU milliseconds per payment (mean of rounds)."""
        return sum(self.cpu_ms) / len(self.cpu_ms)

    def switch_rate(self) -> float:
        """Thread switches per payment (mean of rounds)."""
        return sum(self.switches) / len(self.switches)


def _switches() -> int:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread's, ended ones included
    return usage.ru_nvcsw + usage.ru_nivcsw


def timed(run: Callable[[], None]) -> tuple[float, float, int]:
    """(wall seconds, process CPU seconds, thread switches) of one call; CPU counts every thread of this process.

    Switches matter at zero latency: threads that wait for the interpreter lock cost a switch pair each time
    it is handed over (Python's sqlite3 hands it over at every statement it steps).
    """
    wall, cpu, switches = time.perf_counter(), time.process_time(), _switches()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu, _switches() - switches


class Bare:
    """The yardstick: the adapter's GET pay request from a thread pool, reply checked for result 0 only."""

    def __init__(self, url: str, threads: int) -> None:
        limits = httpx.Limits(max_connections=threads, max_keepalive_connections=threads)
        self.client, self.url, self.threads = httpx.Client(limits=limits, timeout=60), url, threads
        self.next_txn = 9 * 10**15

    def pay(self, txn: int) -> bool:
        """One pay."""
        reply = self.client.get(self.url, params={"command": "pay", "txn_id": str(txn), "account": "9161234567",
                                                  "sum": "100.00", "prv_id": "1", "txn_date": "20240301120000"})
        return reply.status_code == 200 and b"<result>0</result>" in reply.content

    def round(self, n: int) -> None:
        """Send n pays with `threads` workers."""
        txns = range(self.next_txn, self.next_txn + n)
        self.next_txn += n
        with ThreadPoolExecutor(self.threads) as pool:
            if not all(pool.map(self.pay, txns, chunksize=16)):
                raise SystemExit("a bare request failed; the figures would mean nothing")


class Product:
    """The real path: Journal + Outbox (background loop) + Router + OsmpGateway."""

    def __init__(self, url: str, threads: int, folder: Path, profile: str) -> None:
        self.clock = SystemClock(ZoneInfo("Europe/Moscow"))
        self.journal = Journal(folder / "journal.sqlite", "10001", "RUB", self.clock.now)
        self.gateway = OsmpGateway("main", {"url": url, "timezone": "Europe/Moscow", "max_connections": threads,
                                            "timeout": 30, "profile": profile})
        self.router, self.threads = Router({"main": self.gateway}), threads

    def commit(self, n: int) -> list[int]:
        """n operations committed to the journal (not timed: the payer's part)."""
        numbers = []
        for _ in range(n):
            op = self.journal.open_operation("mts", "9161234567", {"account": "9161234567"}, max_cash=100_00)
            self.journal.record_bill(op.operation, 100_00, "virtual", f"bill-{op.operation}")
            numbers.append(commit_operation(self.journal, CATALOG, op.operation, "pay").operation)
        return numbers

    def round(self, numbers: list[int]) -> None:
        """Start the outbox as a terminal does (background loop) and let it deliver them all.

        Each settled operation is counted by the outbox's on_settled callback; this thread sleeps until the count
        is complete (one wake-up per round, as the bare side's pool.map wakes once per chunk, not per payment).
        """
        left, lock, done = [len(numbers)], threading.Lock(), threading.Event()

        def settled(number: int, state: str) -> None:
            with lock:
                left[0] -= 1
                if left[0] == 0:
                    done.set()

        outbox = Outbox(self.journal, self.router, CATALOG, concurrency=self.threads, on_settled=settled)
        outbox.start()
        try:
            if not done.wait(timeout=120 + len(numbers) / 10):
                raise SystemExit("the outbox stalled; the figures would mean nothing")
        finally:
            outbox.stop()

    def check(self, numbers: list[int]) -> None:
        """Every operation of a round delivered (after its timing: reading them back is not delivering them)."""
        if any(self.journal.get(n).state != DELIVERED for n in numbers):
            raise SystemExit("an operation was not delivered; the figures would mean nothing")

    def close(self) -> None:
        """Close the adapter and the journal."""
        self.gateway.close()
        self.journal.close()


def measure(emulator: Emulator, latency_ms: int, n: int, rounds: int, threads: int,
            folder: Path, profile: str) -> tuple[Side, Side]:
    """Interleaved rounds at one emulator latency: (bare, outbox)."""
    emulator.control(f"latency {latency_ms}")
    bare, product = Bare(emulator.url, threads), Product(emulator.url, threads, folder, profile)
    try:
        bare.round(min(n, 200))  # warm-up: connections, imports, caches
        warm = product.commit(min(n, 200))
        product.round(warm)
        product.check(warm)
        bare_side, product_side = Side(), Side()
        for _ in range(rounds):
            bare_side.add(n, *timed(lambda: bare.round(n)))
            numbers = product.commit(n)
            product_side.add(n, *timed(lambda batch=numbers: product.round(batch)))
            product.check(numbers)
        return bare_side, product_side
    finally:
        product.close()
        bare.client.close()


def main() -> int:
    """Run the benchmark and print the figures."""
    args = argparse.ArgumentParser()
    args.add_argument("--n", type=int, default=2000, help="payments per round at zero latency")
    args.add_argument("--slow-n", type=int, default=300, help="payments per round at 100 ms latency")
    args.add_argument("--threads", type=int, default=8)
    args.add_argument("--rounds", type=int, default=3)
    args.add_argument("--profile", default="osmp", help="the gateway's profile (kiosk/gateways/profiles.py), the "
                      "emulator's too; 'rebooking' takes the path where each worker journals its own attempt")
    opts = args.parse_args()
    emulator = Emulator()
    emulator.control(f"profile {opts.profile}")
    folder = Path(tempfile.mkdtemp(prefix="kiosk-drain-"))
    try:
        print(f"threads (bare) = outbox concurrency = {opts.threads}; rounds interleaved: {opts.rounds} per side; "
              f"gateway profile {opts.profile}")
        for latency, n, target in ((0, opts.n, 0.80), (100, opts.slow_n, 0.95)):
            bare, product = measure(emulator, latency, n, opts.rounds, opts.threads, folder / f"l{latency}",
                                    opts.profile)
            ratio = product.rate() / bare.rate()
            print(f"\ngateway latency {latency} ms, {n} payments per round")
            print(f"  bare httpx loop:           {bare.rate():8.1f} pay/s  (rounds: "
                  f"{', '.join(f'{r:.0f}' for r in bare.rates)}); CPU {bare.cpu():.2f} ms, "
                  f"{bare.switch_rate():.1f} thread switches per payment")
            print(f"  Outbox+Journal+OsmpGateway:{product.rate():8.1f} pay/s  (rounds: "
                  f"{', '.join(f'{r:.0f}' for r in product.rates)}); CPU {product.cpu():.2f} ms, "
                  f"{product.switch_rate():.1f} thread switches per payment")
            print(f"  ratio outbox/bare:         {ratio:8.2f}  (target ≥ {target:.2f}) "
                  f"{'met' if ratio >= target else 'NOT MET'}")
        print(f"\nemulator: {emulator.control('status')}")
    finally:
        emulator.close()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
