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
    ("devices", "probe"): "kiosk.drivers.probe",
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

    journal = sub.add_parser("journal", help="read the journal: show, lookup, export, requeue")
    jsub = journal.add_subparsers(dest="journal_command", required=True)
    for name, text in (("show", "newest operations, the outbox and the needs-attention list"),
                       ("lookup", "everything about one operation (support)"),
                       ("export", "every operation as JSON Lines"),
                       ("requeue", "put a needs-attention operation back into the outbox"),
                       ("encash", "close an encashment: bills by denomination since the last one")):
        cmd = jsub.add_parser(name, help=text)
        cmd.add_argument("--config", default=str(DEMO_CONFIG), help="terminal configuration (default: the demo)")
        if name in ("lookup", "requeue"):
            cmd.add_argument("--operation", type=int, required=True, help="operation number from the receipt")
        if name == "show":
            cmd.add_argument("--limit", type=int, default=20, help="how many of the newest operations")
        if name == "encash":
            cmd.add_argument("--counted", help="what the collector counted, e.g. 100x3,500x2 (roubles x bills); "
                                               "a difference from the journal is reported and exits 1")
        if name == "export":
            cmd.add_argument("--format", default="jsonl", choices=("jsonl",))
            cmd.add_argument("--output", default=None, help="file to write (default: standard output)")

    session = sub.add_parser("session", help="the payment session state machine")
    ssub = session.add_subparsers(dest="session_command", required=True)
    diagram = ssub.add_parser("diagram", help="print the state machine as a diagram")
    diagram.add_argument("--format", default="dot", choices=("dot", "mermaid"))

    emulate = sub.add_parser("emulate", help="pretend to be the outside world (validator, printer, gateway)")
    emulate.add_argument("what", choices=("validator", "printer", "gateway"))
    emulate.add_argument("rest", nargs=argparse.REMAINDER, help="options of that emulator (see --help)")

    devices = sub.add_parser("devices", help="find devices on serial ports")
    devices.add_argument("what", choices=("probe",))
    devices.add_argument("rest", nargs=argparse.REMAINDER, help="ports to probe")
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
    try:
        sim = Simulator(config, args.scenario or DEMO_SCENARIO, external=external)
    except BaseException:
        if external is not None:
            external.close()
        raise
    try:
        ops = sim.run(scripts)
        print()
        for line in summary_lines(ops, sim.terminal, args.lang):
            print(line)
    finally:
        sim.close()
    return 0


def _direct(argv: list[str]) -> int | None:
    """Sub-commands that parse their own options (so `kiosk demo --help` shows the demo's help)."""
    if argv and argv[0] in ("demo", "run"):
        from kiosk import ui_main

        return (ui_main.demo_main if argv[0] == "demo" else ui_main.run_main)(argv[1:])
    if len(argv) >= 2 and (argv[0], argv[1]) in DELEGATED:
        return int(importlib.import_module(DELEGATED[(argv[0], argv[1])]).main(argv[2:]) or 0)
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

            return journal_cli.main(load_config(args.config), args.journal_command,
                                    operation=getattr(args, "operation", None), limit=getattr(args, "limit", 20),
                                    fmt=getattr(args, "format", "jsonl"), output=getattr(args, "output", None),
                                    counted=getattr(args, "counted", None))
        if args.command == "session":
            from kiosk.session_model import diagram_dot, diagram_mermaid

            print(diagram_dot() if args.format == "dot" else diagram_mermaid())
            return 0
    except KioskError as exc:
        print(f"kiosk: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:
        print(f"kiosk: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
