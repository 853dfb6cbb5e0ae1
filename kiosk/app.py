"""Composition root: wires configuration, journal, validator, gateways, outbox and the session together."""

from __future__ import annotations

import hashlib
import hmac
import logging
import queue
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from kiosk import events as ev
from kiosk import housekeeping
from kiosk.catalog import Catalog, Provider, load_catalog
from kiosk.clock import SystemClock
from kiosk.config import Config
from kiosk.drivers.validator import BillValidator
from kiosk.gateways.base import Gateway
from kiosk.gateways.operators import OperatorDetector, national
from kiosk.gateways.router import Router
from kiosk.housekeeping import Chore
from kiosk.money import Money
from kiosk.offline_queue.journal import Journal, Operation
from kiosk.offline_queue.outbox import Outbox
from kiosk.offline_queue.reconcile import Summary, check_cassette, reconcile, recover_bills, settle_start_up
from kiosk.receipt_port import ReceiptDesk
from kiosk.registry import GATEWAYS, VALIDATORS, load
from kiosk.session import Session, SessionDeps
from kiosk.theme_choice import ThemeChoice

if TYPE_CHECKING:
    from kiosk.session_view import ScreenPort

log = logging.getLogger(__name__)

ReceiptPrinter = Callable[[Operation, str], str]


def build_gateways(config: Config) -> dict[str, Gateway]:
    """One adapter per configured gateway, chosen by its protocol name."""
    return {name: load("gateway protocol", GATEWAYS, part.kind)(name, part.options)
            for name, part in config.gateways.items()}


class Terminal:
    """One terminal process: a queue of events feeding one session, plus the outbox in the background."""

    def __init__(self, config: Config, *, clock: Any = None, catalog: Catalog | None = None,
                 gateways: Mapping[str, Gateway] | None = None, validator: BillValidator | None = None,
                 print_receipt: ReceiptPrinter | None = None, background_checks: bool = True,
                 registrar: Any = None) -> None:
        self.pushed_config: Any = None
        # the dealer's last pushed configuration; never enrolled, nothing was pushed, and the link's HTTP and
        # crypto libraries (a third of a second) stay off the way to the first frame
        if (config.journal_path.parent / "dealer-link").is_dir():
            from kiosk.dealer_link.config_sync import pushed_at_start

            config, catalog, self.pushed_config = pushed_at_start(config, catalog)
        self.config = config
        self.clock = clock or SystemClock(config.timezone)
        self.catalog = catalog or load_catalog(config.catalog_path, config.currency, set(config.gateways))
        self.events: queue.Queue[Any] = queue.Queue()
        self.journal = Journal(config.journal_path, config.terminal, config.currency, self.clock.now)
        self.gateways = dict(gateways) if gateways is not None else build_gateways(config)
        self.router = Router(self.gateways, clock=self.clock.monotonic)
        self.outbox = Outbox(
            self.journal, self.router, self.catalog, concurrency=config.outbox_concurrency,
            backoff_base=config.outbox_backoff_base, backoff_max=config.outbox_backoff_max,
            lifetime=config.outbox_lifetime,
            on_settled=lambda number, state: self.post(ev.DeliveryDone(number, state)))
        if validator is None:
            options = dict(config.validator.options)
            validator = load("validator driver", VALIDATORS, config.validator.kind)(self.post, **options)
        self.validator = validator
        self._background_checks = background_checks
        self.receipts = ReceiptDesk.from_config(config, self.catalog)
        if config.printer.kind == "fiscal":  # 54-FZ: a fiscal registrar makes the receipts (kiosk/fiscal/)
            from kiosk.fiscal.wiring import attach

            attach(self.receipts, self.journal, registrar)
        printer_ready = self.receipts.ready if self.receipts.printer is not None else (lambda: False)
        self.session = Session(SessionDeps(
            config=config, catalog=self.catalog, journal=self.journal, validator=validator, router=self.router,
            outbox=self.outbox, clock=self.clock, run_check=self._run_check,
            print_receipt=print_receipt or self._print_receipt, printer_ready=printer_ready,
            validator_name=f"{config.validator.kind}", service_pin_ok=self._pin_ok,
            detect_operator=self._detect_operator, encash=self.encash))
        self._detector: OperatorDetector | None = None
        self.summary: Summary | None = None
        #: called after every post (from any thread): a screen loop uses it to wake up at once
        self.on_post: Callable[[], None] | None = None
        self._printing: list[threading.Thread] = []
        self._scheduler: Any = None
        self.dealer_link: Any = None  # the dealer link's heartbeat loop (its own thread), when enrolled
        self._retired: list[Gateway] = []  # adapters replaced by a pushed configuration
        self.config_sync: Any = None  # pulls the dealer's configuration (its own thread), when enrolled
        self.theme_sync: Any = None  # asks for the dealer's assigned theme (its own thread), when enrolled
        self.update_agent: Any = None  # downloads and installs releases beside this one (its own thread)
        # the theme on screen: the UI draws it, the dealer link delivers packs (kiosk/dealer_link/themes.py)
        self.theme = ThemeChoice(config.journal_path.parent / "themes", config.screen.theme)
        #: set by the screen loop: ends it with this exit code (a remote restart), None without one
        self.request_exit: Callable[[int], None] | None = None

    # -- life cycle -----------------------------------------------------------------------------
    def start(self, background_outbox: bool = True) -> Summary:
        """Recover bills the device stacked before a crash, reconcile the journal, start devices and delivery."""
        replay = getattr(self.validator, "replay", None)
        if replay is not None:
            recover_bills(self.journal, self.catalog, self.session.deps.validator_name, replay())
        # Operations with a STACK pending wait for the device's own start-up report before being settled.
        summary = reconcile(self.journal, self.catalog, keep_pending=True)
        self.validator.start()
        self.pump()  # the device's start-up reports (a bill it stacked before the restart) are handled first
        self.summary = settle_start_up(self.journal, self.catalog, summary)
        contents = getattr(self.validator, "contents", None)  # a device that can list its cassette's bills
        if contents is not None:
            check_cassette(self.journal, self.session.deps.validator_name, contents())
        refusal = self.journal.refusal()
        if refusal is not None:
            self.session.fail_safe(f"journal_lost: {refusal}")
        self.fiscal_upkeep()  # documents a crash left unknown are settled before anyone pays
        if background_outbox:
            self.outbox.start()
        if self._background_checks:
            self._start_housekeeping(background_outbox)
            from kiosk.dealer_link.status import start_heartbeat, start_update_agent  # off the payment path

            self.dealer_link = start_heartbeat(self)
            self.update_agent = start_update_agent(self)
        self.pump()
        return self.summary

    def close(self) -> None:
        """Stop the dealer link, delivery and devices, close the journal."""
        if self.update_agent is not None:
            self.update_agent.close()
            self.update_agent = None
        if self.dealer_link is not None:
            self.dealer_link.close()
            self.dealer_link = None
        if self.config_sync is not None:
            self.config_sync.close()
            self.config_sync = None
        self.outbox.stop()
        for thread in self._printing:
            thread.join(timeout=30)
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        if self.receipts.fiscal is not None:
            self.receipts.fiscal.registrar.close()
        try:
            self.validator.stop()
        finally:
            for gateway in [*self.gateways.values(), *self._retired]:
                gateway.close()
            self.journal.close()

    def screen_port(self) -> ScreenPort:
        """What the screens may see and do (the session's view and events, the service menu's port)."""
        from kiosk.session_view import ScreenPort

        return ScreenPort(self)

    # -- events ---------------------------------------------------------------------------------
    def post(self, event: Any) -> None:
        """Queue an event for the session (any thread)."""
        self.events.put(event)
        if self.on_post is not None:
            self.on_post()

    def between_payments(self, label: str, work: Callable[[], None]) -> None:
        """Run `work` on the UI thread as soon as no payment is in progress (at once if none is); any thread."""
        self.post(ev.BetweenPayments(work, label))

    def reconfigure(self, config: Config, catalog: Catalog) -> None:
        """Run with a new configuration and catalog from now on; only between payments (a payment in progress
        keeps the provider, fee and limits it started with)."""
        # New options (a secret) need a new adapter (the breaker stays); all are built before anything changes,
        # so an adapter that cannot be built leaves the terminal as it was.
        fresh = {name: load("gateway protocol", GATEWAYS, part.kind)(name, part.options)
                 for name, part in config.gateways.items() if part != self.config.gateways.get(name)}
        for name, gateway in fresh.items():
            self._retired.append(self.gateways[name])  # closed at shutdown: an attempt may still be on it
            self.gateways[name] = self.router.gateways[name] = gateway
        self.config = self.session.deps.config = self.receipts.config = config
        self.catalog = self.session.deps.catalog = self.outbox.catalog = self.receipts.catalog = catalog
        self._detector = None

    def pump(self) -> int:
        """Handle every queued event on this thread; returns how many."""
        handled = 0
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return handled
            try:
                self.session.handle(event)
            except Exception as exc:  # a fault (disk, journal) must stop the money, not the process
                log.exception("handling %r failed", event)
                self.session.fail_safe(f"{type(exc).__name__}: {exc}")
            handled += 1

    def service_facts(self) -> list[tuple[str, str]]:
        """What the service menu shows about the journal and the clock (English; for technicians)."""
        facts = []
        refusal = self.journal.refusal()
        if refusal:
            facts.append(("Journal", f"NOT TAKING MONEY until accepted: {refusal}"))
        skew = self.journal.clock_skew()
        facts.append(("Clock", "skew unknown (no processing system answered yet)" if skew is None else
                      f"{skew['seconds']:+.0f} s against {skew['source']}"))
        return facts

    def accept_new_journal(self, who: str = "service menu") -> str | None:
        """A person confirms a lost journal's history is handled: money may be taken again after service."""
        reason = self.journal.accept_new(who)
        if reason is not None and (self.session.fault or "").startswith("journal_lost"):
            self.session.fault = None  # leaving the service menu now returns to idle, not out of service
        return reason

    def encash(self, reason: str, counted: dict[int, int] | None = None) -> dict[str, Any]:
        """Close an encashment (cassette removed, or the service menu) and print its receipt."""
        record = self.journal.encash(reason, counted)
        record["receipt"] = self.receipts.print_encashment(record)
        return record

    def _start_housekeeping(self, background_outbox: bool) -> None:
        chores = [Chore("journal checkpoint", 900, self.journal.checkpoint)]
        if self.receipts.printer is not None:
            self.receipts.refresh()
            self.receipts.monitored = True
            chores.append(Chore("printer status", 5, self.receipts.refresh))
        if self.receipts.fiscal is not None:
            from kiosk.fiscal.wiring import UPKEEP_SECONDS

            chores.append(Chore("fiscal upkeep", UPKEEP_SECONDS,
                                lambda: self.between_payments("fiscal upkeep", self.fiscal_upkeep)))
        if background_outbox:
            chores.append(Chore("outbox nudge", 30, self.outbox.kick))  # in case a wake-up was missed
        self._scheduler = housekeeping.start(chores, self.config.timezone)

    def fiscal_upkeep(self) -> None:
        """Scheduled Z-report and fiscal receipts still owed; between payments only (a fiscal registrar only)."""
        if self.receipts.fiscal is not None:
            from kiosk.fiscal.wiring import upkeep

            upkeep(self.receipts.fiscal, self.journal.get)

    def _print_receipt(self, op: Operation, kind: str) -> str | None:
        """Print on a worker thread when the terminal has a screen to keep alive; the result is journaled."""
        if not self._background_checks:
            return self.receipts.print_operation(op, kind)

        def work() -> None:
            status = self.receipts.print_operation(op, kind)
            self.journal.set_receipt(op.operation, status)
            self.post(ev.ReceiptPrinted(op.operation, status))

        self._printing = [t for t in self._printing if t.is_alive()]
        thread = threading.Thread(target=work, name=f"receipt-{op.operation}", daemon=True)
        self._printing.append(thread)
        thread.start()
        return None

    def _detect_operator(self, number: str) -> tuple[str | None, str]:
        if self._detector is None:  # the numbering table is read on first use, not at start-up
            self._detector = OperatorDetector(providers=self.catalog.providers)
        return self._detector.provider_for(number), national(number) or number

    def _pin_ok(self, pin: str) -> bool:
        expected = self.config.service_pin_sha256
        given = hashlib.sha256(pin.encode()).hexdigest()
        return bool(expected) and hmac.compare_digest(expected, given)

    def _run_check(self, ticket: int, provider: Provider, account: str, amount: Money,
                   fields: Mapping[str, str]) -> None:
        def work() -> None:
            outcome, route = self.router.check(provider, account, amount, fields)
            self.post(ev.CheckDone(ticket, outcome, route))

        if self._background_checks:
            threading.Thread(target=work, name="online-check", daemon=True).start()
        else:
            work()
