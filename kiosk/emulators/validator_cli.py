"""`emulate validator`: a CCNET, ccTalk, ID003 or eSSP bill validator on a pseudo-terminal, driven by stdin.

The first line printed is `PORT=<tty path>`; then each command line gets exactly one answer line,
`ok …` or `error: …`. End of input is `quit`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from kiosk.emulators.cassette import Cassette
from kiosk.emulators.ccnet import CcnetEmulator
from kiosk.emulators.cctalk import CctalkEmulator
from kiosk.emulators.control_line import serve
from kiosk.emulators.essp import EsspEmulator
from kiosk.emulators.id003 import Id003Emulator
from kiosk.registry import WIRE_VALIDATORS

Emulator = CcnetEmulator | CctalkEmulator | Id003Emulator | EsspEmulator

HELP = ("commands: insert <roubles> | counterfeit | jam [validator|cassette] | unjam | cassette out|in|empty | "
        "power-cycle | silent on|off | corrupt-next | drop <bytes> | delay <ms> | repeat-stacked on|off | "
        "lose-ack <n> | fail <code> | echo on|off | status | help | quit; ID003: cheat | repeat-vend-valid on|off | "
        "lose-ack <n> | fail <code>; eSSP: fraud | ecount-step 1|2 | encryption required|optional")


def build_parser() -> argparse.ArgumentParser:
    """The command-line options."""
    parser = argparse.ArgumentParser(prog="kiosk emulate validator", description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", choices=WIRE_VALIDATORS, required=True)
    parser.add_argument("--state-file", help="JSON file holding the cassette contents (kopecks → count)")
    parser.add_argument("--bills", default="10,50,100,200,500,1000,2000,5000",
                        help="bill table in roubles, comma separated (default: %(default)s)")
    parser.add_argument("--capacity", type=int, default=1000, help="cassette capacity in bills")
    parser.add_argument("--link", help="also reach the pty through this stable path (a symlink)")
    parser.add_argument("--address", type=lambda s: int(s, 0), help="device address (ccnet 3, cctalk 40)")
    parser.add_argument("--checksum", choices=("simple", "crc16"), default="simple", help="ccTalk check")
    parser.add_argument("--crc-placement", choices=("lo_in_source", "hi_in_source"), default="lo_in_source")
    parser.add_argument("--mask-order", choices=("y3_first", "y1_first"), default="y3_first", help="CCNET")
    parser.add_argument("--step", type=float, default=0.3, help="seconds a bill spends in each phase")
    parser.add_argument("--escrow-timeout", type=float, default=10.0, help="seconds before escrow returns")
    parser.add_argument("--poll-timeout", type=float, default=None,
                        help="cctalk: stop taking bills this many seconds after the host last read the event buffer")
    parser.add_argument("--echo", action="store_true", help="ccTalk: echo the host's bytes (shared line)")
    parser.add_argument("--ecount-step", type=int, choices=(1, 2), default=1,
                        help="eSSP: how far eCOUNT moves per exchange (the manual reads both ways)")
    parser.add_argument("--plain", action="store_true", help="eSSP: do not require encryption")
    return parser


def _bills(text: str) -> list[int]:
    try:
        bills = [int(part) for part in text.replace(" ", ",").split(",") if part]
    except ValueError:
        raise SystemExit(f"--bills: expected whole roubles separated by commas, got {text!r}") from None
    if not bills or any(b <= 0 for b in bills):
        raise SystemExit(f"--bills: expected positive whole roubles, got {text!r}")
    return bills


def make_emulator(args: argparse.Namespace) -> Emulator:
    """The emulator the options describe."""
    if args.poll_timeout is not None and args.protocol != "cctalk":
        raise SystemExit(f"--poll-timeout: only the cctalk emulator has a poll timeout, not {args.protocol}")
    cassette = Cassette(args.capacity, args.state_file)
    common = {"bills_rub": _bills(args.bills), "cassette": cassette, "link": args.link,
              "step_seconds": args.step, "escrow_timeout": args.escrow_timeout}
    if args.protocol == "id003":
        return Id003Emulator(**common)
    if args.protocol == "essp":
        return EsspEmulator(ecount_step=args.ecount_step, require_encryption=not args.plain,
                            **{**common, "escrow_timeout": min(args.escrow_timeout, 5.0)})  # ITL: 5 s at most
    if args.protocol == "ccnet":
        ccnet = CcnetEmulator(mask_order=args.mask_order, **common)
        if args.address is not None:
            ccnet.address = args.address
        return ccnet
    cctalk = CctalkEmulator(checksum=args.checksum, crc_placement=args.crc_placement, poll_timeout=args.poll_timeout,
                            **common)
    if args.address is not None:
        cctalk.address = args.address
    cctalk.echo = args.echo
    return cctalk


def _switch(word: str) -> bool:
    if word not in ("on", "off"):
        raise ValueError("expected on or off")
    return word == "on"


def _protocol_command(emu: Emulator, verb: str, args: list[str]) -> str | None:
    """The ID003 and eSSP switches; None when the command is not one of theirs."""
    if isinstance(emu, Id003Emulator):
        if verb == "cheat" and not args:
            return emu.cheat()
        if verb == "repeat-vend-valid" and len(args) == 1:
            emu.repeat_vend_valid = _switch(args[0])
            return f"ok repeat-vend-valid {args[0]}"
        if verb == "lose-ack" and len(args) == 1:
            emu.lose_acks = int(args[0])
            return f"ok lose-ack {args[0]}"
        if verb == "fail" and len(args) == 1:
            return emu.fail(int(args[0], 0))
        if verb == "unjam" and not args:
            return emu.unjam()
    if isinstance(emu, EsspEmulator):
        if verb == "fraud" and not args:
            return emu.fraud()
        if verb == "ecount-step" and args in (["1"], ["2"]):
            emu.ecount_step = int(args[0])
            return f"ok ecount-step {args[0]} (from the next key exchange)"
        if verb == "encryption" and args in (["required"], ["optional"]):
            emu.require_encryption = args[0] == "required"
            return f"ok encryption {args[0]}"
    return None


def execute(emu: Emulator, line: str) -> str:
    """Run one control command and return its one-line answer."""
    words = line.split()
    if not words:
        return "error: empty command; " + HELP
    verb, args = words[0].lower(), words[1:]
    ccnet = isinstance(emu, CcnetEmulator)
    wire = emu.wire

    def setter(name: str, value: object) -> Callable[[], str]:
        def apply() -> str:
            setattr(wire if hasattr(wire, name) else emu, name, value)
            return f"ok {verb} {' '.join(args)}".rstrip()
        return apply

    try:
        if isinstance(emu, Id003Emulator | EsspEmulator):
            answer = _protocol_command(emu, verb, args)
            if answer is not None:
                return answer
            if verb in ("repeat-stacked", "echo", "unjam", "lose-ack", "fail"):
                return f"error: {verb} is not a command of the {emu.status()['protocol']} emulator; {HELP}"
        if verb == "insert" and len(args) == 1:
            return emu.insert(int(args[0]))
        if verb == "counterfeit" and not args:
            return emu.counterfeit()
        if verb == "jam" and len(args) <= 1:
            where = args[0] if args else "validator"
            if where not in ("validator", "cassette"):
                return "error: jam where? validator or cassette"
            return emu.jam(where)
        if verb == "unjam" and not args and isinstance(emu, CcnetEmulator):
            return emu.unjam()
        if verb == "cassette" and args in (["out"], ["in"], ["empty"]):
            return {"out": emu.cassette_out, "in": emu.cassette_in, "empty": emu.empty_cassette}[args[0]]()
        if verb == "power-cycle" and not args:
            return emu.power_cycle()
        if verb == "silent" and len(args) == 1:
            return setter("silent", _switch(args[0]))()
        if verb == "corrupt-next" and not args:
            return setter("corrupt_next", True)()
        if verb == "drop" and len(args) == 1 and int(args[0]) >= 0:
            return setter("drop_incoming", int(args[0]))()
        if verb == "delay" and len(args) == 1 and int(args[0]) >= 0:
            return setter("delay", int(args[0]) / 1000)()
        if verb == "repeat-stacked" and len(args) == 1:
            if not ccnet:
                return "error: repeat-stacked is a CCNET quirk; this is ccTalk"
            return setter("repeat_stacked", _switch(args[0]))()
        if verb == "lose-ack" and len(args) == 1 and ccnet:
            return setter("lose_acks", int(args[0]))()
        if verb == "fail" and len(args) == 1 and isinstance(emu, CcnetEmulator):
            return emu.fail(int(args[0], 0))
        if verb == "echo" and len(args) == 1:
            if ccnet:
                return "error: echo is a ccTalk line property; this is CCNET (RS-232)"
            return setter("echo", _switch(args[0]))()
        if verb == "status" and not args:
            return "ok " + json.dumps(emu.status(), separators=(",", ":"))
        if verb == "help":
            return "ok " + HELP
    except ValueError as exc:
        return f"error: {line.strip()!r}: {exc}"
    return f"error: unknown or malformed command {line.strip()!r}; {HELP}"


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until `quit` or end of input; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        emu = make_emulator(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return serve(emu, lambda line: execute(emu, line))


if __name__ == "__main__":
    sys.exit(main())
