"""Everything `kiosk demo` pretends: a bill validator emulator (CCNET unless another protocol is asked for) in
its own process on a pseudo-terminal, a virtual network printer writing receipts as PNG, and OSMP and JSON
processing emulators on loopback."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.config import DEMO_CONFIG, Config, Part, load_config
from kiosk.emulators.processing.jsonapi import JsonApiEmulator
from kiosk.emulators.processing.osmp import OsmpEmulator
from kiosk.emulators.virtual_printer import VirtualPrinter
from kiosk.external_validator import ExternalValidator

if TYPE_CHECKING:
    from kiosk.app import Terminal
    from kiosk.session_view import DemoPort

JSON_KEY_ID, JSON_SECRET = "demo", "demo-secret"  # the JSON emulator's demo credentials, loopback only

DEMO_UI_TERMINAL = "10002"  # the simulator (`kiosk simulate`) uses the demo configuration's 10001


def demo_config(state_dir: Path, printer_port: int | None = None, base: Config | None = None) -> Config:
    """The demo configuration with every durable file inside state_dir and, given a port, a network printer."""
    config = base or load_config(DEMO_CONFIG)
    state_dir.mkdir(parents=True, exist_ok=True)
    validator = Part("validator", "virtual", {**config.validator.options, "cassette": str(state_dir / "cassette.sqlite")})
    gateways = {name: dataclasses.replace(part, options={**part.options, "ledger": str(state_dir / f"gateway-{name}.sqlite")})
                for name, part in config.gateways.items()}
    printer = (Part("printer", "network", {"host": "127.0.0.1", "port": printer_port}) if printer_port
               else config.printer)
    # The window demo is a terminal of its own: its receipts must never be looked up in the simulator's journal
    # (the demo configuration's number, 10001) and show another payment.
    return dataclasses.replace(config, terminal=DEMO_UI_TERMINAL, journal_path=state_dir / "journal.sqlite",
                               receipts_dir=state_dir / "receipts", validator=validator, gateways=gateways,
                               printer=printer)


def in_process_bills(terminal: Terminal) -> DemoPort:
    """The demo keys' port when the validator is the in-process virtual one (it takes kopecks)."""
    insert: DemoPort = terminal.validator.insert  # type: ignore[union-attr]
    return insert


class DemoStack:
    """Starts the emulators, yields a configuration wired to them, and stops them again."""

    def __init__(self, state_dir: Path, in_process: bool = False, protocol: str = "ccnet") -> None:
        self.state_dir, self.in_process, self.protocol = state_dir, in_process, protocol
        self.printer: VirtualPrinter | None = None
        self.validator: ExternalValidator | None = None
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
        if self.in_process:
            self.config = config
            return
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
        self.config = dataclasses.replace(config, validator=validator, gateways=gateways)
        self._start_dealer(self.config)

    def _start_dealer(self, config: Config) -> None:
        """The dealer service on loopback and this terminal enrolled with it; the demo runs on without it."""
        from provisioning.demo import DemoDealer

        try:
            # heartbeats come from the demo terminal itself (Terminal.start), as on a real terminal
            self.dealer = DemoDealer(self.state_dir / "dealer", config.terminal, config.address,
                                     str(config.timezone), heartbeat=False).start()
        except Exception as exc:  # payments never depend on the dealer service
            self.dealer_problem = f"dealer service not started: {exc}"

    def bill_port(self, terminal: Terminal) -> DemoPort:
        """The demo keys' port for a terminal: the emulator process, or the terminal's in-process validator."""
        return self.insert_bill if self.validator is not None else in_process_bills(terminal)

    def insert_bill(self, kopecks: int) -> None:
        """A demo key: a payer pushes a banknote into the validator."""
        if self.validator is not None:
            self.validator.insert(str(kopecks // 100))

    def describe(self) -> str:
        """What runs where, for the person starting the demo."""
        receipts = self.printer.out_dir if self.printer is not None else "(no printer started)"
        if self.in_process:
            return f"kiosk demo (in-process devices): state in {self.state_dir}; receipts in {receipts}"
        gateways = ", ".join(f"{g.protocol} on {g.base_url}" for g in self.gateways)
        port = self.validator.port if self.validator is not None else "(not started)"
        text = (f"kiosk demo: {self.protocol} validator emulator on {port}; processing emulators: {gateways}; "
                f"receipts as PNG in {receipts}; state in {self.state_dir}")
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
        for emulator in self.gateways:
            emulator.stop()
        self.gateways = []
        if self.printer is not None:
            self.printer.stop()
            self.printer = None
