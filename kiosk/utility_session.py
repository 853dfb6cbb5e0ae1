"""The session's utility-bill steps: a scanned bill, the debt by service, the meter readings (issue 17).

Conditions and callbacks named in kiosk.session_model, like those of kiosk.session_actions, which this extends:
a scan picks the provider and fills the account; a check that answers a debt shows it ("debt"); a provider that
takes readings asks for each meter ("readings"); the debt and the readings are journaled with the operation and
the split of the credited sum is fixed at commit (kiosk.offline_queue.reconcile).
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from transitions import EventData

from kiosk.bills.match import BillMatch, NotServed
from kiosk.bills.refusals import Refusal
from kiosk.gateways.base import Payable
from kiosk.session_actions import SessionActions
from kiosk.utility import DEFAULT_READING_RULE, Debt, Meter, Reading, ReadingRule, decimal_text, parse_decimal

log = logging.getLogger("kiosk.session")


class UtilityActions(SessionActions):
    """The session's fields and transition callbacks for utility bills."""

    # immutable defaults: every change assigns a new value on the instance
    bill: BillMatch | None = None
    scan_problem: Refusal | NotServed | None = None
    debt: Debt | None = None
    readings: tuple[Reading, ...] = ()
    meter_index = 0
    reading_text = ""
    reading_problem = ""  # "", "wrong_format", "lower", "too_high"

    # -- conditions -------------------------------------------------------------------------------
    def has_debt(self, data: EventData) -> bool:
        """The check answered what the account owes, by service."""
        outcome = data.kwargs.get("outcome")
        return isinstance(outcome, Payable) and outcome.debt is not None and bool(outcome.debt.services)

    def debt_known(self, data: EventData) -> bool:
        """This payment has a debt screen to go back to."""
        return self.debt is not None

    def takes_readings(self, data: EventData) -> bool:
        """The provider takes meter readings and the check listed meters."""
        rule = self.chosen().utility
        return rule is not None and rule.readings and self.debt is not None and bool(self.debt.meters)

    def reading_acceptable(self, data: EventData) -> bool:
        """A value that is plausible, or one the payer confirmed after being asked about it."""
        value = parse_decimal(self.reading_text)
        if value is None:
            return False
        problem = self.reading_rule().problem(self.meter(), value)
        return not problem or (bool(data.kwargs.get("confirmed")) and self.reading_problem == problem)

    def reading_skippable(self, data: EventData) -> bool:
        """The provider lets the payer skip a meter."""
        return self.reading_rule().skip_allowed

    def readings_done(self, data: EventData) -> bool:
        """Every meter was read or skipped."""
        return self.debt is None or self.meter_index >= len(self.debt.meters)

    def earlier_meter(self, data: EventData) -> bool:
        """Back goes to the meter before this one."""
        return self.meter_index > 0

    # -- callbacks --------------------------------------------------------------------------------
    def entered(self, data: EventData) -> None:
        """A new state: a scanned code's problem was about the last one."""
        super().entered(data)
        self.scan_problem = None

    def take_bill(self, data: EventData) -> None:
        """A scanned bill chose the provider: its account is filled in for the payer."""
        bill: BillMatch = data.kwargs["bill"]
        self.bill, self.scan_problem = bill, None
        self.account = bill.account[: self.chosen().account_field.max_length]

    def take_scan_problem(self, data: EventData) -> None:
        """A scanned code that cannot be paid here: the parser's (or the matcher's) words go on the screen."""
        self.scan_problem = data.kwargs["problem"]
        log.info("scanned code refused: %s", getattr(self.scan_problem, "detail", "") or self.scan_problem)

    def take_debt(self, data: EventData) -> None:
        """The debt by service the check answered."""
        outcome: Payable = data.kwargs["outcome"]
        self.debt, self.readings = outcome.debt, ()

    def start_readings(self, data: EventData) -> None:
        """The first meter, nothing typed yet (readings entered before and then Back are entered afresh)."""
        self.readings, self.meter_index = (), 0
        self._show_meter()

    def take_reading_text(self, data: EventData) -> None:
        """The value as typed; typing is a sign of life."""
        text = str(data.kwargs["text"])[:20]
        if text != self.reading_text:
            self.reading_problem = ""
        self.reading_text = text
        self.restart_timeout()

    def take_reading(self, data: EventData) -> None:
        """The reading is kept; on to the next meter."""
        value = parse_decimal(self.reading_text)
        assert value is not None  # reading_acceptable said so
        self.readings = (*self.readings, Reading(self.meter(), value))
        self.meter_index += 1
        self._show_meter()

    def show_reading_problem(self, data: EventData) -> None:
        """Why the value needs a second look: not a number, lower than before, or far above it."""
        value = parse_decimal(self.reading_text)
        self.reading_problem = "wrong_format" if value is None else self.reading_rule().problem(self.meter(), value)

    def skip_meter(self, data: EventData) -> None:
        """No reading for this meter this time."""
        self.meter_index += 1
        self._show_meter()

    def previous_meter(self, data: EventData) -> None:
        """Back to the meter before, with its reading as entered (to be corrected)."""
        self.meter_index -= 1
        meter = self.meter()
        kept = [r for r in self.readings if r.meter == meter]
        self.readings = tuple(r for r in self.readings if r.meter != meter)
        self._show_meter(decimal_text(kept[0].value) if kept else "")

    def forget_utility(self, data: EventData | None = None) -> None:
        """A new provider or a new payment: nothing of the last bill applies."""
        self.bill = self.scan_problem = self.debt = None
        self.readings, self.meter_index, self.reading_text, self.reading_problem = (), 0, "", ""

    def forget_debt(self) -> None:
        """A new check: the last answer's debt and readings no longer apply."""
        self.debt, self.readings, self.meter_index = None, (), 0

    # -- helpers ----------------------------------------------------------------------------------
    def meter(self) -> Meter:
        """The meter being read."""
        if self.debt is None or self.meter_index >= len(self.debt.meters):
            raise RuntimeError("no meter to read now")
        return self.debt.meters[self.meter_index]

    def reading_rule(self) -> ReadingRule:
        """The provider's plausibility rule."""
        rule = self.chosen().utility
        return rule.reading_rule if rule is not None else DEFAULT_READING_RULE

    def _show_meter(self, text: str = "") -> None:
        self.reading_text, self.reading_problem = text, ""
        self.restart_timeout()

    def utility_details(self) -> dict[str, Any]:
        """What the operation journals of the bill: details["debt"] and details["readings"]."""
        if self.debt is None:
            return {}
        out: dict[str, Any] = {"debt": self.debt.to_json()}
        if self.readings:
            out["readings"] = [r.to_json() for r in self.readings]
        return out

    def utility_fields(self) -> dict[str, str]:
        """Extra fields sent with the payment: a bank-details payment's payee, readings for gateways without a list."""
        fields = dict(self.bill.fields) if self.bill is not None and self.bill.provider.id == self.chosen().id else {}
        rule = self.chosen().utility
        if rule is not None and rule.reading_field:
            fields.update({rule.reading_field.format(meter=r.meter.meter): decimal_text(r.value)
                           for r in self.readings})
        return fields

    def reading_value(self) -> Decimal | None:
        """The value typed so far, if it is a number."""
        return parse_decimal(self.reading_text)
