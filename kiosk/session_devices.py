"""How the payment session answers the bill validator: stack or return, credit once, list what is uncertain."""

from __future__ import annotations

from typing import Any

from kiosk.drivers import validator as dv
from kiosk.offline_queue.journal import COLLECTING
from kiosk.offline_queue.reconcile import book_late_bill, credit_reported_stack


class DeviceEvents:
    """The validator half of the Session (mixed into it): every device happening, handled on the event queue."""

    def _on_Escrow(self, event: dv.Escrow) -> None:
        value = event.bill.value
        if self.state != "cash_collection" or self.pay_requested or self.in_transit is not None:
            self.deps.validator.return_bill()
            return
        if value not in self.acceptable():
            self.message = "bill_over_limit" if value in self.deps.config.denominations else "bill_not_accepted"
            self.deps.validator.return_bill()
            return
        self.in_transit = event.bill
        self.deps.journal.stack_commanded(self.operation, value, self.deps.validator_name)
        self.deps.validator.stack()

    def _on_Stacked(self, event: dv.Stacked) -> None:
        self.bill_events += 1
        journal, name = self.deps.journal, self.deps.validator_name
        if journal.bill_recorded(name, event.event_id) is not None:
            return  # a repeated report of a bill already credited
        self.in_transit = None
        if self.operation is not None and journal.get(self.operation).state == COLLECTING:
            journal.record_bill(self.operation, event.bill.value, name, event.event_id)
            self.cash = journal.get(self.operation).cash
            self.message = ""
            self._arm()
            if not self.acceptable():
                self.deps.validator.disable()
            if self.pay_requested:
                self._settled()
            return
        self._late_bill(event)

    def _on_Returned(self, event: dv.Returned) -> None:
        self.bill_events += 1
        if self.in_transit is not None:
            self.deps.journal.stack_settled(self.deps.validator_name)
        self.in_transit = None
        if self.pay_requested:
            self._settled()

    _on_Rejected = _on_Returned

    def _on_Uncertain(self, event: dv.Uncertain) -> None:
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

    def _on_EventsLost(self, event: dv.EventsLost) -> None:
        self.deps.journal.incident("events_lost", f"{event.count} device events lost: {event.detail}",
                                   self.operation)

    def _on_fault(self, event: Any) -> None:
        self.fault = type(event).__name__
        self.commit_reason = "device_fault"
        self.device_fault()

    def _on_recovered(self, event: Any) -> None:
        self.fault = None
        self.recovered()

    def _on_CassetteRemoved(self, event: dv.CassetteRemoved) -> None:
        # The bills left with the cassette: close the encashment now, whatever else is going on.
        self.deps.encash("cassette removed")
        self._on_fault(event)

    _on_Failure = _on_Jammed = _on_CassetteFull = _on_Cheated = _on_Disconnected = _on_fault
    _on_Ready = _on_CassetteInserted = _on_recovered

    def _settled(self) -> None:
        self.pay_requested = False
        self.commit_reason = "pay"
        self.pay()

    def _late_bill(self, event: dv.Stacked) -> None:
        """A bill stacked with no operation collecting: it gets an operation of its own, never dropped."""
        book_late_bill(self.deps.journal, self.deps.catalog, self.deps.validator_name, event,
                       "was stacked with no payment collecting")
        if self.deps.outbox is not None:
            self.deps.outbox.kick()
