"""Random fault schedules against the CyberPlat emulator with vendor-format keys: a SESSION is booked at most once,
and once every fault heals each payment ends approved (or declined, for an account that does not exist).

The loop follows the outbox's rules for one gateway: after a pay leaves, the payment is pinned and resolved by
pay_status only; only RetryLater(not_executed=True) lets the same SESSION be paid again (never a new one).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from kiosk.emulators.processing.cyberplat import CyberplatEmulator, write_demo_keys
from kiosk.gateways.base import Approved, Declined, PaymentRequest, PayOutcome, RetryLater
from kiosk.gateways.cyberplat import CyberplatGateway

from .fault_rig import Switch
from .support import make_request

# the faults a CyberPlat centre can show; "timeout" and "huge" only cost time here, the XML ones do not apply
FAULTS = ["drop-before-booking", "drop-after-booking", "http-500", "http-503", "malformed", "bad-signature"]


@dataclass
class Centre:
    """The emulator every example shares and the adapter's key options for it."""

    server: CyberplatEmulator
    options: dict[str, Any]


CENTRE: list[Centre] = []  # filled by the module fixture


@dataclass
class Payment:
    """One committed operation as the journal would hold it."""

    request: PaymentRequest
    pinned: bool = False
    final: PayOutcome | None = None
    history: list[str] = field(default_factory=list)


class Delivery(RuleBasedStateMachine):
    """Payments, faults, outages and delivery cycles in any order."""

    def __init__(self) -> None:
        super().__init__()
        self.server = CENTRE[0].server
        self.server.control("reset")
        self.switch = Switch()
        options = {**CENTRE[0].options, "url": self.server.base_url + "/cgi-bin", "sd": "17031", "ap": "17032",
                   "op": "17034", "timeout": 2, "status_polls": 1, "status_interval_seconds": 0}
        self.gateway = CyberplatGateway("cp", options, transport=self.switch)
        self.payments: list[Payment] = []

    @rule(missing=st.booleans(), kopecks=st.integers(100, 1_000_000))
    def new_payment(self, missing: bool, kopecks: int) -> None:
        number = len(self.payments) + 1
        account = "9160000000" if missing else f"916{number:07d}"
        self.payments.append(Payment(make_request(operation=number, account=account, kopecks=kopecks, code="mts")))

    @rule(fault=st.sampled_from(FAULTS), command=st.sampled_from([None, "check", "pay", "status"]),
          count=st.integers(1, 3))
    def inject_fault(self, fault: str, command: str | None, count: int) -> None:
        self.server.faults.add(fault, count, command)

    @rule(down=st.booleans())
    def outage(self, down: bool) -> None:
        self.switch.down = down

    @rule()
    def deliver(self) -> None:
        for payment in self.payments:
            if payment.final is None:
                self.step(payment)

    def step(self, payment: Payment) -> None:
        """One delivery cycle: status while pinned; pay (the same SESSION) only when provably not executed."""
        if payment.pinned:
            outcome = self.gateway.status(payment.request)
            payment.history.append(f"status:{outcome}")
            if isinstance(outcome, Approved | Declined):
                payment.final = outcome
                return
            if not (isinstance(outcome, RetryLater) and outcome.not_executed):
                return
        payment.pinned = True  # journaled before the request leaves
        outcome = self.gateway.pay(payment.request)
        payment.history.append(f"pay:{outcome}")
        if isinstance(outcome, Approved | Declined):
            payment.final = outcome
        elif isinstance(outcome, RetryLater) and outcome.not_executed:
            payment.pinned = False

    @invariant()
    def never_booked_twice_nor_declined_after_booking(self) -> None:
        for payment in self.payments:
            booking = self.server.ledger.find(f"session:{payment.request.session_id}")
            if isinstance(payment.final, Approved):
                assert booking is not None and booking.external_id == payment.final.external_id, payment.history
            if isinstance(payment.final, Declined):
                assert booking is None, payment.history
        keys = list(self.server.ledger.bookings)
        assert len(keys) == len(set(keys))

    def teardown(self) -> None:
        try:
            self.server.faults.clear()
            self.switch.down = False
            for _ in range(5):
                self.deliver()
            for payment in self.payments:
                booking = self.server.ledger.find(f"session:{payment.request.session_id}")
                if payment.request.account.endswith("0000"):
                    assert isinstance(payment.final, Declined) and booking is None, payment.history
                else:
                    assert isinstance(payment.final, Approved) and booking is not None, payment.history
                    assert booking.amount == payment.request.credited.minor
        finally:
            self.gateway.close()


@pytest.fixture(scope="module", autouse=True)
def centre():
    with tempfile.TemporaryDirectory(prefix="kiosk-cyberplat-faults-") as directory:
        options = write_demo_keys(directory, bits=1024)
        server = CyberplatEmulator(Path(directory) / "centre")
        server.start()
        CENTRE.append(Centre(server, options))
        try:
            yield
        finally:
            server.stop()
            CENTRE.clear()


# No shrinking: every step is real HTTP and RSA, so shrinking outlasts the test timeout; the failing run's
# history (in the assertion) already says what happened to the payment.
Delivery.TestCase.settings = settings(max_examples=30, stateful_step_count=20, deadline=None, derandomize=True,
                                      database=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
                                      suppress_health_check=[HealthCheck.too_slow])
TestCyberplatFaultSchedules = pytest.mark.slow(Delivery.TestCase)
