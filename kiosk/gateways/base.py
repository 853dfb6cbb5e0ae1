"""The gateway contract: requests in, outcomes out as values; transport faults are never declines."""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kiosk.gateways.profiles import Profile, profile_from
from kiosk.money import Money
from kiosk.utility import Debt


class Code(enum.StrEnum):
    """Standard refusal codes shared by every adapter, so the UI and support speak one language."""

    ACCOUNT_NOT_FOUND = "account_not_found"
    WRONG_FORMAT = "wrong_format"
    AMOUNT_TOO_SMALL = "amount_too_small"
    AMOUNT_TOO_LARGE = "amount_too_large"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    DEALER_BALANCE_LOW = "dealer_balance_low"
    FORBIDDEN = "forbidden"
    ACCOUNT_INACTIVE = "account_inactive"
    LIMIT_EXCEEDED = "limit_exceeded"
    AUTH_FAILED = "auth_failed"
    TEMPORARY = "temporary"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Route:
    """One way to reach a provider: which gateway, and what that gateway calls the provider."""

    gateway: str
    provider_code: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """What a gateway needs to book one operation; identical on every resend."""

    terminal: str
    operation: int
    idempotency_key: str
    txn_id: int
    session_id: str
    provider: str
    route: Route
    account: str
    fields: Mapping[str, str]
    cash: Money
    fee: Money
    credited: Money
    accepted_at: datetime
    #: the operation's details as journaled (utility bills: "split", "readings"); protocols send what they carry
    details: Mapping[str, Any] = field(default_factory=dict)


# -- pay / status outcomes --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Approved:
    """Booked by the processing system."""

    external_id: str
    message: str = ""
    kind: str = "approved"


@dataclass(frozen=True, slots=True)
class Declined:
    """Finally refused; nothing was booked."""

    code: Code
    message: str = ""
    gateway_code: str = ""
    kind: str = "declined"


@dataclass(frozen=True, slots=True)
class RetryLater:
    """Not booked now; try again later. not_executed=True means provably not booked anywhere (safe to fail over).

    new_session=True (with not_executed): the processing system has no record of the payment's session and wants
    it started again under a new one (CyberPlat ERROR=11 to pay_status); the journal mints it before any use.
    """

    reason: str = ""
    not_executed: bool = False
    gateway_code: str = ""
    new_session: bool = False
    kind: str = "retry"


@dataclass(frozen=True, slots=True)
class Unknown:
    """The request may or may not have been booked (lost reply): resolve before anything else."""

    reason: str = ""
    kind: str = "unknown"


PayOutcome = Approved | Declined | RetryLater | Unknown


class Execution(enum.StrEnum):
    """What a status answer proves about an earlier pay (corrections need it before paying again)."""

    EXECUTED = "executed"
    NOT_EXECUTED = "not_executed"
    UNKNOWN = "unknown"


def execution(outcome: PayOutcome) -> Execution:
    """Executed (booked), provably not executed (never registered, or finally refused), or unknown."""
    if isinstance(outcome, Approved):
        return Execution.EXECUTED
    if isinstance(outcome, Declined) or (isinstance(outcome, RetryLater) and outcome.not_executed):
        return Execution.NOT_EXECUTED
    return Execution.UNKNOWN


# -- check outcomes ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Payable:
    """The account exists and may be paid; details are shown to the payer before any money is taken."""

    details: Mapping[str, str] = field(default_factory=dict)
    provider_override: str = ""  # number portability: the provider that really serves this number
    kind: str = "payable"
    debt: Debt | None = None  # utility bills: what the account owes, by service (JSON `debt`)


@dataclass(frozen=True, slots=True)
class Refused:
    """The processing system says this payment cannot be made; message is fit for the payer."""

    code: Code
    message: str = ""
    gateway_code: str = ""
    kind: str = "refused"


@dataclass(frozen=True, slots=True)
class Unreachable:
    """The gateway could not be asked (network, 5xx, circuit open)."""

    reason: str = ""
    kind: str = "unreachable"


CheckOutcome = Payable | Refused | Unreachable


class Gateway(ABC):
    """A processing system adapter: one file per protocol, the same verbs for all."""

    #: registry name of the adapter kind, e.g. "osmp"
    protocol: str = ""
    #: the profile (kiosk.gateways.profiles.PROFILES) used unless the options name another
    default_profile: str = "standard"
    #: whether the protocol can reverse a booked payment at the provider (cancel)
    cancellable: bool = False

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        self.name = name
        self.options = dict(options)
        self.profile: Profile = profile_from(options, self.default_profile, name)

    @abstractmethod
    def check(self, route: Route, account: str, amount: Money, fields: Mapping[str, str]) -> CheckOutcome:
        """Ask whether this account can be paid this amount; registers nothing."""

    @abstractmethod
    def pay(self, request: PaymentRequest) -> PayOutcome:
        """Book the payment; resending the identical request must not book twice."""

    @abstractmethod
    def status(self, request: PaymentRequest) -> PayOutcome:
        """Find out what happened to an earlier pay; RetryLater(not_executed=True) if it was never registered."""

    def executed(self, request: PaymentRequest) -> Execution:
        """A status query that never pays: executed, provably not executed, or unknown (corrections rely on it).

        The default reads status(); an adapter whose status() may resend the pay overrides this.
        """
        return execution(self.status(request))

    def cancel(self, request: PaymentRequest, external_id: str = "") -> PayOutcome:
        """Reverse a booked payment at the provider: Approved once reversed (only where `cancellable`)."""
        raise NotImplementedError(f"gateway {self.name}: the {self.protocol} protocol has no cancel")

    def resend(self, request: PaymentRequest) -> PayOutcome:
        """Repeat the identical pay after an unknown outcome (only where the profile says it cannot re-book)."""
        return self.pay(request)

    def balance(self) -> Money | None:
        """The dealer's balance at this gateway, where the gateway reports it."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook; most adapters hold nothing to release
        """Release connections."""
