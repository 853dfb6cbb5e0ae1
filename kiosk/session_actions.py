"""What the session's transitions ask and do: conditions (pure questions) and callbacks, named in session_model.

Every method that takes ``data`` is called by the state machine with the trigger's EventData; the kiosk
event's details travel in ``data.kwargs``. Conditions never change anything; callbacks never fire triggers.
"""

from __future__ import annotations

import logging
from typing import Any

from transitions import EventData

from kiosk.catalog import Provider
from kiosk.drivers import validator as dv
from kiosk.errors import JournalError
from kiosk.gateways.base import Payable, Refused
from kiosk.money import Money
from kiosk.offline_queue.journal import COLLECTING, Operation
from kiosk.offline_queue.reconcile import commit_operation
from kiosk.session_model import COMMIT_REASONS, TIMEOUTS
from kiosk.session_ports import SessionDeps

log = logging.getLogger("kiosk.session")

SETTLE_SECONDS = 15  # how long Pay waits for a bill already on its way to the cassette
PRINTER_RECHECK_SECONDS = 10


class SessionActions:
    """The session's fields, and everything its declared transitions ask (conditions) and do (callbacks)."""

    state: str  # set by the state machine

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
        self.lock_message: str | None = None  # locked by the dealer, with the message the screen shows
        self.outcome = ""
        self.no_receipt = False
        self.receipt_status = ""
        self.typed_phone = ""
        self.in_transit: dv.Bill | None = None
        self.pay_requested = False
        self.last_operation: Operation | None = None
        self._printer_ok = True
        self._printer_back = False
        self._printer_checked = 0.0
        self._ticket = 0
        self._deadline: float | None = None

    def forget_utility(self, data: EventData | None = None) -> None:
        """Utility-bill state (kiosk.utility_session) is forgotten with the provider; nothing here."""

    def forget_debt(self) -> None:
        """A new check: the last answer's debt and readings no longer apply (kiosk.utility_session)."""

    def utility_fields(self) -> dict[str, str]:
        """Extra fields a utility bill sends (kiosk.utility_session); none here."""
        return {}

    def utility_details(self) -> dict[str, Any]:
        """What a utility bill journals (kiosk.utility_session); nothing here."""
        return {}

    def chosen(self) -> Provider:
        """The provider being paid; only asked for in states after one was chosen."""
        if self.provider is None:
            raise RuntimeError(f"no provider chosen in state {self.state!r}")
        return self.provider

    # -- conditions -------------------------------------------------------------------------------
    def receipt_impossible(self, data: EventData) -> bool:
        """The printer is down and this terminal may not take money without a receipt."""
        return not self._printer_ok and self.deps.config.receipt_required

    def provider_available(self, data: EventData) -> bool:
        """Reachable online, or payable offline within the offline limits."""
        return self.deps.router.reachable(self.chosen()) or self.offline_possible(data)

    def operator_unknown(self, data: EventData) -> bool:
        """Nobody could tell the operator of the phone number typed."""
        return data.kwargs["provider"] is None

    def account_valid(self, data: EventData) -> bool:
        """The account passes the provider's mask, pattern, length and checksum."""
        return not self.chosen().account_field.problem(self.account)

    def wants_online_check(self, data: EventData) -> bool:
        """The provider checks accounts online and a route is up."""
        provider = self.chosen()
        return provider.online_check and self.deps.router.reachable(provider)

    def payable_without_check(self, data: EventData) -> bool:
        """No online check is needed, or the payment may wait offline."""
        return self.deps.router.reachable(self.chosen()) or self.offline_possible(data)

    def offline_possible(self, data: EventData | None = None) -> bool:
        """The provider allows offline payment and the offline limits leave room for its minimum."""
        return self.chosen().offline and self.max_cash(offline=True) >= self.min_cash()

    def taking_bills(self, data: EventData) -> bool:
        """Pay was not pressed and no other bill is between escrow and the cassette."""
        return not self.pay_requested and self.in_transit is None

    def bill_fits(self, data: EventData) -> bool:
        """The bill in escrow still fits under the maximum."""
        return data.kwargs["bill"].value in self.acceptable()

    def bill_in_transit(self, data: EventData) -> bool:
        """A bill is between escrow and the cassette."""
        return self.in_transit is not None

    def no_pay_pending(self, data: EventData) -> bool:
        """Not the short wait after Pay for a bill on its way: that wait must end in the commit it promises."""
        return not self.pay_requested

    def enough_cash(self, data: EventData | None = None) -> bool:
        """At least the minimum payment is inside, and the fee leaves something to credit."""
        if self.cash < self.min_cash():
            return False
        return self.chosen().fee.split(Money(self.cash, self.deps.config.currency)).credited.minor > 0

    def has_cash(self, data: EventData | None = None) -> bool:
        """Money is inside."""
        return self.cash > 0

    def no_cash(self, data: EventData) -> bool:
        """No money is inside."""
        return self.cash == 0

    def operation_refused(self, data: EventData) -> bool:
        """Collecting, but the journal could not open the operation."""
        return self.operation is None

    def delivery_deferred(self, data: EventData) -> bool:
        """Offline (or with no outbox) the operation simply waits in the outbox."""
        return self.offline or self.deps.outbox is None

    def faulty(self, data: EventData) -> bool:
        """A device fault is waiting to take the terminal out of service."""
        return self.fault is not None

    def locked(self, data: EventData) -> bool:
        """The dealer locked the terminal: it stays out of service until unlocked."""
        return self.lock_message is not None

    def printer_fault(self, data: EventData) -> bool:
        """Out of service for want of a printer."""
        return self.fault == "printer"

    def printer_back(self, data: EventData) -> bool:
        """The printer answered ready when last looked at."""
        return self._printer_back

    # -- limits -----------------------------------------------------------------------------------
    def min_cash(self) -> int:
        """The smallest payment for this provider here."""
        return max(self.chosen().min_amount.minor, self.deps.config.min_operation.minor)

    def max_cash(self, offline: bool | None = None) -> int:
        """The largest payment for this provider here; offline also bounded by the offline exposure."""
        config = self.deps.config
        limit = min(self.chosen().max_amount.minor, config.max_operation.minor)
        if self.offline if offline is None else offline:
            _, waiting_total = self.deps.journal.waiting()
            limit = min(limit, config.offline_max_operation.minor,
                        config.offline_max_total.minor - waiting_total + self.cash)
        return limit

    def acceptable(self) -> list[int]:
        """Bill values that still fit under the maximum."""
        room = self.max_cash() - self.cash
        return [d for d in self.deps.config.denominations if d <= room]

    # -- transition callbacks: what the event brings --------------------------------------------------
    def look_at_printer(self, data: EventData) -> None:
        """Ask the printer once per touch whether it is ready."""
        self._printer_ok = self.deps.printer_ready()

    def note_printer_fault(self, data: EventData) -> None:
        """Out of service because of the printer."""
        self.fault = "printer"

    def note_no_receipt(self, data: EventData) -> None:
        """Told before any money is taken: the confirmation screen says no receipt will be printed."""
        if not self._printer_ok:
            self.no_receipt = True

    def take_category(self, data: EventData) -> None:
        """The category the payer chose."""
        self.category = data.kwargs["category"]

    def take_mobile(self, data: EventData) -> None:
        """A phone number was typed: the payer is paying a mobile operator."""
        self.category = "mobile"

    def take_provider(self, data: EventData) -> None:
        """The provider the payer chose; whatever belonged to another provider is forgotten."""
        provider: Provider = data.kwargs["provider"]
        self.provider, self.category = provider, provider.category
        self.account, self.account_error, self.details, self.offline = "", "", {}, False
        self.forget_utility()

    def note_offline(self, data: EventData) -> None:
        """No route is up: the payment will wait in the outbox."""
        provider = self.chosen()
        if provider.offline and not self.deps.router.reachable(provider):
            self.offline = True

    def go_offline(self, data: EventData) -> None:
        """The online check found no route: the payment will wait in the outbox."""
        self.offline = True

    def use_typed_phone(self, data: EventData) -> None:
        """The payer typed the number before we knew the operator: do not make them type it again."""
        if self.typed_phone and self.chosen().category == "mobile":
            self.account, self.typed_phone = self.typed_phone, ""

    def take_phone_number(self, data: EventData) -> None:
        """The operator of the number typed is known: the number is the account."""
        self.use_typed_phone(data)
        self.account = data.kwargs["number"]

    def ask_for_operator(self, data: EventData) -> None:
        """The payer chooses the operator; the number they typed is kept for afterwards."""
        self.message, self.typed_phone = "choose_operator", data.kwargs["number"]

    def say_unavailable(self, data: EventData) -> None:
        """The provider can be paid neither online nor offline now."""
        self.message = "provider_unavailable"

    def take_account_text(self, data: EventData) -> None:
        """The account field as typed, cut to the provider's length; typing is a sign of life."""
        self.account = data.kwargs["text"][: self.chosen().account_field.max_length]
        self.account_error = ""
        self.restart_timeout()

    def clear_account_error(self, data: EventData) -> None:
        """The account passed its checks."""
        self.account_error = ""

    def show_account_problem(self, data: EventData) -> None:
        """Why the account cannot be paid ("" when it is valid but no route takes the payment now)."""
        self.account_error = self.chosen().account_field.problem(self.account)

    def take_check_details(self, data: EventData) -> None:
        """The payee details the processing system returned; it may say another operator serves the number."""
        outcome: Payable = data.kwargs["outcome"]
        self.details = dict(outcome.details)
        override = self.deps.catalog.providers.get(outcome.provider_override)
        if override is not None and override.id != self.chosen().id:
            log.info("number portability: %s is served by %s", self.account, override.id)
            self.provider = override

    def take_refusal(self, data: EventData) -> None:
        """The processing system refused the account."""
        refused: Refused = data.kwargs["outcome"]
        self.account_error = str(refused.code)

    def say_refusal(self, data: EventData) -> None:
        """The processing system's words for the refusal."""
        refused: Refused = data.kwargs["outcome"]
        self.message = refused.message

    def take_outcome(self, data: EventData) -> None:
        """How delivery ended (delivered, queued, needs attention)."""
        self.outcome = data.kwargs["outcome"]

    def note_queued(self, data: EventData) -> None:
        """Delivery is left to the outbox."""
        self.outcome = "queued"

    def clear_fault(self, data: EventData) -> None:
        """The device is back."""
        self.fault = None

    def recheck_printer(self, data: EventData) -> None:
        """Ask a printer that was down whether it is back, no more often than every few seconds."""
        self._printer_back = False
        now = self.deps.clock.monotonic()
        if self.fault == "printer" and now - self._printer_checked >= PRINTER_RECHECK_SECONDS:
            self._printer_checked = now
            self._printer_back = self.deps.printer_ready()

    # -- transition callbacks: bills and payment ------------------------------------------------------
    def stack_bill(self, data: EventData) -> None:
        """Journal that the bill is commanded into the cassette, then command it."""
        bill: dv.Bill = data.kwargs["bill"]
        self.in_transit = bill
        self.deps.journal.stack_commanded(self._collecting(), bill.value, self.deps.validator_name)
        self.deps.validator.stack()

    def refuse_bill(self, data: EventData) -> None:
        """A bill over the maximum (or one this terminal does not take) goes back to the payer."""
        value = data.kwargs["bill"].value
        self.message = "bill_over_limit" if value in self.deps.config.denominations else "bill_not_accepted"
        self.return_bill(data)

    def return_bill(self, data: EventData) -> None:
        """A bill in escrow is not yet taken: hand it back."""
        self.deps.validator.return_bill()

    def wait_for_bill(self, data: EventData) -> None:
        """Stop taking more; commit when the bill on its way lands (or a short while later)."""
        self.pay_requested = True
        self.deps.validator.disable()
        self._deadline = min(self._deadline or float("inf"), self.deps.clock.monotonic() + SETTLE_SECONDS)

    def ask_for_more(self, data: EventData) -> None:
        """Less than the minimum is inside."""
        self.message = "insert_more"

    def refuse_cancel(self, data: EventData) -> None:
        """Money is inside: it goes to the account entered, never back out."""
        self.message = "cannot_cancel_with_money"

    def restart_timeout(self, data: EventData | None = None) -> None:
        """Restart the current state's timeout (after a state change or any sign of life from the payer)."""
        key = TIMEOUTS.get(self.state)
        self._deadline = None if key is None else self.deps.clock.monotonic() + self.deps.config.timeouts[key]

    def take_lock(self, data: EventData) -> None:
        """Locked by the dealer, with their message for the payer."""
        self.lock_message = str(data.kwargs.get("message", ""))

    def drop_lock(self, data: EventData) -> None:
        """Unlocked by the dealer."""
        self.lock_message = None

    def stop_taking_money(self, data: EventData) -> None:
        """An internal fault: stop the validator and hand back a bill in escrow, whatever else is broken."""
        try:
            self.deps.validator.disable()
            self.deps.validator.return_bill()
        except Exception:
            log.exception("could not stop the validator")
        self.fault = data.kwargs["reason"]

    # -- state entry actions ------------------------------------------------------------------------
    def entered(self, data: EventData) -> None:
        """A new state: messages about the last one no longer apply; its timeout starts."""
        self.message = ""
        if self.state not in ("provider", "account_entry"):
            self.typed_phone = ""  # the payer walked away from choosing an operator for that number
        self.restart_timeout()

    def on_enter_idle(self, data: EventData) -> None:
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
        self.forget_utility()

    def on_enter_online_check(self, data: EventData) -> None:
        """Ask the processing system about the account, in the background."""
        self._ticket += 1
        self.forget_debt()  # the check answers the debt afresh
        amount = Money(self.min_cash(), self.deps.config.currency)
        # a bill paid by bank details is checked with its payee's details: the processing says whom it pays
        fields = {**self.utility_fields(), "account": self.account}
        self.deps.run_check(self._ticket, self.chosen(), self.account, amount, fields)

    def on_enter_cash_collection(self, data: EventData) -> None:
        """Journal the operation, then (and only then) let the validator take bills."""
        try:
            op = self.deps.journal.open_operation(
                self.chosen().id, self.account, {**self.utility_fields(), "account": self.account},
                max_cash=self.max_cash(), offline=self.offline, details={**self.details, **self.utility_details()})
        except JournalError:
            log.exception("cannot open an operation; going out of service")
            self.fault = "journal"  # the completion transition (operation_refused) takes it out of service
            return
        self.operation, self.cash = op.operation, 0
        self.deps.validator.enable(self.acceptable())

    def on_enter_commit(self, data: EventData) -> None:
        """Fix the amount and fee; the operation enters the outbox."""
        self.deps.validator.disable()
        self.last_operation = commit_operation(self.deps.journal, self.deps.catalog, self._collecting(),
                                               COMMIT_REASONS[data.event.name])

    def on_enter_delivery(self, data: EventData) -> None:
        """Try to deliver now while the payer waits a little; offline it simply waits in the outbox."""
        if self.deps.outbox is not None and not self.offline:
            self.deps.outbox.submit(self._collecting())

    def on_enter_receipt(self, data: EventData) -> None:
        """Print what happened, and journal what was printed."""
        op = self.deps.journal.get(self._collecting())
        self.last_operation = op
        kind = {"delivered": "payment", "needs_attention": "not_completed"}.get(op.state, "queued")
        status = self.deps.print_receipt(op, kind)
        if status is not None:  # None: printing goes on in the background and journals its own outcome
            self.deps.journal.set_receipt(op.operation, status)
        self.receipt_status = status or "printing"

    def on_enter_out_of_service(self, data: EventData) -> None:
        """Take no money while something is wrong (even when the validator itself is what went wrong)."""
        try:
            self.deps.validator.disable()
        except Exception:
            log.exception("could not disable the validator")
        log.warning("out of service: %s", "locked by the dealer" if self.lock_message is not None else self.fault)

    def _collecting(self) -> int:
        """The operation of this payment; only asked for in states after it was journaled."""
        if self.operation is None:
            raise RuntimeError(f"no operation in state {self.state!r}")
        return self.operation
