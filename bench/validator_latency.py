"""How long a banknote waits for the host, every wire protocol at the production poll period (100 ms).

Everything between the device and the journal is the production path: the real driver polls the emulator over
a pseudo-terminal, its events go through the terminal's event queue to the payment session (woken at once, as
the screen loop is), and the session makes both of its durable journal writes per bill — `stack_commanded`
before STACK is sent, `record_bill` when the bill is reported stacked (SQLite WAL, synchronous=FULL).

The wire: by default the emulator paces its line at 9600 baud — 8N1 for CCNET and ccTalk, 11 bits a byte for
ID003's 8E1 and SSP's 8N2 (a request is acted on once its last byte would have arrived; replies leave byte by
byte), so the figures include the wire's own time as on a real RS-232 line. `--pty` measures on the bare
pseudo-terminal instead (no wire time) and says so.

Two intervals per bill, both stamped inside the emulator (the device's point of view):
  decision  the device holds the bill in escrow → the device receives STACK (poll + queue + stack_commanded);
            for eSSP, whose STACK is the next POLL after the escrow report, the POLL that accepts the note
  credit    the bill lands in the cassette → `record_bill` has committed (poll + queue + record_bill); the
            cassette is written just before the credit point is reported (ID003 VEND VALID, eSSP credit note)
ID003 and eSSP poll every 10 ms while a bill travels to the cassette (busy_poll_interval), 100 ms otherwise.
Not included: the screen redraw that follows (see ui_touch_feedback) and the real device's own mechanics.
Run: ./dev bench validator_latency [--pty] [--bills N] [protocol …]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiosk import events as ev  # noqa: E402
from kiosk.app import Terminal  # noqa: E402
from kiosk.clock import ManualClock  # noqa: E402
from kiosk.config import Part, load_config  # noqa: E402
from kiosk.drivers import ccnet_frame as cf  # noqa: E402
from kiosk.drivers import cctalk_frame as cc  # noqa: E402
from kiosk.drivers import id003_frame as jf  # noqa: E402
from kiosk.emulators.ccnet import CcnetEmulator  # noqa: E402
from kiosk.emulators.cctalk import CctalkEmulator  # noqa: E402
from kiosk.emulators.essp import EsspEmulator  # noqa: E402
from kiosk.emulators.id003 import Id003Emulator  # noqa: E402
from kiosk.emulators.payer_process import write_config  # noqa: E402
from kiosk.registry import WIRE_VALIDATORS  # noqa: E402

EMULATORS = {"ccnet": CcnetEmulator, "cctalk": CctalkEmulator, "id003": Id003Emulator, "essp": EsspEmulator}

BAUD, POLL = 9600, 0.1


class Stamps:
    """Moments seen inside the emulator and after the journal's commits (perf_counter seconds)."""

    def __init__(self) -> None:
        self.escrow: list[float] = []
        self.stack_received: list[float] = []
        self.in_cassette: list[float] = []
        self.commanded: list[float] = []
        self.recorded: list[float] = []


def _wrap(owner: Any, name: str, after: Callable[[tuple[Any, ...], Any], None]) -> None:
    """Replace owner.name with a call that runs `after(args, result)` once the original returns."""
    original = getattr(owner, name)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        after(args, result)
        return result
    setattr(owner, name, wrapped)


def instrument(protocol: str, emu: Any, stamps: Stamps) -> None:
    """Stamp escrow, STACK received and the cassette write inside the emulator."""
    now = time.perf_counter
    if protocol == "ccnet":
        _wrap(emu, "_go", lambda a, _r: stamps.escrow.append(now()) if a[0] == "escrow" else None)
        _wrap(emu, "_command", lambda a, r: stamps.stack_received.append(now())
              if a[0].code == cf.STACK and r == b"\x00" else None)
        _wrap(emu, "_into_cassette", lambda _a, ok: stamps.in_cassette.append(now()) if ok else None)
    elif protocol == "id003":
        _wrap(emu, "_go", lambda a, _r: stamps.escrow.append(now()) if a[0] == "escrow" else None)
        _wrap(emu, "_command", lambda a, r: stamps.stack_received.append(now())
              if a[0].code in (jf.STACK_1, jf.STACK_2) and r == (jf.ACK, b"") else None)
        _wrap(emu, "_into_cassette", lambda _a, ok: stamps.in_cassette.append(now()) if ok else None)
    elif protocol == "essp":
        _wrap(emu, "_go", lambda a, _r: (stamps.escrow if a[0] == "escrow" else stamps.stack_received).append(now())
              if a[0] in ("escrow", "stacking") else None)
        _wrap(emu, "_into_cassette", lambda _a, ok: stamps.in_cassette.append(now()) if ok else None)
    else:
        _wrap(emu, "add_event", lambda a, _r: stamps.escrow.append(now()) if a[0] and a[1] == 1 else None)
        _wrap(emu, "_command", lambda a, r: stamps.stack_received.append(now())
              if a[0].header == cc.ROUTE_BILL and a[0].data == b"\x01" and r == (cc.REPLY, b"") else None)
        _wrap(emu, "_stack", lambda _a, ok: stamps.in_cassette.append(now()) if ok else None)


def measure(protocol: str, bills: int, paced: bool) -> Stamps:
    """Feed `bills` banknotes through a whole terminal and return the stamps."""
    emu = EMULATORS[protocol](step_seconds=0.05)
    emu.wire.baud = BAUD if paced else None
    stamps = Stamps()
    instrument(protocol, emu, stamps)
    emu.start()
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(write_config(tmp, gateway_mode="ok"))
        config = replace(config, validator=Part("validator", protocol, {
            "port": emu.path, "poll_interval": POLL, "baudrate": BAUD, "hotplug": False}))
        terminal = Terminal(config, clock=ManualClock(config.timezone), background_checks=False)
        journal = terminal.journal
        _wrap(journal, "stack_commanded", lambda _a, _r: stamps.commanded.append(time.perf_counter()))
        _wrap(journal, "record_bill", lambda _a, _r: stamps.recorded.append(time.perf_counter()))
        woken, stop = threading.Event(), threading.Event()
        terminal.on_post = woken.set
        try:
            terminal.start(background_outbox=False)
            for event in (ev.Touch(), ev.ChooseProvider("mts"), ev.EditAccount("9123456789"), ev.SubmitAccount(),
                          ev.Confirm()):
                terminal.post(event)
                terminal.pump()
            loop = threading.Thread(target=_event_loop, args=(terminal, woken, stop), name="bench-event-loop")
            loop.start()
            try:
                _insert_bills(emu, stamps, bills)
            finally:
                stop.set()
                woken.set()
                loop.join()
        finally:
            terminal.close()
            emu.stop()
    return stamps


def _event_loop(terminal: Terminal, woken: threading.Event, stop: threading.Event) -> None:
    # The screen loop's shape: sleep until something is posted, then handle everything queued.
    while not stop.is_set():
        woken.wait(0.02)
        woken.clear()
        terminal.pump()


def _insert_bills(emu: Any, stamps: Stamps, bills: int) -> None:
    rng = random.Random(7)
    for number in range(1, bills + 1):
        # A mechanism's own timing, unrelated to the host's poll phase: reports land anywhere in a poll period.
        emu.step_seconds = rng.uniform(0.02, 0.22)
        deadline = time.monotonic() + 5
        while not emu.insert(100).startswith("ok accepting"):
            if time.monotonic() > deadline:
                raise SystemExit(f"the validator took no bill {number} within 5 s: {emu.status()}")
            time.sleep(0.01)
        while len(stamps.recorded) < number:
            if time.monotonic() > deadline:
                raise SystemExit(f"bill {number} was not journaled within 5 s: {emu.status()}")
            time.sleep(0.005)


def _line(name: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[max(int(len(ms) * 0.95) - 1, 0)]
    return (f"{name}: median {statistics.median(ms):.1f} ms, mean {statistics.mean(ms):.1f} ms, p95 {p95:.1f} ms, "
            f"max {ms[-1]:.1f} ms ({statistics.mean(ms) / (POLL * 1000):.2f} poll periods on average)")


def main(argv: list[str] | None = None) -> int:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pty", action="store_true", help="no wire pacing: bytes move at pseudo-terminal speed")
    parser.add_argument("--bills", type=int, default=25, help="banknotes per protocol (default: %(default)s)")
    parser.add_argument("protocols", nargs="*", help=f"any of {', '.join(WIRE_VALIDATORS)} (default: all)")
    args = parser.parse_args(argv)
    unknown = set(args.protocols) - set(WIRE_VALIDATORS)
    if unknown:
        parser.error(f"unknown protocol(s) {', '.join(sorted(unknown))}; known: {', '.join(WIRE_VALIDATORS)}")
    wire = "bare pty (no wire time)" if args.pty else f"{BAUD} baud paced wire"
    print(f"validator latency, whole terminal path (driver → event queue → session → journal), {wire}, "
          f"poll {POLL * 1000:.0f} ms, {args.bills} bills per protocol")
    for protocol in args.protocols or WIRE_VALIDATORS:
        stamps = measure(protocol, args.bills, paced=not args.pty)
        decision = [b - a for a, b in zip(stamps.escrow, stamps.stack_received, strict=True)]
        credit = [b - a for a, b in zip(stamps.in_cassette, stamps.recorded, strict=True)]
        writes = len(stamps.commanded) + len(stamps.recorded)
        print(f"  {protocol}: {_line('decision (escrow → STACK at the device)', decision)}")
        print(f"  {protocol}: {_line('credit (in cassette → record_bill committed)', credit)}")
        print(f"  {protocol}: journal writes on the bill path: {writes} for {len(credit)} bills "
              f"({len(stamps.commanded)} stack_commanded + {len(stamps.recorded)} record_bill)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
