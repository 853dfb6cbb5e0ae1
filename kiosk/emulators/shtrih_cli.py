"""`emulate fiscal`: a Shtrih-M fiscal registrar on a pseudo-terminal, driven by stdin.

The first line printed is `PORT=<tty path>`; then each command line gets exactly one answer line,
`ok …` or `error: …`. End of input is `quit`. A `power-cut` kills the process for real (exit status 137)
before or after the next fiscal document reaches the state file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kiosk.emulators.control_line import serve
from kiosk.emulators.shtrih import ShtrihEmulator
from kiosk.emulators.shtrih_drive import DEFAULT_FN
from kiosk.emulators.shtrih_kill import PHASES, KillSwitch

HELP = ("commands: paper out|in | paper-lines <n> (the roll ends after n printed lines) | clock <hours ahead> | "
        "drive-full <code hex>|off | lose-reply <n> | power-cut before|after | power-on | corrupt-request <n> | "
        "corrupt-answer <n> | truncate-answer <n> | close-error <code hex>|off | silent on|off | delay <ms> | "
        "kill-host <pid> before|after <n> [<command hex>] | kill-host off | valid-until YYYY-MM-DD | status | help | "
        "quit")
POWER_CUT_EXIT = 137  # what a shell reports for a process killed by SIGKILL


def build_parser() -> argparse.ArgumentParser:
    """The command-line options."""
    parser = argparse.ArgumentParser(prog="kiosk emulate fiscal", description=__doc__.splitlines()[0])
    parser.add_argument("--state", help="JSON file holding the fiscal drive (shift, documents, signs)")
    parser.add_argument("--printout", help="text file receiving what the registrar prints")
    parser.add_argument("--link", help="also reach the pty through this stable path (a symlink)")
    parser.add_argument("--baud", type=int, help="pace the wire like a real line at this speed (e.g. 115200)")
    parser.add_argument("--tz", default="Europe/Moscow", help="the registrar clock's zone (default: %(default)s)")
    parser.add_argument("--fn", default=DEFAULT_FN, help="FN number for a new state file (16 digits)")
    return parser


def _switch(word: str) -> bool:
    if word not in ("on", "off"):
        raise ValueError("expected on or off")
    return word == "on"


def _count(args: list[str]) -> int:
    value = int(args[0])
    if value < 0:
        raise ValueError("expected a count of 0 or more")
    return value


def execute(emu: ShtrihEmulator, line: str, switch: KillSwitch | None = None) -> str:
    """Run one control command and return its one-line answer (`kill-host` needs the emulator's kill switch)."""
    words = line.split()
    if not words:
        return "error: empty command; " + HELP
    verb, args = words[0].lower(), words[1:]
    registrar = emu.registrar
    one = len(args) == 1
    actions: dict[str, Callable[[], None]] = {}
    try:
        if verb == "paper" and args in (["out"], ["in"]):
            actions[verb] = lambda: registrar.set_paper(args[0] == "in")
        elif verb == "paper-lines" and one:
            lines = _count(args)
            actions[verb] = lambda: registrar.set_paper(True, lines)
        elif verb == "clock" and one:
            hours = float(args[0])
            actions[verb] = lambda: registrar.set_clock_offset(hours * 3600)
        elif verb == "drive-full" and one:
            code = 0 if args[0] == "off" else int(args[0], 16)
            actions[verb] = lambda: registrar.set_drive_full(code)
        elif verb == "close-error" and one:
            code = 0 if args[0] == "off" else int(args[0], 16)
            actions[verb] = lambda: setattr(registrar, "close_error", code)
        elif verb in ("lose-reply", "corrupt-request", "corrupt-answer", "truncate-answer") and one:
            count, name = _count(args), verb.replace("-", "_") + "s"
            actions[verb] = lambda: setattr(emu, name, count)
        elif verb == "power-cut" and args in (["before"], ["after"]):
            actions[verb] = lambda: setattr(emu, "power_cut", args[0])
        elif verb == "power-on" and not args:
            return emu.power_on()
        elif verb == "silent" and one:
            silent = _switch(args[0])
            actions[verb] = lambda: setattr(emu.wire, "silent", silent)
        elif verb == "delay" and one:
            delay = _count(args) / 1000
            actions[verb] = lambda: setattr(emu.wire, "delay", delay)
        elif verb == "kill-host" and switch is not None and args in (["off"],):
            actions[verb] = lambda: switch.arm(0, 0, "before")
        elif verb == "kill-host" and switch is not None and len(args) in (3, 4):
            pid, phase, target = int(args[0]), args[1], _count(args[2:3])
            only = int(args[3], 16) if len(args) == 4 else None
            if phase not in PHASES:
                raise ValueError(f"expected {' or '.join(PHASES)}")
            actions[verb] = lambda: switch.arm(pid, target, phase, only)
        elif verb == "valid-until" and one:
            until = date.fromisoformat(args[0]).isoformat()
            actions[verb] = lambda: registrar.set_valid_until(until)
        elif verb == "status" and not args:
            status = emu.status()
            if switch is not None:
                status["host_kill"] = " ".join(switch.hit) if switch.hit else None
            return "ok " + json.dumps(status, separators=(",", ":"))
        elif verb == "help":
            return "ok " + HELP
    except ValueError as exc:
        return f"error: {line.strip()!r}: {exc}"
    if verb not in actions:
        return f"error: unknown or malformed command {line.strip()!r}; {HELP}"
    with emu.lock:
        actions[verb]()
    return f"ok {verb} {' '.join(args)}".rstrip()


def _die() -> None:
    sys.stdout.flush()
    os._exit(POWER_CUT_EXIT)  # no cleanup, no flush of anything else: as sudden as pulling the plug


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until `quit` or end of input; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        tz = ZoneInfo(args.tz)
    except (ZoneInfoNotFoundError, ValueError):
        print(f"error: --tz: unknown time zone {args.tz!r}", file=sys.stderr)
        return 2
    if not (len(args.fn) == 16 and args.fn.isdigit()):
        print(f"error: --fn: expected 16 digits, got {args.fn!r}", file=sys.stderr)
        return 2
    try:
        emu = ShtrihEmulator(args.state, args.printout, args.link, tz, on_power_cut=_die, fn_number=args.fn)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    emu.wire.baud = args.baud
    switch = KillSwitch(emu.registrar)  # armed only by `kill-host` (the kill trials against this process)
    return serve(emu, lambda line: execute(emu, line, switch))


if __name__ == "__main__":
    sys.exit(main())
