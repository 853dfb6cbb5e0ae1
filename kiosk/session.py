"""The payment session: one payer at a time, driven by events on one queue, never dropping money.

Read it top to bottom: ``handle`` looks the event's class up in one table and calls its handler; a handler
checks the event's own data (a known provider, the current check) and fires one trigger. Which trigger applies
in which state, under which conditions, is data in kiosk.session_model; what the conditions ask and the
callbacks do is in kiosk.session_actions. The session talks to the outside only through SessionDeps.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from transitions import Machine

from kiosk import events as ev
from kiosk.bills.match import BillMatch, read_bill
from kiosk.drivers import validator as dv
from kiosk.gateways.base import Payable, Refused, Unreachable
from kiosk.money import Money
from kiosk.offline_queue.journal import COLLECTING
from kiosk.offline_queue.reconcile import book_late_bill, credit_reported_stack
from kiosk.session_model import COMPLETION, STATES, TRANSITIONS
from kiosk.session_ports import SessionDeps, SessionView
from kiosk.utility_session import UtilityActions

__all__ = ["Session", "SessionDeps", "SessionView"]

log = logging.getLogger(__name__)
# Stale taps and device events that do not apply in the current state are ignored on purpose;
# transitions would log each of them as a warning.
logging.getLogger("transitions.core").setLevel(logging.ERROR)

PIN_ATTEMPTS, PIN_LOCK_SECONDS = 3, 300


class Session(UtilityActions):
    """The state machine's model: events in, triggers out; transitions come from session_model."""

    def __init__(self, deps: SessionDeps) -> None:
        super().__init__(deps)
        self.bill_events = 0  # bills that reached an end (stacked, returned, rejected, uncertain): for scripts
        self._pin_failures = 0
        self._pin_locked_until = 0.0
        self._firing = False
        self._deferred: list[ev.BetweenPayments] = []  # waiting for the payer to finish
        states = [{"name": state, "on_enter": "entered"} for state in STATES]
        self.machine = Machine(model=self, states=states, transitions=TRANSITIONS, initial="idle",
                               send_event=True, ignore_invalid_triggers=True, auto_transitions=False)
        device_fault = self._device_fault
        device_back = self._device_back
        #: every event the session understands → its handler; anything else is ignored
        self.handlers: dict[type, Callable[[Any], None]] = {
            ev.Touch: lambda event: self._fire("touch"),
            ev.ChooseCategory: self._choose_category,
            ev.ChooseProvider: self._choose_provider,
            ev.EnterPhone: self._enter_phone,
            ev.EditAccount: lambda event: self._fire("edit_account", text=event.text),
            ev.ScanCode: self._scan,
            ev.DebtNext: lambda event: self._fire("debt_next"),
            ev.EditReading: lambda event: self._fire("edit_reading", text=event.text),
            ev.SubmitReading: lambda event: self._fire("submit_reading", confirmed=event.confirmed),
            ev.SkipReading: lambda event: self._fire("skip_reading"),
            ev.SubmitAccount: lambda event: self._fire("submit_account"),
            ev.Confirm: lambda event: self._fire("confirm"),
            ev.Pay: lambda event: self._fire("pay"),
            ev.MoreTime: lambda event: self._fire("more_time"),
            ev.Back: lambda event: self._fire("back"),
            ev.Cancel: lambda event: self._fire("cancel"),
            ev.ReceiptTaken: lambda event: self._fire("receipt_done"),
            ev.ServiceLogin: self._service_login,
            ev.ServiceExit: lambda event: self._fire("service_exit"),
            ev.Tick: self._tick,
            ev.CheckDone: self._check_done,
            ev.DeliveryDone: self._delivery_done,
            ev.ReceiptPrinted: self._receipt_printed,
            ev.BetweenPayments: self._deferred.append,
            dv.Escrow: lambda event: self._fire("escrow", bill=event.bill),
            dv.Stacked: self._stacked,
            dv.Returned: self._returned,
            dv.Rejected: self._returned,
            dv.Uncertain: self._uncertain,
            dv.EventsLost: self._events_lost,
            dv.Failure: device_fault,
            dv.Jammed: device_fault,
            dv.CassetteFull: device_fault,
            dv.Cheated: device_fault,
            dv.Disconnected: device_fault,
            dv.CassetteRemoved: self._cassette_removed,
            dv.Ready: device_back,
            dv.CassetteInserted: device_back,
        }

    def handle(self, event: object) -> None:
        """Process one event from the queue."""
        handler = self.handlers.get(type(event))
        if handler is None:
            log.debug("session ignores %r", event)
            return
        handler(event)
        self._run_deferred()

    def between_payments(self) -> bool:
        """No payer is in the middle of a payment: attract screen or out of service with no money collecting."""
        if self.state not in ("idle", "out_of_service"):
            return False
        if self.operation is None:
            return True
        op = self.deps.journal.find(self.operation)
        return op is None or op.state != COLLECTING

    def _run_deferred(self) -> None:
        """Run the work that waited for the end of a payment, outside any transition (it may fire triggers)."""
        while self._deferred and self.between_payments():
            item = self._deferred.pop(0)
            log.info("between payments: %s", item.label)
            try:
                item.work()
            except Exception:  # one failed piece of work must not keep the others waiting or stop the session
                log.exception("between-payments work %r failed", item.label)

    def lock(self, message: str) -> None:
        """Out of service by the dealer's wish, showing their message (call between payments, on this thread)."""
        self._fire("lock", message=message)

    def unlock(self) -> None:
        """End the dealer's lock: back to idle unless a fault keeps the terminal out of service."""
        self._fire("unlock")

    def fail_safe(self, reason: str) -> None:
        """Something failed inside the terminal: take no more money and show out of service."""
        self._fire("internal_fault", reason=reason)
        log.critical("out of service after an internal fault: %s", reason)

    def _fire(self, trigger: str, **data: Any) -> None:
        """Run one trigger through the machine, then the completion transitions it leads to."""
        if self._firing:
            # Chained triggers hide the flow from the model: declare a completion transition instead.
            raise RuntimeError(f"trigger {trigger!r} fired from inside a transition")
        self._firing = True
        try:
            self.machine.events[trigger].trigger(self, **data)
            while self.machine.events[COMPLETION].trigger(self):
                pass
        finally:
            self._firing = False

    # -- the payer's events -------------------------------------------------------------------------
    def _choose_category(self, event: ev.ChooseCategory) -> None:
        if any(c.id == event.category for c in self.deps.catalog.categories):
            self._fire("choose_category", category=event.category)

    def _choose_provider(self, event: ev.ChooseProvider) -> None:
        provider = self.deps.catalog.providers.get(event.provider)
        if provider is not None:
            self._fire("choose_provider", provider=provider)

    def _enter_phone(self, event: ev.EnterPhone) -> None:
        provider_id, national = self.deps.detect_operator(event.number)
        provider = self.deps.catalog.providers.get(provider_id) if provider_id is not None else None
        if provider_id is not None and provider is None:
            return  # an operator this terminal does not serve
        self._fire("enter_phone", provider=provider, number=national)

    def _scan(self, event: ev.ScanCode) -> None:
        """A scanned bill: its provider and account, then the account's check; or why it cannot be paid here."""
        result = read_bill(self.deps.catalog, event.data)
        if not isinstance(result, BillMatch):
            self._fire("scan_refused", problem=result)
            return
        self._fire("scan", provider=result.provider, bill=result)
        if self.state == "account_entry" and self.bill is result:
            self._fire("submit_account")

    def _service_login(self, event: ev.ServiceLogin) -> None:
        now = self.deps.clock.monotonic()
        if now < self._pin_locked_until:
            # A four-digit PIN falls to guessing in minutes without this; the street has all the time it wants.
            self.message = "pin_locked"
            return
        if self.deps.service_pin_ok(event.pin):
            self._pin_failures = 0
            self._fire("service_login")
            return
        self._pin_failures += 1
        self.message = "wrong_pin"
        if self._pin_failures >= PIN_ATTEMPTS:
            self._pin_failures = 0
            self._pin_locked_until = now + PIN_LOCK_SECONDS
            self.message = "pin_locked"
            log.warning("service PIN entered wrongly %d times: locked for %d s", PIN_ATTEMPTS, PIN_LOCK_SECONDS)

    # -- time and background work -------------------------------------------------------------------
    def _tick(self, event: ev.Tick) -> None:
        self._fire("tick")
        if self._deadline is not None and self.deps.clock.monotonic() >= self._deadline:
            self._deadline = None
            self._fire("timeout")

    def _check_done(self, event: ev.CheckDone) -> None:
        if event.ticket != self._ticket:
            return  # a late reply to a check the payer already walked away from
        outcome = event.outcome
        if isinstance(outcome, Payable):
            self._fire("check_payable", outcome=outcome)
        elif isinstance(outcome, Refused):
            self._fire("check_refused", outcome=outcome)
        elif isinstance(outcome, Unreachable):
            self._fire("check_unreachable")

    def _delivery_done(self, event: ev.DeliveryDone) -> None:
        if event.operation == self.operation:
            self._fire("delivered", outcome=event.state)

    def _receipt_printed(self, event: ev.ReceiptPrinted) -> None:
        if event.operation == self.operation:
            self.receipt_status = event.status

    # -- the bill validator's events ---------------------------------------------------------------
    def _stacked(self, event: dv.Stacked) -> None:
        self.bill_events += 1
        journal, name = self.deps.journal, self.deps.validator_name
        if journal.bill_recorded(name, event.event_id) is not None:
            return  # a repeated report of a bill already credited
        self.in_transit = None
        if self.operation is not None and journal.get(self.operation).state == COLLECTING:
            journal.record_bill(self.operation, event.bill.value, name, event.event_id)
            self.cash = journal.get(self.operation).cash
            self.message = ""
            self.restart_timeout()
            if not self.acceptable():
                self.deps.validator.disable()
            if self.pay_requested:
                self._settled()
            return
        # A bill stacked with no operation collecting gets an operation of its own, never dropped.
        book_late_bill(journal, self.deps.catalog, name, event, "was stacked with no payment collecting")
        if self.deps.outbox is not None:
            self.deps.outbox.kick()

    def _returned(self, event: dv.Returned | dv.Rejected) -> None:
        self.bill_events += 1
        if self.in_transit is not None:
            self.deps.journal.stack_settled(self.deps.validator_name)
        self.in_transit = None
        if self.pay_requested:
            self._settled()

    def _uncertain(self, event: dv.Uncertain) -> None:
        # Listed for support with its value when the device knows it; settled by the encashment count.
        self.bill_events += 1
        amount = event.bill.value if event.bill is not None else None
        if event.stacked and self.operation is None and credit_reported_stack(
                self.deps.journal, self.deps.validator_name, amount, event.detail) is not None:
            return  # the device's report and the journal's pending STACK agree: credited, not uncertain
        self.deps.journal.incident("uncertain_bill", event.detail, self.operation, amount)
        if self.in_transit is not None:
            self.deps.journal.stack_settled(self.deps.validator_name)
            self.in_transit = None
            if self.pay_requested:
                self._settled()

    def _settled(self) -> None:
        """Pay was pressed while a bill was on its way; it has landed (or come back)."""
        self.pay_requested = False
        self._fire("bill_settled")

    def _events_lost(self, event: dv.EventsLost) -> None:
        self.deps.journal.incident("events_lost", f"{event.count} device events lost: {event.detail}",
                                   self.operation)

    def _device_fault(self, event: object) -> None:
        self.fault = type(event).__name__
        self._fire("device_fault")

    def _device_back(self, event: object) -> None:
        self.fault = None
        self._fire("recovered")

    def _cassette_removed(self, event: dv.CassetteRemoved) -> None:
        # The bills left with the cassette: close the encashment now, whatever else is going on.
        self.deps.encash("cassette removed")
        self._device_fault(event)

    # -- for screens ------------------------------------------------------------------------------
    def view(self) -> SessionView:
        """A snapshot for drawing."""
        view = SessionView(state=self.state, category=self.category, account=self.account,
                           account_error=self.account_error, details=dict(self.details), operation=self.operation,
                           cash=self.cash, offline=self.offline, message=self.message, fault=self.fault,
                           outcome=self.outcome, no_receipt=self.no_receipt,
                           receipt=self.receipt_status, locked=self.lock_message)
        view.waiting = self.deps.journal.waiting()[0]
        view.scan_problem, view.debt, view.readings = self.scan_problem, self.debt, self.readings
        if self.state == "readings" and self.debt is not None and self.meter_index < len(self.debt.meters):
            view.meter, view.meter_index = self.meter(), self.meter_index
            view.reading_text, view.reading_problem = self.reading_text, self.reading_problem
            view.skip_allowed = self.reading_rule().skip_allowed
        if self._deadline is not None:
            view.seconds_left = max(0, int(self._deadline - self.deps.clock.monotonic() + 0.999))
        if self.provider is not None:
            view.provider = self.provider.id
            view.account_display = self.provider.account_field.masked(self.account)
            split = self.provider.fee.split(Money(self.cash, self.deps.config.currency))
            view.fee, view.credited = split.fee.minor, split.credited.minor
            view.min_amount, view.max_amount = self.min_cash(), self.max_cash()
        return view
