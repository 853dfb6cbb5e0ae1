"""What arrives on the session's one queue: the payer's actions, results of background work, ticks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kiosk.gateways.base import CheckOutcome, Route


@dataclass(frozen=True, slots=True)
class Touch:
    """The payer touched the attract screen."""


@dataclass(frozen=True, slots=True)
class ChooseCategory:
    """A category tile was pressed."""

    category: str


@dataclass(frozen=True, slots=True)
class ChooseProvider:
    """A provider tile was pressed (or picked automatically from a phone number)."""

    provider: str


@dataclass(frozen=True, slots=True)
class EnterPhone:
    """A phone number typed before choosing an operator: the terminal finds the operator itself."""

    number: str


@dataclass(frozen=True, slots=True)
class EditAccount:
    """The account field now holds this text (keypad presses are folded into it by the screen)."""

    text: str


@dataclass(frozen=True, slots=True)
class ScanCode:
    """A 2D barcode scanner read a code (a utility bill's payment code, as raw bytes)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class DebtNext:
    """'Next' on the debt screen: on to the meters, or to the confirmation."""


@dataclass(frozen=True, slots=True)
class EditReading:
    """The meter reading field now holds this text (a decimal, typed on the keypad)."""

    text: str


@dataclass(frozen=True, slots=True)
class SubmitReading:
    """'Next' on a meter's screen; confirmed=True after the payer was asked about an unlikely value."""

    confirmed: bool = False


@dataclass(frozen=True, slots=True)
class SkipReading:
    """No reading for this meter this time (where the provider allows it)."""


@dataclass(frozen=True, slots=True)
class SubmitAccount:
    """'Next' on the account screen."""


@dataclass(frozen=True, slots=True)
class Confirm:
    """The payer accepted the payee details and the fee; money may now be taken."""


@dataclass(frozen=True, slots=True)
class Pay:
    """'Pay' on the cash screen."""


@dataclass(frozen=True, slots=True)
class MoreTime:
    """The payer asked for more time: the waiting state's countdown starts afresh."""


@dataclass(frozen=True, slots=True)
class Back:
    """'Back'."""


@dataclass(frozen=True, slots=True)
class Cancel:
    """'Cancel' / 'Home' (refused once money is inside: the money goes to the account entered)."""


@dataclass(frozen=True, slots=True)
class ReceiptTaken:
    """The payer is done with the final screen."""


@dataclass(frozen=True, slots=True)
class ServiceLogin:
    """A service engineer entered the PIN."""

    pin: str


@dataclass(frozen=True, slots=True)
class ServiceExit:
    """Leave the service menu."""


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed; waiting states check their deadlines."""


@dataclass(frozen=True, slots=True)
class CheckDone:
    """The online check came back."""

    ticket: int
    outcome: CheckOutcome
    route: Route | None


@dataclass(frozen=True, slots=True)
class DeliveryDone:
    """The outbox finished a delivery cycle of an operation."""

    operation: int
    state: str


@dataclass(frozen=True, slots=True)
class ReceiptPrinted:
    """A receipt printed in the background came out (or did not): status as journaled."""

    operation: int
    status: str


@dataclass(frozen=True, slots=True)
class BetweenPayments:
    """Work that must never run during a payment (a new configuration, a theme, a lock): run on the UI thread as
    soon as no payer's money is being collected, at once when the terminal is already between payments."""

    work: Callable[[], None]
    label: str


UiEvent = (Touch | ChooseCategory | ChooseProvider | EnterPhone | EditAccount | SubmitAccount | Confirm | Pay
           | MoreTime | Back | Cancel | ReceiptTaken | ServiceLogin | ServiceExit | ScanCode | DebtNext | EditReading
           | SubmitReading | SkipReading)
