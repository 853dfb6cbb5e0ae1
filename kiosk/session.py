"""The payment session: one payer at a time, driven by events on one queue, never dropping money.

The machine itself (states, timeouts, transitions) is data in kiosk.session_model; this module holds the
conditions and the state entry actions, and talks to the outside only through SessionDeps.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from transitions import Machine

from kiosk import events as ev
from kiosk.catalog import Catalog, Provider
from kiosk.config import Config
from kiosk.drivers import validator as dv
from kiosk.errors import JournalError
from kiosk.gateways.base import Payable, Refused, Unreachable
from kiosk.gateways.router import Router
from kiosk.money import Money
from kiosk.offline_queue.journal import COLLECTING, Journal, Operation
from kiosk.offline_queue.outbox import Outbox
from kiosk.offline_queue.reconcile import commit_operation
from kiosk.session_devices import DeviceEvents
from kiosk.session_model import STATES, TIMEOUTS, TRANSITIONS

log = logging.getLogger(__name__)
# Stale taps and device events that do not apply in the current state are ignored on purpose;
# transitions would log each of them as a warning.
logging.getLogger("transitions.core").setLevel(logging.ERROR)

SETTLE_SECONDS = 15  # how long Pay waits for a bill already on its way to the cassette
PRINTER_RECHECK_SECONDS = 10
PIN_ATTEMPTS, PIN_LOCK_SECONDS = 3, 300


@dataclass
class SessionDeps:
    """Everything the session talks to; the composition root (app.py, the simulator, tests) fills it."""

    config: Config
    catalog: Catalog
    journal: Journal
    validator: dv.BillValidator
    router: Router
    outbox: Outbox | None
    clock: Any  # SystemClock | ManualClock
    run_check: Callable[[int, Provider, str, Money, Mapping[str, str]], None]
    print_receipt: Callable[[Operation, str], str | None]
    validator_name: str = "validator"
    service_pin_ok: Callable[[str], bool] = lambda pin: False
    printer_ready: Callable[[], bool] = lambda: True
    encash: Callable[[str], Any] = lambda reason: None
    detect_operator: Callable[[str], tuple[str | None, str]] = lambda number: (None, number)


@dataclass
class SessionView:
    """What a screen needs to draw the current moment."""

    state: str
    category: str | None = None
    provider: str | None = None
    account: str = ""
    account_display: str = ""
    account_error: str = ""
    details: dict[str, str] = field(default_factory=dict)
    operation: int | None = None
    cash: int = 0
    fee: int = 0
    credited: int = 0
    min_amount: int = 0
    max_amount: int = 0
    offline: bool = False
    message: str = ""
    seconds_left: int | None = None
    waiting: int = 0
    fault: str | None = None
    outcome: str = ""
    no_receipt: bool = False
    receipt: str = ""  # "printing" while a receipt is on its way out, then the journaled receipt status


class Session(DeviceEvents):
    """The state machine's model: conditions and actions; transitions come from session_model."""

    def __init__(self, deps: SessionDeps) -> None:
        self.deps = deps
        self.category: str | None = None
        self.provider: Provider | None = None
        self.account = ""
        self.account_error = ""
        self.details: dict[str, str] = {}
        self.operation: int | None = None
        self.cash = 0
        self.offline = False
        self.message = ""
        self.fault: str | None = None
        self.outcome = ""
        self.no_receipt = False
        self.receipt_status = ""
        self.typed_phone = ""
        self._printer_checked = 0.0
        self._pin_failures = 0
        self._pin_locked_until = 0.0
        self.commit_reason = "pay"
        self.in_transit: dv.Bill | None = None
        self.pay_requested = False
        self.bill_events = 0  # bills that reached an end (stacked, returned, rejected, uncertain): for scripts
        self.last_operation: Operation | None = None
        self._ticket = 0
        self._deadline: float | None = None
        self.machine = Machine(model=self, states=STATES, transitions=TRANSITIONS, initial="idle",
                               queued=True, ignore_invalid_triggers=True, auto_transitions=False,
                               after_state_change="_entered")

    # -- events -----------------------------------------------------------------------------------
    def handle(self, event: Any) -> None:
        """Process one event from the queue."""
        handler = getattr(self, "_on_" + type(event).__name__, None)
        if handler is None:
            log.debug("session ignores %r", event)
            return
        handler(event)

    def _on_Touch(self, event: ev.Touch) -> None:
        if self.state == "idle" and not self.deps.printer_ready():
            if self.deps.config.receipt_required:
                self.fault = "printer"
                self.device_fault()
                return
            # Told before any money is taken: the confirmation screen says no receipt will be printed.
            self.no_receipt = True
        self.touch()

    def _on_ChooseCategory(self, event: ev.ChooseCategory) -> None:
        if self.state == "category" and any(c.id == event.category for c in self.deps.catalog.categories):
            self.category = event.category
            self.choose_category()

    def _on_ChooseProvider(self, event: ev.ChooseProvider) -> None:
        provider = self.deps.catalog.providers.get(event.provider)
        if provider is not None and self.state in ("idle", "category", "provider"):
            self.provider, self.category = provider, provider.category
            self.account, self.account_error, self.details, self.offline = "", "", {}, False
            self.choose_provider()
            if self.state == "account_entry" and self.typed_phone and provider.category == "mobile":
                # The payer typed the number before we knew the operator: do not make them type it again.
                self.account, self.typed_phone = self.typed_phone, ""

    def _on_EnterPhone(self, event: ev.EnterPhone) -> None:
        if self.state not in ("category", "provider"):
            return
        provider_id, national = self.deps.detect_operator(event.number)
        if provider_id is None:
            # Nobody knows the operator: the payer chooses it; a guess could send money to a stranger.
            if self.state == "category":
                self.category = "mobile"
                self.choose_category()
            self.message, self.typed_phone = "choose_operator", national
            return
        self._on_ChooseProvider(ev.ChooseProvider(provider_id))
        if self.state == "account_entry":
            self.account = national

    def _on_EditAccount(self, event: ev.EditAccount) -> None:
        if self.state == "account_entry" and self.provider is not None:
            self.account = event.text[: self.provider.account_field.max_length]
            self.account_error = ""
            self._arm()

    def _on_SubmitAccount(self, event: ev.SubmitAccount) -> None:
        self.submit_account()

    def _on_Confirm(self, event: ev.Confirm) -> None:
        self.confirm()

    def _on_Pay(self, event: ev.Pay) -> None:
        if self.state != "cash_collection":
            return
        if self.in_transit is not None:
            # A bill is on its way to the cassette: stop taking more, commit when it lands.
            self.pay_requested = True
            self.deps.validator.disable()
            self._deadline = min(self._deadline or float("inf"), self.deps.clock.monotonic() + SETTLE_SECONDS)
            return
        self.commit_reason = "pay"
        if not self.enough_cash():
            self.message = "insert_more"
            return
        self.pay()

    def _on_MoreTime(self, event: ev.MoreTime) -> None:
        # Only where the payer is awaited (not a check's reply or a delivery), and never the short wait
        # after Pay for a bill on its way to the cassette: that wait must end in the commit it promises.
        if self.state in ("category", "provider", "account_entry", "confirmation", "cash_collection") \
                and not self.pay_requested:
            self._arm()

    def _on_Back(self, event: ev.Back) -> None:
        self.back()

    def _on_Cancel(self, event: ev.Cancel) -> None:
        if self.state == "cash_collection" and self.has_cash():
            self.message = "cannot_cancel_with_money"
            return
        self.cancel()

    def _on_ReceiptTaken(self, event: ev.ReceiptTaken) -> None:
        self.receipt_done()

    def _on_ServiceLogin(self, event: ev.ServiceLogin) -> None:
        now = self.deps.clock.monotonic()
        if now < self._pin_locked_until:
            # A four-digit PIN falls to guessing in minutes without this; the street has all the time it wants.
            self.message = "pin_locked"
            return
        if self.deps.service_pin_ok(event.pin):
            self._pin_failures = 0
            self.service_login()
            return
        self._pin_failures += 1
        self.message = "wrong_pin"
        if self._pin_failures >= PIN_ATTEMPTS:
            self._pin_failures = 0
            self._pin_locked_until = now + PIN_LOCK_SECONDS
            self.message = "pin_locked"
            log.warning("service PIN entered wrongly %d times: locked for %d s", PIN_ATTEMPTS, PIN_LOCK_SECONDS)

    def _on_ServiceExit(self, event: ev.ServiceExit) -> None:
        self.service_exit()

    def _on_Tick(self, event: ev.Tick) -> None:
        if self.state == "out_of_service" and self.fault == "printer":
            now = self.deps.clock.monotonic()
            if now - self._printer_checked >= PRINTER_RECHECK_SECONDS:
                self._printer_checked = now
                if self.deps.printer_ready():
                    self._on_recovered(event)
            return
        if self._deadline is not None and self.deps.clock.monotonic() >= self._deadline:
            self._deadline = None
            if self.state == "cash_collection":
                self.commit_reason = "timeout"
            self.timeout()

    def _on_CheckDone(self, event: ev.CheckDone) -> None:
        if self.state != "online_check" or event.ticket != self._ticket:
            return  # a late reply to a check the payer already walked away from
        outcome = event.outcome
        if isinstance(outcome, Payable):
            self.details = dict(outcome.details)
            override = self.deps.catalog.providers.get(outcome.provider_override)
            if override is not None and override.id != self.provider.id:
                log.info("number portability: %s is served by %s", self.account, override.id)
                self.provider = override
            self.check_payable()
        elif isinstance(outcome, Refused):
            self.account_error = str(outcome.code)
            self.check_refused()
            self.message = outcome.message
        elif isinstance(outcome, Unreachable):
            self.check_unreachable()
            if self.state == "provider":
                self.message = "provider_unavailable"

    def _on_ReceiptPrinted(self, event: ev.ReceiptPrinted) -> None:
        if event.operation == self.operation:
            self.receipt_status = event.status

    def _on_DeliveryDone(self, event: ev.DeliveryDone) -> None:
        if self.state == "delivery" and event.operation == self.operation:
            self.outcome = event.state
            self.delivered()

    # -- conditions -------------------------------------------------------------------------------
    def provider_available(self) -> bool:
        """Reachable online, or payable offline within the offline limits."""
        ok = self.deps.router.reachable(self.provider) or self.offline_possible()
        self.message = "" if ok else "provider_unavailable"
        return ok

    def account_valid(self) -> bool:
        """The account passes the provider's mask, pattern, length and checksum."""
        self.account_error = self.provider.account_field.problem(self.account)
        return not self.account_error

    def wants_online_check(self) -> bool:
        """The provider checks accounts online and a route is up."""
        return self.provider.online_check and self.deps.router.reachable(self.provider)

    def payable_without_check(self) -> bool:
        """No online check is needed, or the payment may wait offline."""
        if self.deps.router.reachable(self.provider):
            return True
        return self.offline_possible()

    def offline_possible(self) -> bool:
        """The provider allows offline payment and the offline limits leave room for its minimum."""
        if not self.provider.offline:
            return False
        self.offline = True
        return self.max_cash() >= self.min_cash()

    def enough_cash(self) -> bool:
        """At least the minimum payment is inside, and the fee leaves something to credit."""
        if self.cash < self.min_cash():
            return False
        return self.provider.fee.split(Money(self.cash, self.deps.config.currency)).credited.minor > 0

    def bills_settled(self) -> bool:
        """No bill is between escrow and the cassette."""
        return self.in_transit is None

    def has_cash(self) -> bool:
        """Money is inside."""
        return self.cash > 0

    def no_cash(self) -> bool:
        """No money is inside."""
        return self.cash == 0

    def faulty(self) -> bool:
        """A device fault is waiting to take the terminal out of service."""
        return self.fault is not None

    # -- limits -----------------------------------------------------------------------------------
    def min_cash(self) -> int:
        """The smallest payment for this provider here."""
        return max(self.provider.min_amount.minor, self.deps.config.min_operation.minor)

    def max_cash(self) -> int:
        """The largest payment for this provider here; offline also bounded by the offline exposure."""
        config = self.deps.config
        limit = min(self.provider.max_amount.minor, config.max_operation.minor)
        if self.offline:
            _, waiting_total = self.deps.journal.waiting()
            limit = min(limit, config.offline_max_operation.minor,
                        config.offline_max_total.minor - waiting_total + self.cash)
        return limit

    def acceptable(self) -> list[int]:
        """Bill values that still fit under the maximum."""
        room = self.max_cash() - self.cash
        return [d for d in self.deps.config.denominations if d <= room]

    # -- state entry actions ------------------------------------------------------------------------
    def _entered(self) -> None:
        """A new state: messages about the last one no longer apply; its timeout starts."""
        self.message = ""
        if self.state not in ("provider", "account_entry"):
            self.typed_phone = ""  # the payer walked away from choosing an operator for that number
        self._arm()

    def _arm(self) -> None:
        """Restart the current state's timeout (after a state change or any sign of life from the payer)."""
        key = TIMEOUTS.get(self.state)
        self._deadline = None if key is None else self.deps.clock.monotonic() + self.deps.config.timeouts[key]

    def on_enter_idle(self) -> None:
        """Forget the payer; make sure nothing is left collecting."""
        if self.operation is not None:
            op = self.deps.journal.find(self.operation)
            if op is not None and op.state == COLLECTING:
                if op.cash:
                    commit_operation(self.deps.journal, self.deps.catalog, op.operation, "safety_net")
                else:
                    self.deps.journal.cancel(op.operation, "no_money")
            self.last_operation = self.deps.journal.find(self.operation)
        self.deps.validator.disable()
        self.category = self.provider = self.operation = None
        self.account = self.account_error = self.message = self.outcome = ""
        self.details, self.cash, self.offline, self.no_receipt = {}, 0, False, False
        self.receipt_status = self.typed_phone = ""
        self.in_transit, self.pay_requested = None, False

    def on_enter_online_check(self) -> None:
        """Ask the processing system about the account, in the background."""
        self._ticket += 1
        amount = Money(self.min_cash(), self.deps.config.currency)
        self.deps.run_check(self._ticket, self.provider, self.account, amount, {"account": self.account})

    def on_enter_cash_collection(self) -> None:
        """Journal the operation, then (and only then) let the validator take bills."""
        fields = {"account": self.account}
        try:
            op = self.deps.journal.open_operation(
                self.provider.id, self.account, fields, max_cash=self.max_cash(), offline=self.offline,
                details=dict(self.details))
        except JournalError:
            log.exception("cannot open an operation; going out of service")
            self.fault = "journal"
            self.device_fault()
            return
        self.operation, self.cash = op.operation, 0
        self.deps.validator.enable(self.acceptable())

    def on_enter_commit(self) -> None:
        """Fix the amount and fee; the operation enters the outbox."""
        self.deps.validator.disable()
        op = commit_operation(self.deps.journal, self.deps.catalog, self.operation, self.commit_reason)
        self.last_operation = op
        self.committed()

    def on_enter_delivery(self) -> None:
        """Try to deliver now while the payer waits a little; offline it simply waits in the outbox."""
        if self.offline or self.deps.outbox is None:
            self.outcome = "queued"
            self.delivered()
            return
        self.deps.outbox.submit(self.operation)

    def on_enter_receipt(self) -> None:
        """Print what happened, and journal what was printed."""
        op = self.deps.journal.get(self.operation)
        self.last_operation = op
        kind = {"delivered": "payment", "needs_attention": "not_completed"}.get(op.state, "queued")
        status = self.deps.print_receipt(op, kind)
        if status is not None:  # None: printing goes on in the background and journals its own outcome
            self.deps.journal.set_receipt(op.operation, status)
        self.receipt_status = status or "printing"

    def on_enter_out_of_service(self) -> None:
        """Take no money while something is wrong."""
        self.deps.validator.disable()
        log.warning("out of service: %s", self.fault)

    def fail_safe(self, reason: str) -> None:
        """Something failed inside the terminal: take no more money and show out of service.

        Deliberately no transition callbacks: they may need the very thing that just failed (the journal).
        Whatever was journaled stays; start-up reconciliation finishes it after the restart.
        """
        try:
            self.deps.validator.disable()
            self.deps.validator.return_bill()  # a bill still in escrow is not yet taken: hand it back
        except Exception:
            log.exception("could not stop the validator")
        self.fault = reason
        self.machine.set_state("out_of_service")
        self._deadline = None
        log.critical("out of service after an internal fault: %s", reason)

    # -- for screens ------------------------------------------------------------------------------
    def view(self) -> SessionView:
        """A snapshot for drawing."""
        view = SessionView(state=self.state, category=self.category, account=self.account,
                           account_error=self.account_error, details=dict(self.details), operation=self.operation,
                           cash=self.cash, offline=self.offline, message=self.message, fault=self.fault,
                           outcome=self.outcome, no_receipt=self.no_receipt,
                           receipt=self.receipt_status)
        view.waiting = self.deps.journal.waiting()[0]
        if self._deadline is not None:
            view.seconds_left = max(0, int(self._deadline - self.deps.clock.monotonic() + 0.999))
        if self.provider is not None:
            view.provider = self.provider.id
            view.account_display = self.provider.account_field.masked(self.account)
            split = self.provider.fee.split(Money(self.cash, self.deps.config.currency))
            view.fee, view.credited = split.fee.minor, split.credited.minor
            view.min_amount, view.max_amount = self.min_cash(), self.max_cash()
        return view
