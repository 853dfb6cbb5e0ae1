"""Headless simulation: scripted payers walk through the real session, journal and outbox on a virtual clock."""

from __future__ import annotations

import logging
import re
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk import events as ev
from kiosk.app import Terminal
from kiosk.clock import ManualClock
from kiosk.config import DEMO_DIR, Config
from kiosk.drivers.virtual import VirtualValidator
from kiosk.errors import ConfigError, KioskError
from kiosk.external_validator import ExternalValidator
from kiosk.money import Money, MoneyError
from kiosk.offline_queue.journal import Operation
from kiosk.schema import Doc, load_toml
from kiosk.session_model import STATES, TIMEOUTS

log = logging.getLogger(__name__)

DEMO_SCENARIO = DEMO_DIR / "scenario.toml"
EXTERNAL_BILL_SECONDS = 10.0  # a real driver needs real time: escrow, stack, poll, report
ATTACHED_PAYER_PAUSE = 1.0  # seconds between bills at an emulator we cannot hear (a person's pace)
DELIVERY_HORIZON = 6 * 3600  # simulated seconds "deliver" keeps retrying before it gives up for now


@dataclass
class Step:
    """One scripted action, remembering where it was written for error messages."""

    words: list[str]
    where: str


@dataclass
class Script:
    """A titled group of steps (usually one payer)."""

    title: str
    steps: list[Step] = field(default_factory=list)


VERBS: dict[str, tuple[int, int, str]] = {
    # verb: (min args, max args, usage)
    "touch": (0, 0, "touch"),
    "category": (1, 1, "category ID"),
    "provider": (1, 1, "provider ID"),
    "type": (1, 1, "type TEXT"),
    "phone": (1, 1, "phone NUMBER"),
    "next": (0, 0, "next"),
    "confirm": (0, 0, "confirm"),
    "insert": (1, 1, "insert ROUBLES"),
    "pay": (0, 0, "pay"),
    "back": (0, 0, "back"),
    "cancel": (0, 0, "cancel"),
    "take-receipt": (0, 0, "take-receipt"),
    "walk-away": (0, 0, "walk-away"),
    "wait": (1, 1, "wait SECONDS"),
    "gateway": (2, 2, "gateway NAME MODE"),
    "restart": (0, 0, "restart"),
    "deliver": (0, 0, "deliver"),
    "expect": (1, 1, "expect STATE"),
    "cassette": (1, 1, "cassette out|in"),
    # utility bills: a scanned ЕПД (a file beside the scenario), the debt screen's Next, meter readings
    "scan": (1, 1, "scan FILE"),
    "debt-next": (0, 0, "debt-next"),
    "reading": (1, 1, "reading VALUE"),
    "confirm-reading": (0, 0, "confirm-reading"),
    "skip-reading": (0, 0, "skip-reading"),
}


def load_scenario(path: str | Path) -> list[Script]:
    """Read and validate a scenario file; every error names the file, the step and what was expected."""
    root = Doc(path, load_toml(path, "scenario"))
    root.unknown_keys({"version", "title", "script"})
    if root.integer("version") != 1:
        raise root.error("version", "expected 1")
    scripts = []
    for doc in root.tables("script"):
        doc.unknown_keys({"title", "steps"})
        script = Script(doc.string("title"))
        for index, text in enumerate(doc.strings("steps")):
            where = f"{doc.key('steps')}[{index}]"
            try:
                words = shlex.split(text)
            except ValueError as exc:
                raise ConfigError(str(path), where, f"cannot split {text!r}: {exc}") from None
            if not words or words[0] not in VERBS:
                raise ConfigError(str(path), where, f"unknown step {text!r}; expected one of {sorted(VERBS)}")
            low, high, usage = VERBS[words[0]]
            if not low <= len(words) - 1 <= high:
                raise ConfigError(str(path), where, f"step {text!r}: expected '{usage}'")
            if words[0] == "expect" and words[1] not in STATES:
                raise ConfigError(str(path), where, f"unknown state {words[1]!r}; expected one of {STATES}")
            if words[0] == "wait" and not re.fullmatch(r"\d+(\.\d+)?", words[1]):
                raise ConfigError(str(path), where, f"step {text!r}: expected a number of seconds")
            if words[0] == "insert":
                try:
                    Money.parse(words[1])
                except MoneyError as exc:
                    raise ConfigError(str(path), where, f"step {text!r}: {exc}") from None
            script.steps.append(Step(words, where))
        scripts.append(script)
    if not scripts:
        raise root.error("script", "expected at least one script")
    return scripts


class SimulationError(KioskError):
    """A scenario step could not be carried out (e.g. an expect that did not hold)."""


class Simulator:
    """Runs scenarios against a Terminal built from the configuration, on a manual clock."""

    def __init__(self, config: Config, scenario_file: str | Path,
                 terminal_factory: Callable[[Config, ManualClock], Terminal] | None = None,
                 out: Callable[[str], None] = print, external: ExternalValidator | None = None) -> None:
        self.external = external
        if external is not None:
            config = external.configure(config)
        self.config, self.scenario_file, self.out = config, str(scenario_file), out
        self.clock = ManualClock(config.timezone, _now(config))
        self._factory = terminal_factory or (
            lambda cfg, clock: Terminal(cfg, clock=clock, background_checks=False))
        self.terminal = self._factory(config, self.clock)
        self.terminal.start(background_outbox=False)
        self.first_operation = (self.terminal.journal.last_operation() or _NoOp).operation + 1
        self.restarts = 0

    # -- driving ----------------------------------------------------------------------------------
    def settle(self) -> None:
        """Let every consequence of the last action happen: events, checks, deliveries."""
        for _ in range(1000):
            handled = self.terminal.pump()
            self.terminal.outbox.wait_idle()
            if not handled and self.terminal.events.empty():
                return
        raise SimulationError("the session did not settle after 1000 rounds of events")

    def advance(self, seconds: float) -> None:
        """Let simulated time pass, ticking the session each simulated second."""
        remaining = seconds
        while remaining > 0:
            step = min(1.0, remaining)
            self.clock.advance(step)
            remaining -= step
            self.terminal.post(ev.Tick())
            self.settle()

    def deliver(self) -> None:
        """Run the outbox until nothing is due, moving time to each next attempt (within a horizon)."""
        horizon = self.clock.monotonic() + DELIVERY_HORIZON
        while True:
            self.terminal.outbox.run_due(wait=True)
            self.settle()
            due = self.terminal.journal.next_due_ms()
            if due is None:
                return
            wait = due / 1000 - self.clock.now().timestamp()
            if self.clock.monotonic() + max(wait, 0) > horizon:
                return
            if wait > 0:
                self.clock.advance(wait)

    def restart(self) -> None:
        """A power cut: drop the session in whatever state it is, reopen everything, reconcile."""
        self.terminal.close()
        self.terminal = self._factory(self.config, self.clock)
        summary = self.terminal.start(background_outbox=False)
        self.restarts += 1
        self.out(f"  restart: {summary.text()}")

    def step(self, step: Step) -> None:
        """Carry out one step."""
        verb, args = step.words[0], step.words[1:]
        post = self.terminal.post
        session = self.terminal.session
        simple = {"touch": ev.Touch, "next": ev.SubmitAccount, "confirm": ev.Confirm, "pay": ev.Pay,
                  "back": ev.Back, "cancel": ev.Cancel, "take-receipt": ev.ReceiptTaken}
        if verb in simple:
            post(simple[verb]())
        elif verb == "category":
            post(ev.ChooseCategory(args[0]))
        elif verb == "provider":
            post(ev.ChooseProvider(args[0]))
        elif verb == "phone":
            post(ev.EnterPhone(args[0]))
        elif verb == "type":
            post(ev.EditAccount(args[0]))
        elif verb == "insert":
            self._insert(args[0], step)
        elif verb == "walk-away":
            key = TIMEOUTS.get(session.state)
            self.advance((self.config.timeouts[key] if key else 1) + 1)
        elif verb == "wait":
            self.advance(float(args[0]))
        elif verb == "gateway":
            gateway = self.terminal.gateways.get(args[0])
            if gateway is None or not hasattr(gateway, "set_mode"):
                raise SimulationError(f"{step.where}: no switchable gateway {args[0]!r}")
            gateway.set_mode(args[1])
        elif verb == "restart":
            self.restart()
        elif verb == "deliver":
            self.deliver()
        elif verb == "cassette":
            self._cassette(args[0], step)
        elif verb in ("scan", "debt-next", "reading", "confirm-reading", "skip-reading"):
            for event in utility_step(verb, args, Path(self.scenario_file).parent, step.where):
                post(event)
        elif verb == "expect":
            self.settle()
            if self.terminal.session.state != args[0]:
                raise SimulationError(f"{self.scenario_file}: {step.where}: expected state {args[0]}, "
                                      f"the session is in {self.terminal.session.state}")
        self.settle()

    def _insert(self, text: str, step: Step) -> None:
        try:
            value = Money.parse(text, self.config.currency)
        except MoneyError as exc:
            raise SimulationError(f"{self.scenario_file}: {step.where}: {exc}") from None
        if self.external is not None:
            self._insert_external(self.external, value, step)
            return
        insert = getattr(self.terminal.validator, "insert", None)
        if insert is None:
            raise SimulationError("the configured validator cannot be fed from a scenario")
        insert(value.minor)

    def _cassette(self, where: str, step: Step) -> None:
        if where not in ("out", "in"):
            raise SimulationError(f"{self.scenario_file}: {step.where}: expected 'cassette out' or 'cassette in'")
        if self.external is not None:
            before = self.terminal.session.state
            self.external.command(f"cassette {where}")
            deadline = time.monotonic() + EXTERNAL_BILL_SECONDS
            while self.terminal.session.state == before and time.monotonic() < deadline:
                time.sleep(0.02)
                self.settle()
            return
        validator = self.terminal.validator
        if not isinstance(validator, VirtualValidator):
            raise SimulationError(f"{self.scenario_file}: {step.where}: the configured validator's cassette cannot "
                                  "be moved from a scenario")
        validator.remove_cassette() if where == "out" else validator.insert_cassette()

    def _insert_external(self, external: ExternalValidator, value: Money, step: Step) -> None:
        """Push the bill into the emulator and wait (real time) until the device says how it ended."""
        before = self.terminal.session.bill_events
        if not external.answers:
            self._wait_until_accepting()
        # A payer waits for the slot to light up: the driver enables the device a poll or two after confirm.
        retry_until = time.monotonic() + 2.0
        while True:
            answer = external.insert(str(value.minor // 100))
            waiting = "refused" in answer or "busy" in answer  # still finishing the last bill, or not enabled yet
            if answer.startswith("error") and not waiting:
                raise SimulationError(f"{self.scenario_file}: {step.where}: the emulator said {answer!r}")
            if not waiting:
                break
            if time.monotonic() > retry_until:
                self.out(f"  the validator does not take the bill ({answer})")
                return
            time.sleep(0.05)
            self.settle()
        deadline = time.monotonic() + EXTERNAL_BILL_SECONDS
        while self.terminal.session.bill_events == before:
            if time.monotonic() > deadline:
                raise SimulationError(f"{self.scenario_file}: {step.where}: the validator reported nothing about "
                                      f"the bill within {EXTERNAL_BILL_SECONDS} s")
            time.sleep(0.02)
            self.settle()

    def _wait_until_accepting(self) -> None:
        """Without the emulator's answers (it reads a FIFO), pace the payer as a person would: wait until the
        driver has enabled the device and the last bill has finished its travel."""
        deadline = time.monotonic() + 3.0
        while not self.terminal.validator.status().enabled and time.monotonic() < deadline:
            time.sleep(0.02)
            self.settle()
        time.sleep(ATTACHED_PAYER_PAUSE)

    def run(self, scripts: list[Script]) -> list[Operation]:
        """Run every script, deliver what waits, and return the operations this run created."""
        for script in scripts:
            self.out(f"▶ {script.title}")
            for step in script.steps:
                self.step(step)
        self.deliver()
        return self.operations()

    def operations(self) -> list[Operation]:
        """Operations created since the simulator started."""
        journal = self.terminal.journal
        last = journal.last_operation()
        if last is None:
            return []
        return [op for n in range(self.first_operation, last.operation + 1) if (op := journal.find(n))]

    def close(self) -> None:
        """Shut the terminal down (and an emulator process we started)."""
        self.terminal.close()
        if self.external is not None:
            self.external.close()


class _NoOp:
    operation = 0


def utility_step(verb: str, args: list[str], folder: Path, where: str) -> list[Any]:
    """The session events of a utility-bill step: a scan reads the file as the scanner would send it."""
    if verb == "scan":
        try:
            return [ev.ScanCode((folder / args[0]).read_bytes())]
        except OSError as exc:
            raise SimulationError(f"{where}: cannot read the scanned file: {exc}") from None
    if verb == "reading":
        return [ev.EditReading(args[0]), ev.SubmitReading()]
    return [{"debt-next": ev.DebtNext, "confirm-reading": lambda: ev.SubmitReading(confirmed=True),
             "skip-reading": ev.SkipReading}[verb]()]


def _now(config: Config) -> Any:
    from datetime import datetime

    return datetime.now(config.timezone)


def summary_lines(ops: list[Operation], terminal: Terminal, lang: str = "en") -> list[str]:
    """A table of the run's operations and the totals."""
    lines = [f"{'op':>6}  {'provider':<12} {'account':<18} {'cash':>12} {'fee':>10} {'credited':>12}  state",
             "-" * 92]
    cash = fee = credited = 0
    for op in ops:
        lines.append(f"{op.operation:>6}  {op.provider:<12} {op.account:<18} "
                     f"{Money(op.cash).decimal_text():>12} {Money(op.fee or 0).decimal_text():>10} "
                     f"{Money(op.credited or 0).decimal_text():>12}  {op.state}"
                     + (f" ({op.attention_reason})" if op.attention_reason else ""))
        cash, fee, credited = cash + op.cash, fee + (op.fee or 0), credited + (op.credited or 0)
    lines.append("-" * 92)
    lines.append(f"{'total':>6}  {len(ops)} operations{'':<20} {Money(cash).decimal_text():>12} "
                 f"{Money(fee).decimal_text():>10} {Money(credited).decimal_text():>12}")
    count, total = terminal.journal.waiting()
    lines.append(f"waiting in the outbox: {count} ({Money(total).format(lang)}); journal: {terminal.journal.path}")
    return lines
