"""The `kiosk` command: simulate, journal, session, emulate, devices …"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from kiosk import __version__
from kiosk.config import DEMO_CONFIG, load_config
from kiosk.errors import KioskError
from kiosk.registry import WIRE_VALIDATORS

# Sub-commands whose work lives in another module's main(argv): imported only when used.
DELEGATED = {
    ("emulate", "validator"): "kiosk.emulators.validator_cli",
    ("emulate", "printer"): "kiosk.emulators.virtual_printer",
    ("emulate", "gateway"): "kiosk.emulators.processing.cli",
    ("emulate", "scanner"): "kiosk.emulators.scanner",
    ("emulate", "fiscal"): "kiosk.emulators.shtrih_cli",
    ("devices", "probe"): "kiosk.drivers.probe",
    ("link", "heartbeat"): "kiosk.dealer_link.cli:heartbeat_main",
    ("update", "guard"): "kiosk.updates.cli:guard_main",
    ("update", "check"): "kiosk.updates.cli:check_main",
    ("update", "status"): "kiosk.updates.cli:status_main",
    ("update", "pin-root"): "kiosk.updates.cli:pin_root_main",
    ("fiscal", "intents"): "kiosk.fiscal.support:intents_main",
    ("fiscal", "resolve"): "kiosk.fiscal.support:resolve_main",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk", description="Self-service cash payment terminal firmware.")
    parser.add_argument("--version", action="version", version=f"kiosk {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="the kiosk in a window on emulated hardware (keys 1-8 insert banknotes)",
                          add_help=False)
    demo.add_argument("rest", nargs=argparse.REMAINDER, help="options of the demo (see kiosk demo --help)")
    run = sub.add_parser("run", help="production: the kiosk on real devices (kiosk run --config C)", add_help=False)
    run.add_argument("rest", nargs=argparse.REMAINDER, help="options (see kiosk run --help)")

    sim = sub.add_parser("simulate", help="run scripted payments headless on the real session and journal")
    sim.add_argument("--config", default=str(DEMO_CONFIG), help="terminal configuration (default: the demo)")
    sim.add_argument("--scenario", default=None, help="scenario file (default: the demo scenario)")
    sim.add_argument("--lang", default="en", choices=("ru", "en"), help="language of the summary")
    sim.add_argument("--validator-protocol", choices=WIRE_VALIDATORS,
                     help="use the real driver against an emulator in a separate process (started for you "
                          "unless --validator-port is given)")
    sim.add_argument("--validator-port", help="tty of an emulator you started (`kiosk emulate validator`)")
    sim.add_argument("--validator-control", help="a FIFO the emulator you started reads its commands from")
    sim.add_argument("--printer", choices=("config", "fiscal"), default="config",
                     help="fiscal: receipts from an emulated Shtrih-M fiscal registrar (54-FZ) on a pty, its fiscal "
                          "drive kept beside the journal (default: the configuration's printer)")

    journal = sub.add_parser("journal", help="the journal: show, lookup, find, export, requeue, pay-on, encash, "
                                             "accept-new")
    jsub = journal.add_subparsers(dest="journal_command", required=True)
    for name, text in (("show", "newest operations, the outbox, needs attention, uncertain bills, the clock"),
                       ("lookup", "everything about one operation, for support (--format json for machines)"),
                       ("find", "operations by account or phone, date range and amount"),
                       ("export", "every operation as JSON Lines (--salvage: what a damaged file still holds)"),
                       ("requeue", "put a needs-attention operation back into the outbox (its lifetime restarts)"),
                       ("pay-on", "send money held as owed to the payer on to an account"),
                       ("encash", "close an encashment: bills by denomination since the last one"),
                       ("accept-new", "confirm that a lost journal's history is handled; money is taken again")):
        cmd = jsub.add_parser(name, help=text, description=text)
        cmd.add_argument("--config", default=None,
                         help="terminal configuration (default: the demo's, i.e. the simulator's journal)")
        cmd.add_argument("--state-dir", default=None,
                         help="the terminal's state folder: read its journal.sqlite (e.g. the window demo's "
                              "~/.local/state/kiosk/demo-ui)")
        if name in ("lookup", "requeue", "pay-on"):
            cmd.add_argument("--operation", type=int, required=name != "lookup",
                             help="operation number from the receipt")
        if name == "lookup":  # `kiosk journal lookup 57`, as support says it
            cmd.add_argument("number", type=int, nargs="?", help="the same as --operation")
            cmd.add_argument("--lang", default="en", choices=("en", "ru"), help="the story's language (text format)")
        if name in ("lookup", "find"):
            cmd.add_argument("--format", default="text", choices=("text", "json"),
                             help="text for people (default), json for machines")
            cmd.add_argument("--terminal", default=None,
                             help="the terminal number on the receipt: refuse to answer from another's journal")
        if name == "find":
            cmd.add_argument("--account", help="the account exactly as typed")
            cmd.add_argument("--phone", help="a phone number in any form (+7 912 345-67-89, 89123456789 …)")
            cmd.add_argument("--from", dest="since", help="first local date, e.g. 2026-01-15")
            cmd.add_argument("--to", dest="until", help="last local date, e.g. 2026-01-31")
            cmd.add_argument("--amount", help="cash or credited amount in roubles, e.g. 150 or 149.50")
        if name == "pay-on":
            cmd.add_argument("--provider", required=True, help="provider id from the catalog")
            cmd.add_argument("--account", required=True, help="the account to credit")
        if name == "show":
            cmd.add_argument("--limit", type=int, default=20, help="how many of the newest operations")
        if name == "encash":
            cmd.add_argument("--counted", help="what the collector counted, e.g. 100x3,500x2 (roubles x bills); "
                                               "a difference from the journal is reported and exits 1")
        if name == "export":
            cmd.add_argument("--format", default="jsonl", choices=("jsonl",))
            cmd.add_argument("--output", default=None, help="file to write (default: standard output)")
            cmd.add_argument("--salvage", action="store_true",
                             help="read a damaged journal row by row and export whatever is readable")
        if name == "accept-new":
            cmd.add_argument("--who", default="service engineer", help="who confirms (recorded in the journal)")

    session = sub.add_parser("session", help="the payment session state machine")
    ssub = session.add_subparsers(dest="session_command", required=True)
    diagram = ssub.add_parser("diagram", help="print the state machine as a diagram")
    diagram.add_argument("--format", default="dot", choices=("dot", "mermaid"))

    emulate = sub.add_parser("emulate", help="pretend to be the outside world (validator, printer, gateway, scanner)")
    emulate.add_argument("what", choices=("validator", "printer", "gateway", "scanner", "fiscal"))
    emulate.add_argument("rest", nargs=argparse.REMAINDER, help="options of that emulator (see --help)")

    devices = sub.add_parser("devices", help="find devices on serial ports")
    devices.add_argument("what", choices=("probe",))
    devices.add_argument("rest", nargs=argparse.REMAINDER, help="ports to probe")

    enroll = sub.add_parser("enroll", help="enroll this terminal with its dealer service (one-time code)")
    enroll.add_argument("--dealer", required=True, help="the dealer service's address, e.g. https://dealer:8440")
    enroll.add_argument("--code", required=True, help="the one-time enrollment code the dealer showed")
    enroll.add_argument("--ca-fingerprint", required=True, help="SHA256:… shown with the code")
    enroll.add_argument("--config", default=str(DEMO_CONFIG), help="terminal configuration (default: the demo)")
    enroll.add_argument("--identity", default=None, help="identity folder (default: dealer-link/ by the journal)")
    fiscal = sub.add_parser("fiscal", help="fiscal intents a replaced fiscal drive holds: show, resolve (support)")
    fiscal.add_argument("what", choices=("intents", "resolve"))
    fiscal.add_argument("rest", nargs=argparse.REMAINDER, help="options (see kiosk fiscal resolve --help)")
    link = sub.add_parser("link", help="the dealer link: `kiosk link heartbeat --identity DIR [--once]`")
    link.add_argument("what", choices=("heartbeat",))
    link.add_argument("rest", nargs=argparse.REMAINDER, help="options (see kiosk link heartbeat --help)")
    update = sub.add_parser("update", help="updates: `kiosk update guard|check|status|pin-root` (see --help of each)")
    update.add_argument("what", choices=("guard", "check", "status", "pin-root"))
    update.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def _simulate(args: argparse.Namespace) -> int:
    from kiosk.simulate import DEMO_SCENARIO, Simulator, load_scenario, summary_lines

    config = load_config(args.config)
    scripts = load_scenario(args.scenario or DEMO_SCENARIO)
    external = None
    if args.validator_port and not args.validator_protocol:
        raise KioskError(f"--validator-port needs --validator-protocol {'|'.join(WIRE_VALIDATORS)}")
    if args.validator_protocol:
        from kiosk.external_validator import ExternalValidator

        if args.validator_port:
            external = ExternalValidator.attach(args.validator_protocol, args.validator_port, args.validator_control)
        else:
            state = config.journal_path.parent / f"cassette-{args.validator_protocol}.json"
            external = ExternalValidator.spawn(args.validator_protocol, state, "--step", "0.05")
    fiscal = None
    if args.printer == "fiscal":  # the emulated registrar: `kiosk emulate fiscal` in a process of its own, on a pty
        # through the demo's wiring, the one module besides `kiosk emulate` that may start emulators
        fiscal = importlib.import_module("kiosk.demo_stack").FiscalRig(config.journal_path.parent).start()
        config = fiscal.configure(config)
    try:
        sim = Simulator(config, args.scenario or DEMO_SCENARIO, external=external)
    except BaseException:
        if external is not None:
            external.close()
        if fiscal is not None:
            fiscal.stop()
        raise
    try:
        ops = sim.run(scripts)
        print()
        for line in summary_lines(ops, sim.terminal, args.lang):
            print(line)
    finally:
        sim.close()
        if fiscal is not None:
            fiscal.stop()
            print(fiscal.summary())
    return 0


def _direct(argv: list[str]) -> int | None:
    """Sub-commands that parse their own options (so `kiosk demo --help` shows the demo's help)."""
    if argv and argv[0] == "run":
        from kiosk import ui_main

        return ui_main.run_main(argv[1:])
    if argv and argv[0] == "demo":
        # the demo is a command of its own, like `kiosk emulate …`: its module wires the emulators, so the
        # product imports it by name only when asked for the demo (tests/test_layers.py)
        return int(importlib.import_module("kiosk.demo_stack").demo_main(argv[1:]))
    if len(argv) >= 2 and (argv[0], argv[1]) in DELEGATED:
        module, _, function = DELEGATED[(argv[0], argv[1])].partition(":")
        return int(getattr(importlib.import_module(module), function or "main")(argv[2:]) or 0)
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `kiosk` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    direct = _direct(argv)
    if direct is not None:
        return direct
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "simulate":
            return _simulate(args)
        if args.command == "journal":
            from kiosk import journal_cli

            config = load_config(args.config or DEMO_CONFIG) if args.config or not args.state_dir else None
            if not args.config and not args.state_dir:
                print("kiosk journal: reading the simulator's journal (the demo configuration, terminal "
                      f"{config.terminal if config else '?'}); the window demo is terminal 10002 with its own: "
                      "--state-dir ~/.local/state/kiosk/demo-ui", file=sys.stderr)
            return journal_cli.main(journal_cli.locate(config, args.state_dir), args.journal_command, args)
        if args.command == "session":
            from kiosk.session_model import diagram_dot, diagram_mermaid

            print(diagram_dot() if args.format == "dot" else diagram_mermaid())
            return 0
        if args.command == "enroll":
            from kiosk.dealer_link.cli import enroll_command

            return enroll_command(args)
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except (KioskError, ValueError, OSError, RecursionError) as exc:
        print(f"kiosk: error: {describe_error(exc)}", file=sys.stderr)
        return 2
    return 0


def describe_error(exc: BaseException) -> str:
    """One line for a person: the message, or what kind of fault it was when the message is empty."""
    text = str(exc).strip()
    if isinstance(exc, TimeoutError) and not text:
        return "timed out waiting for a delivery to finish (a gateway answering very slowly?)"
    return text or type(exc).__name__


def _quiet_broken_pipe() -> int:
    """`kiosk journal export | head`: the reader left; stop quietly as Unix tools do."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # nothing more may be written to the closed pipe at exit
    except (OSError, ValueError):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
