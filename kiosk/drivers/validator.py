"""The bill validator contract: commands in, device happenings out as event values."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Bill:
    """A banknote type the validator knows: its value in kopecks and its place in the bill table."""

    value: int  # minor units (kopecks)
    bill_type: int = -1
    country: str = "RUS"


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the device says it is."""

    protocol: str
    model: str = ""
    serial: str = ""
    firmware: str = ""


# -- events -----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Escrow:
    """A bill is held in escrow; the host must stack or return it. Never credit on this."""

    bill: Bill


@dataclass(frozen=True, slots=True)
class Stacked:
    """A bill reached the cassette: the one event that credits money, once per event_id."""

    bill: Bill
    event_id: str  # unique per physical stacking; repeats of the same report carry the same id


@dataclass(frozen=True, slots=True)
class Returned:
    """A bill was handed back to the payer."""

    bill: Bill | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    """The validator refused a bill (not genuine, inhibited, …)."""

    reason: str


@dataclass(frozen=True, slots=True)
class CassetteRemoved:
    """The drop cassette is out of position."""


@dataclass(frozen=True, slots=True)
class CassetteInserted:
    """The drop cassette is back."""


@dataclass(frozen=True, slots=True)
class CassetteFull:
    """The cassette cannot take more bills."""


@dataclass(frozen=True, slots=True)
class Jammed:
    """A bill is stuck; where = 'validator' or 'cassette'."""

    where: str = "validator"


@dataclass(frozen=True, slots=True)
class Cheated:
    """The device detected a fraud attempt (string, pulled bill)."""


@dataclass(frozen=True, slots=True)
class Failure:
    """A device failure with its code and a human text."""

    code: int
    text: str = ""


@dataclass(frozen=True, slots=True)
class EventsLost:
    """The device reports more happened than it could tell: money may be owed; say so loudly."""

    count: int
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Uncertain:
    """A bill whose fate the device left unknown (power-up with a bill in the stacker)."""

    detail: str
    bill: Bill | None = None
    #: the device itself reported this bill in the cassette (e.g. "stacked" or "power up with bill in stacker"
    #: at start-up), only not to this host: with a STACK pending in the journal it is credited, not guessed
    stacked: bool = False


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The device stopped answering (unplugged, silent)."""

    detail: str = ""


@dataclass(frozen=True, slots=True)
class Ready:
    """The device answers and is initialised (after start, a reset or a reconnect)."""


ValidatorEvent = (
    Escrow | Stacked | Returned | Rejected | CassetteRemoved | CassetteInserted | CassetteFull | Jammed | Cheated
    | Failure | EventsLost | Uncertain | Disconnected | Ready
)


@dataclass(slots=True)
class ValidatorStatus:
    """A snapshot for the service menu and heartbeats."""

    online: bool = False
    enabled: bool = False
    state: str = "unknown"
    detail: str = ""
    extra: dict = field(default_factory=dict)


EventSink = Callable[[ValidatorEvent], None]


class BillValidator(ABC):
    """A bill validator; drivers poll in their own thread and report events through the sink."""

    protocol: str = ""

    def __init__(self, on_event: EventSink) -> None:
        self._on_event = on_event
        self._emit_lock = threading.Lock()

    def emit(self, event: ValidatorEvent) -> None:
        """Hand one event to the host; serialised so the host sees events in device order."""
        with self._emit_lock:
            self._on_event(event)

    @abstractmethod
    def start(self) -> None:
        """Open, reset and initialise the device, then start polling."""

    @abstractmethod
    def stop(self) -> None:
        """Disable acceptance, stop polling and close the port."""

    @abstractmethod
    def enable(self, denominations: Iterable[int]) -> None:
        """Accept only these bill values (kopecks)."""

    @abstractmethod
    def disable(self) -> None:
        """Accept nothing."""

    @abstractmethod
    def stack(self) -> None:
        """Send the bill in escrow to the cassette."""

    @abstractmethod
    def return_bill(self) -> None:
        """Hand the bill in escrow back."""

    @abstractmethod
    def hold(self) -> None:
        """Keep the bill in escrow a while longer."""

    @abstractmethod
    def identity(self) -> Identity:
        """Model, serial and firmware."""

    @abstractmethod
    def bill_table(self) -> list[Bill]:
        """The bills this unit knows, values in kopecks."""

    @abstractmethod
    def status(self) -> ValidatorStatus:
        """Current state."""
