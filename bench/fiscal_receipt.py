"""A paying agent's fiscal receipt through the Shtrih-M driver over a pty: commands per receipt, CPU ms per receipt.

The registrar emulator runs in its own process (`python -m kiosk.emulators.shtrih_cli`), so the driver's CPU
is this process alone (time.process_time); the emulator's own CPU (it writes its state file atomically, with
fsync, after every receipt) is shown beside it. Wall time is printed for reference only: on a pty the wire is
free, and with --baud the emulator paces bytes like a real line. Run:
.venv/bin/python bench/fiscal_receipt.py [receipts] [--baud N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiosk.drivers.shtrih import ShtrihRegistrar  # noqa: E402
from kiosk.fiscal import tlv  # noqa: E402
from kiosk.fiscal.port import TAX_NONE, FiscalItem, FiscalReceipt  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def receipt() -> FiscalReceipt:
    """Payment with agent and supplier data plus the agent's fee: the kiosk's usual receipt."""
    supplier = (tlv.byte(tlv.ITEM_AGENT_SIGN, tlv.AGENT_PAYING),
                tlv.stlv(tlv.AGENT_DATA, [tlv.string(tlv.AGENT_PHONE, "+74950000000")]),
                tlv.stlv(tlv.SUPPLIER_DATA, [tlv.string(tlv.SUPPLIER_PHONE, "+74952222222"),
                                             tlv.string(tlv.SUPPLIER_NAME, "ПАО МТС")]),
                tlv.inn(tlv.SUPPLIER_INN, "7740000076"))
    return FiscalReceipt(tlv.KIND_INCOME, (
        FiscalItem("Оплата: +7 912 345-67-89", 50000, 1000, tlv.SUBJECT_PAYMENT, tlv.METHOD_FULL, TAX_NONE, supplier),
        FiscalItem("Вознаграждение агента", 1500, 1000, tlv.SUBJECT_AGENT_FEE, tlv.METHOD_FULL, TAX_NONE),
    ), 60000, tlv.TAXATION_USN_INCOME, (tlv.byte(tlv.AGENT_SIGN, tlv.AGENT_PAYING),),
        ("Терминал 10001", "ул. Ленина, 1"))


def main() -> int:
    """Sell N receipts and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("receipts", nargs="?", type=int, default=200)
    parser.add_argument("--baud", type=int, help="pace the emulator's wire at this speed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fiscal-bench-") as folder:
        extra = ["--baud", str(args.baud)] if args.baud else []
        emulator = subprocess.Popen([sys.executable, "-m", "kiosk.emulators.shtrih_cli", "--state",
                                     str(Path(folder) / "fn.json"), *extra], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True, bufsize=1)
        assert emulator.stdout is not None and emulator.stdin is not None
        port = emulator.stdout.readline().strip().removeprefix("PORT=")
        try:
            with ShtrihRegistrar(port, answer_timeout=10.0, control_timeout=2.0) as driver:
                driver.open_shift()
                sample = receipt()
                driver.sell(sample)  # warm-up: imports, caches
                frames_before, cpu_emulator = driver.link.commands_sent, proc_cpu(emulator.pid)
                cpu, wall = time.process_time(), time.perf_counter()
                for _ in range(args.receipts):
                    driver.sell(sample)
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                frames = driver.link.commands_sent - frames_before
                cpu_emulator = proc_cpu(emulator.pid) - cpu_emulator
        finally:
            emulator.stdin.write("quit\n")
            emulator.stdin.flush()
            emulator.wait(10)
            emulator.stdin.close()
            emulator.stdout.close()
    n = args.receipts
    load = os.getloadavg()
    print(f"fiscal receipt (Shtrih-M over a pty{f' paced at {args.baud} baud' if args.baud else ''}), "
          f"{n} receipts of 2 items with agent/supplier TLVs and 2 header lines; load {load[0]:.1f}/{load[1]:.1f}")
    print(f"  commands per receipt: {frames / n:.1f}")
    print(f"  driver CPU: {cpu / n * 1000:.2f} ms per receipt ({cpu / frames * 1000:.3f} ms per command)")
    print(f"  emulator CPU: {cpu_emulator / n * 1000:.2f} ms per receipt (incl. the atomic state-file write)")
    print(f"  wall (reference only): {wall / n * 1000:.1f} ms per receipt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
