"""Everything `kiosk demo` pretends: a bill validator emulator (CCNET unless another protocol is asked for) in
its own process on a pseudo-terminal, a virtual network printer writing receipts as PNG, and OSMP and JSON
processing emulators on loopback."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.config import DEMO_CONFIG, Config, Part, load_config
from kiosk.demo_config import DEMO_UI_TERMINAL, demo_config
from kiosk.drivers.virtual import VirtualValidator
from kiosk.emulators.fiscal_rig import FiscalRig
from kiosk.emulators.virtual_printer import VirtualPrinter
from kiosk.external_validator import ExternalValidator

if TYPE_CHECKING:
    from kiosk.app import Terminal
    from kiosk.session_view import DemoPort

log = logging.getLogger(__name__)
JSON_KEY_ID, JSON_SECRET = "demo", "demo-secret"  # the JSON emulator's demo credentials, loopback only
__all__ = ["DEMO_UI_TERMINAL", "DemoStack", "FiscalRig", "demo_config", "demo_main", "in_process_bills"]


def in_process_bills(terminal: Terminal) -> DemoPort:
    """The demo keys' port when the validator is the in-process virtual one (it takes kopecks)."""
    validator = terminal.validator
    if not isinstance(validator, VirtualValidator):
        raise TypeError(f"demo keys feed the in-process virtual validator, not {type(validator).__name__}")

    def insert(kopecks: int) -> None:
        validator.insert(kopecks)  # a refused bill shows on the screen as the device reports it
    return insert


class DemoStack:
    """Starts the emulators, yields a configuration wired to them, and stops them again."""

    def __init__(self, state_dir: Path, in_process: bool = False, protocol: str = "ccnet",
                 printer: str = "escpos") -> None:
        self.state_dir, self.in_process, self.protocol = state_dir, in_process, protocol
        self.printer_kind = printer  # "fiscal": an emulated Shtrih-M fiscal registrar prints the receipts
        self.fiscal: FiscalRig | None = None
        self.printer: VirtualPrinter | None = None
        self.validator: ExternalValidator | None = None
        self.scanner: Any = None  # kiosk.bills.external_scanner.ExternalScanner: the S key scans through it
        self.gateways: list[Any] = []
        self.config: Config | None = None
        self.dealer: Any = None  # provisioning.demo.DemoDealer: the dealer service and this terminal's link
        self.dealer_problem = ""

    def __enter__(self) -> DemoStack:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        self.printer = VirtualPrinter(self.state_dir / "receipts", port=0).start()
        config = demo_config(self.state_dir, self.printer.port)
        if self.printer_kind == "fiscal":
            self.fiscal = FiscalRig(self.state_dir).start()
            config = self.fiscal.configure(config)
        if self.in_process:
            self.config = config
            return
        # the gateway emulators' HTTP servers are imported only for the full stack (--in-process has none)
        from kiosk.emulators.processing.jsonapi import JsonApiEmulator
        from kiosk.emulators.processing.osmp import OsmpEmulator

        self.validator = ExternalValidator.spawn(self.protocol, self.state_dir / f"cassette-{self.protocol}.json",
                                                 "--step", "0.15")
        osmp = OsmpEmulator(state_file=self.state_dir / "osmp-emulator.json")
        json_api = JsonApiEmulator(state_file=self.state_dir / "json-emulator.json")
        for emulator in (osmp, json_api):
            emulator.start()
            self.gateways.append(emulator)
        gateways = {
            "main": Part("main", "osmp", {"url": f"{osmp.base_url}/osmp", "timeout": 10}),
            "backup": Part("backup", "json", {"url": json_api.base_url, "key_id": JSON_KEY_ID,
                                              "hmac_secret": JSON_SECRET, "timeout": 10}),
        }
        validator = Part("validator", self.protocol, {"port": self.validator.port})
        from kiosk.bills.external_scanner import ExternalScanner

        self.scanner = ExternalScanner()  # a 2D scanner on a pty: the serial driver reads what the S key scans
        self.config = dataclasses.replace(config, validator=validator, gateways=gateways, scanner=self.scanner.part())
        self._start_dealer(self.config)

    def _start_dealer(self, config: Config) -> None:
        """The dealer service on loopback and this terminal enrolled with it; the demo runs on without it."""
        from provisioning.demo import DemoDealer

        # A "reboot" sent from the demo portal must not reboot the desktop the demo runs on (command_poller.REBOOT_ENV)
        os.environ.setdefault("KIOSK_REBOOT_COMMAND", "echo 'kiosk demo: a real terminal would reboot now'")
        try:
            # heartbeats come from the demo terminal itself (Terminal.start), as on a real terminal
            self.dealer = DemoDealer(self.state_dir / "dealer", config.terminal, config.address,
                                     str(config.timezone), heartbeat=False).start()
            # receipts' QR codes open the payer's status page on the demo service (a dealer sets its public one)
            self.config = dataclasses.replace(config, status_url=f"{self.dealer.portal_url}/s")
        except Exception as exc:  # payments never depend on the dealer service
            self.dealer_problem = f"dealer service not started: {exc}"

    def bill_port(self, terminal: Terminal) -> DemoPort:
        """The demo keys' port for a terminal: the emulator process, or the terminal's in-process validator."""
        return self.insert_bill if self.validator is not None else in_process_bills(terminal)

    def insert_bill(self, kopecks: int) -> None:
        """A demo key: a payer pushes a banknote into the validator."""
        if self.validator is not None:
            self.validator.insert(str(kopecks // 100))

    def scan_port(self, terminal: Terminal) -> Callable[[str], None]:
        """The demo's S and D keys: a sample bill (kiosk.utility_demo.DEMO_SAMPLES, the ЕПД unless named) through
        the scanner emulator, or straight to the in-process session."""
        from kiosk.events import ScanCode
        from kiosk.utility_demo import DEMO_SAMPLES

        scanner = self.scanner

        def scan(sample: str = "epd") -> None:
            path = DEMO_SAMPLES[sample]
            if scanner is not None:
                log.info("demo scan: %s", scanner.scan_file(path))
            else:
                terminal.post(ScanCode(path.read_bytes()))
        return scan

    def describe(self) -> str:
        """What runs where, for the person starting the demo."""
        receipts = self.printer.out_dir if self.printer is not None else "(no printer started)"
        if self.in_process:
            return f"kiosk demo (in-process devices): state in {self.state_dir}; receipts in {receipts}"
        gateways = ", ".join(f"{g.protocol} on {g.base_url}" for g in self.gateways)
        port = self.validator.port if self.validator is not None else "(not started)"
        text = (f"kiosk demo: {self.protocol} validator emulator on {port}; processing emulators: {gateways}; "
                f"receipts as PNG in {receipts}; state in {self.state_dir}")
        if self.fiscal is not None:
            text += "\n" + self.fiscal.summary()
        if self.scanner is not None:
            text += (f"\nbarcode scanner emulator on {self.scanner.port} (the S key scans a sample ЕПД through it, "
                     "D a bill paid by bank details)")
        if self.dealer is not None:
            text += "\n" + self.dealer.describe()
        elif self.dealer_problem:
            text += "\n" + self.dealer_problem
        return text

    def close(self) -> None:
        """Stop every emulator (their state files stay)."""
        if self.dealer is not None:
            self.dealer.close()
            self.dealer = None
        if self.validator is not None:
            self.validator.close()
            self.validator = None
        if self.scanner is not None:
            self.scanner.close()
            self.scanner = None
        for emulator in self.gateways:
            emulator.stop()
        self.gateways = []
        if self.printer is not None:
            self.printer.stop()
            self.printer = None
        if self.fiscal is not None:
            self.fiscal.stop()
            self.fiscal = None


def demo_main(argv: Sequence[str] | None = None) -> int:
    """`kiosk demo`: emulators and the kiosk in a window; keys 1–8 insert banknotes; receipts become PNGs.

    It lives here, with the emulators it starts, so that the product's own entry point (ui_main) never
    imports them; the CLI reaches it by name.
    """
    from kiosk.ui_main import _display_available, _parser, _serve, check_choices

    parser = _parser("kiosk demo", demo=True)
    args = parser.parse_args(argv)
    check_choices(parser, args, load_config(DEMO_CONFIG))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.screenshots is None and not _display_available():
        # A window nobody can see is no demo: show every screen as pictures instead, and say so.
        args.screenshots = args.state_dir.expanduser() / "screenshots"
        print("kiosk demo: no display here (neither DISPLAY nor WAYLAND_DISPLAY is set), so instead of a window "
              f"every screen is rendered to {args.screenshots}. For the payment flow without a display: "
              "kiosk simulate.")
    if args.screenshots is not None:
        os.environ["SDL_VIDEODRIVER"] = "dummy"
        logging.getLogger().setLevel(logging.CRITICAL)  # the walk stages faults and declines on purpose
        from kiosk.screens.screenshots import render_all

        paths = render_all(args.screenshots, size=args.size, themes=[args.theme] if args.theme else None,
                           languages=[args.lang] if args.lang else None)
        print(f"{len(paths)} screenshots written to {args.screenshots}")
        return 0
    state_dir = args.state_dir.expanduser()
    with DemoStack(state_dir, in_process=args.in_process, protocol=args.validator_protocol,
                   printer=args.printer) as stack:
        if stack.config is None:
            raise RuntimeError("the demo stack started without a configuration")
        print(stack.describe())
        print("keys 1-8 insert 10, 50, 100, 200, 500, 1000, 2000, 5000 RUB; S scans a sample utility bill (ЕПД), "
              "D a bill of a payee paid by bank details; "
              "service: tap the terminal number five times, PIN 1234; Esc or closing the window quits")
        return _serve(stack.config, demo=True, fullscreen=args.fullscreen, size=args.size,
                      theme=args.theme, lang=args.lang, demo_port=stack.bill_port, demo_scan=stack.scan_port)
