"""Fiscal receipts through the whole terminal: payments in the real session print on the emulated Shtrih-M
registrar through the real driver over a pty; prints commands, wall and CPU time per receipt (this process: the
terminal, the driver and, in a thread, the emulator — CPU is the figure that does not depend on the machine's
load), and checks every receipt is in the drive and in the journal.

Usage: ./dev bench fiscal_receipts [PAYMENTS]
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from kiosk import events as ev
from kiosk.app import Terminal
from kiosk.clock import ManualClock
from kiosk.config import load_config
from kiosk.drivers.virtual import VirtualValidator
from kiosk.emulators.fiscal_rig import LocalFiscalRig
from kiosk.emulators.payer_process import write_config


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _pay(terminal: Terminal, rub: int) -> int:
    for event in (ev.Touch(), ev.ChooseProvider("t2"), ev.EditAccount("9501234567"), ev.SubmitAccount(),
                  ev.Confirm()):
        terminal.post(event)
        terminal.pump()
    number = terminal.session.operation
    if number is None:
        raise RuntimeError(f"no operation opened (state {terminal.session.state})")
    if not isinstance(terminal.validator, VirtualValidator):
        raise TypeError("the benchmark pays through the in-process virtual validator")
    terminal.validator.insert(rub * 100)
    terminal.pump()
    terminal.post(ev.Pay())
    terminal.pump()
    terminal.outbox.wait_idle()
    terminal.pump()
    terminal.post(ev.ReceiptTaken())
    terminal.pump()
    return number


def main() -> int:
    payments = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp, LocalFiscalRig(Path(tmp)) as rig:
        config = rig.configure(load_config(write_config(Path(tmp), gateway_mode="ok")))
        terminal = Terminal(config, clock=ManualClock(config.timezone), background_checks=False)
        terminal.start(background_outbox=False)
        try:
            _pay(terminal, 100)  # the first payment also opens the shift: not measured
            assert rig.emulator is not None
            commands, wall, cpu = rig.emulator.commands, time.perf_counter(), _cpu()
            numbers = [_pay(terminal, 500) for _ in range(payments)]
            wall, cpu = time.perf_counter() - wall, _cpu() - cpu
            commands = rig.emulator.commands - commands
            statuses = [terminal.journal.get(n).details.get("fiscal", {}).get("status") for n in numbers]
        finally:
            terminal.close()
        receipts = sum(1 for d in rig.documents() if d["kind"] == "receipt")
    print(f"{payments} payments, each with its fiscal receipt (2 items with agent TLVs, the slip's lines above): "
          f"{commands / payments:.0f} registrar commands per payment")
    print(f"per payment: {wall / payments * 1000:.0f} ms wall, {cpu / payments * 1000:.0f} ms CPU "
          f"(session, journal, driver and the emulator thread); load average at start {load:.1f}")
    ok = statuses.count("done") == payments and receipts == payments + 1
    print(f"receipts in the drive: {receipts}; journaled done: {statuses.count('done')}; {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
