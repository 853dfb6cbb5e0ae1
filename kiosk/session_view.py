"""What the screens may see and do: the session's view, its events, and a small port for the service menu.

Screens never hold the journal, a driver, a gateway or the router (DESIGN.md: higher layers see lower ones
through a narrow view). `Terminal.screen_port()` builds a `ScreenPort` here; the service menu's figures and
actions go through its `ServiceMenu`, and the demo's banknote keys through a `DemoPort` the demo wiring gives.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from kiosk.catalog import Catalog, Provider
from kiosk.config import Config
from kiosk.session import SessionView
from kiosk.story import Story, from_journal

if TYPE_CHECKING:
    from kiosk.app import Terminal
    from kiosk.drivers.validator import Identity, ValidatorStatus
    from kiosk.offline_queue.journal import Operation
    from kiosk.theme_choice import ThemeChoice


class HasScreenPort(Protocol):
    """A terminal that can give its screens their port (kiosk.app.Terminal)."""

    def screen_port(self) -> ScreenPort:
        """The port."""


class DemoPort(Protocol):
    """The demo's banknote keys: a payer pushing a banknote (in kopecks) into whatever plays the validator."""

    def __call__(self, kopecks: int) -> None:
        """Push one banknote in."""


@dataclass(frozen=True, slots=True)
class DeviceSummary:
    """The service menu's first page: how the devices and the queues are, as facts (the screen words them)."""

    validator_online: bool
    printer: str | None  # the printer's status summary ('ok', 'paper_out' …), None without a printer
    gateways: dict[str, str]  # name → breaker state ('closed', 'open', 'half-open')
    waiting: tuple[int, int]  # operations waiting for delivery, and their cash in kopecks
    attention: int


@dataclass(frozen=True, slots=True)
class ClockSkew:
    """How far the terminal's clock was from a processing system's when it last answered."""

    seconds: float  # the terminal's clock minus the server's
    source: str  # the gateway whose HTTP Date it was measured against
    at: str  # when it was measured (the journal's ISO time stamp)
    limit: float  # beyond this many seconds either way the clock is faulty

    @property
    def beyond_limit(self) -> bool:
        """Whether the skew is beyond what the terminal tolerates."""
        return abs(self.seconds) > self.limit


class ServiceMenu:
    """The service menu's port: figures read from the devices and the journal, and the few actions it has."""

    def __init__(self, terminal: Terminal) -> None:
        self._t = terminal

    def devices(self) -> DeviceSummary:
        """Validator, printer, gateways and queues now (device I/O: call when a page opens, not per frame)."""
        t = self._t
        return DeviceSummary(validator_online=t.validator.status().online, printer=self.printer_status(),
                             gateways={name: t.router.state(name) for name in t.gateways},
                             waiting=t.journal.waiting(), attention=len(t.journal.in_state("needs_attention")))

    def printer_status(self) -> str | None:
        """The receipt printer's status summary, None when the terminal has no printer."""
        printer = self._t.receipts.printer
        return printer.status().summary if printer is not None else None

    def validator(self) -> tuple[Identity, ValidatorStatus, list[int]]:
        """The validator's identity, status and bill table (kopecks)."""
        v = self._t.validator
        return v.identity(), v.status(), [bill.value for bill in v.bill_table()]

    def cassette(self) -> Counter[int]:
        """Bills by denomination since the last encashment: every bill journaled, less those encashed."""
        journal = self._t.journal
        last = journal.last_operation()
        counts: Counter[int] = Counter()
        if last is not None:
            for bills in journal.bills_by_operation(1, last.operation).values():
                counts.update(bills)
        for record in journal.encashments(limit=1_000_000):
            counts.subtract(record["counts"])
        return +counts  # drops zero counts

    def encashments(self, limit: int) -> list[dict[str, Any]]:
        """The newest encashment records."""
        return list(self._t.journal.encashments(limit=limit))

    def operations(self, state: str, limit: int) -> list[Operation]:
        """Operations in a journal state ('committed' waits for delivery, 'needs_attention' for a person)."""
        return list(self._t.journal.in_state(state, limit=limit))

    def incidents(self, limit: int) -> list[dict[str, Any]]:
        """The newest journaled incidents."""
        return list(self._t.journal.incidents(limit=limit))

    def story(self, operation: int) -> Story | None:
        """An operation's whole story, as `kiosk journal lookup` and the dealer service tell it."""
        return from_journal(self._t.journal, operation)

    def last_operation(self) -> int | None:
        """The number of the newest operation, if any."""
        last = self._t.journal.last_operation()
        return last.operation if last is not None else None

    def print_test_page(self, lang: str) -> str | None:
        """Print a test page; the printer's outcome ('printed' …), None without a printer."""
        from kiosk.receipt import TestPageData, build_test_page

        t = self._t
        printer = t.receipts.printer
        if printer is None:
            return None
        page = build_test_page(TestPageData(t.config.terminal, t.clock.now(), t.config.timezone.key,
                                            t.config.address, lang))
        return printer.print_receipt(page).outcome

    def reprint_last(self) -> str:
        """Reprint the last receipt; its journal receipt status."""
        return self._t.receipts.reprint_last()

    def encash(self, reason: str) -> dict[str, Any]:
        """Close an encashment and print its receipt."""
        return self._t.encash(reason)

    def clock_skew(self) -> ClockSkew | None:
        """The clock's last measured skew against a processing system's HTTP Date, None before any reply."""
        from kiosk.offline_queue.outbox import CLOCK_SKEW_LIMIT

        skew = self._t.journal.clock_skew()
        if skew is None:
            return None
        return ClockSkew(float(skew["seconds"]), str(skew["source"]), str(skew["at"]), CLOCK_SKEW_LIMIT)

    def journal_refusal(self) -> str | None:
        """Why the terminal refuses money until a person accepts the new journal (None: it takes money)."""
        return self._t.journal.refusal()

    def accept_new_journal(self) -> str | None:
        """The person who entered the service PIN accepts the new journal; what was refused, None if nothing."""
        # one PIN per terminal: the journal's incident names the PIN holder and where they confirmed
        who = f"the service PIN holder, in the service menu of terminal {self._t.config.terminal}"
        return self._t.accept_new_journal(who)


class ScreenPort:
    """The terminal as the screens see it: configuration, catalog, the session's view and events, and ports."""

    def __init__(self, terminal: Terminal) -> None:
        self._t = terminal
        self.service = ServiceMenu(terminal)
        self.theme: ThemeChoice | None = getattr(terminal, "theme", None)  # the dealer's delivered theme, if any

    @property
    def config(self) -> Config:
        """The configuration in force (a pushed one replaces it between payments)."""
        return self._t.config

    @property
    def catalog(self) -> Catalog:
        """The catalog in force."""
        return self._t.catalog

    def view(self) -> SessionView:
        """The session's view of this moment (a copy: changing it changes nothing)."""
        return self._t.session.view()

    def post(self, event: object) -> None:
        """Queue a session event."""
        self._t.post(event)

    def pump(self) -> int:
        """Handle the queued events on this thread."""
        return self._t.pump()

    def on_post(self, wake: Callable[[], None]) -> None:
        """Call wake after every post from any thread (a sleeping screen loop wakes at once)."""
        self._t.on_post = wake

    def set_receipt_language(self, lang: str) -> None:
        """Print the payer's receipt in the language they chose on screen."""
        self._t.receipts.language = lang

    def reachable(self, provider: Provider) -> bool:
        """Whether a provider can be paid now (offline-allowed, or a route answers)."""
        return provider.offline or self._t.router.reachable(provider)

    def acceptable(self) -> list[int]:
        """Banknotes (kopecks) that still fit under the payment's maximum, as the session decides it."""
        return self._t.session.acceptable()

    def last_outcome(self, operation: int | None) -> str | None:
        """What the last delivery attempt of an operation came to ('unknown', 'declined' …), if any."""
        op = self._t.journal.find(operation) if operation is not None else None
        return op.last_outcome if op is not None else None
