"""The bill validator contract: commands in, device happenings out as event values."""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal, Self

log = logging.getLogger(__name__)


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
    Escrow | Stacked | Returned | Rejected | CassetteRemoved | CassetteInserted | CassetteFull
    | Jammed | Cheated | Failure | EventsLost | Uncertain | Disconnected | Ready
)


@dataclass(slots=True)
class ValidatorStatus:
    """A snapshot for the service menu and heartbeats."""

    online: bool = False
    enabled: bool = False
    state: str = "unknown"
    detail: str = ""
    extra: dict[str, object] = field(default_factory=dict)


EventSink = Callable[[ValidatorEvent], None]
Decision = Literal["stack", "return", "hold"]


class BillValidator(ABC):
    """A bill validator: public commands are templates over four hooks; events go to the sink.

    A subclass fills in `_open`, `_close`, `_apply_acceptance` and `_decide`, and keeps `_identity`, `_bills`,
    `online`, `_state` and `_detail` up to date. The part is a context manager; `stop()`/`close()` are idempotent.
    """

    protocol: str = ""

    def __init__(self, on_event: EventSink) -> None:
        self._on_event = on_event
        # Re-entrant: a host may call stack()/return_bill() from inside its callback, and a driver without a
        # polling thread (virtual) then emits the outcome from inside that same callback.
        self._emit_lock = threading.RLock()
        self._identity = Identity(self.protocol)  # filled in when the device is read
        self._bills: dict[int, Bill] = {}  # bill type → bill
        self._types: set[int] = set()  # bill types the host wants accepted
        self.online = False
        self._state = "stopped"
        self._detail = ""
        self._running = False
        self._closed = False

    # -- hooks ------------------------------------------------------------------------------------
    @abstractmethod
    def _open(self) -> None:
        """Reach the device and bring it to a known state; raise DeviceInitializationError if it cannot be."""

    @abstractmethod
    def _close(self) -> None:
        """Make the device accept nothing and release it (called once per start, and once if never started)."""

    @abstractmethod
    def _apply_acceptance(self) -> None:
        """Tell the device to accept exactly the bill types in `self._types`."""

    @abstractmethod
    def _decide(self, decision: Decision) -> None:
        """Stack, return or keep holding the bill in escrow."""

    def _status_extra(self) -> dict[str, object]:
        """Protocol details for the service menu (counters, port …)."""
        return {}

    # -- life cycle -------------------------------------------------------------------------------
    def emit(self, event: ValidatorEvent) -> None:
        """Hand one event to the host; serialised so the host sees events in device order."""
        with self._emit_lock:
            self._on_event(event)

    def start(self) -> None:
        """Open, reset and initialise the device, then report its events (again after a stop)."""
        if self._running:
            return
        self._closed = False
        self._open()
        self._running = True

    def stop(self) -> None:
        """Disable acceptance and release the device; calling it again does nothing."""
        if self._closed:
            return
        self._closed, self._running = True, False
        self._close()

    def close(self) -> None:
        """The same as stop(): idempotent."""
        self.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- commands ---------------------------------------------------------------------------------
    def enable(self, denominations: Iterable[int]) -> None:
        """Accept only these bill values (kopecks); values this unit does not know are ignored with a warning."""
        wanted = set(denominations)
        self._types = {b.bill_type for b in self._bills.values() if b.value in wanted}
        unknown = wanted - {b.value for b in self._bills.values()}
        if unknown:
            log.warning("%s: this validator has no bills worth %s kopecks; ignored", self.protocol, sorted(unknown))
        self._apply_acceptance()

    def disable(self) -> None:
        """Accept nothing (a bill already in escrow stays there until stacked or returned)."""
        self._types = set()
        self._apply_acceptance()

    def stack(self) -> None:
        """Send the bill in escrow to the cassette."""
        self._decide("stack")

    def return_bill(self) -> None:
        """Hand the bill in escrow back."""
        self._decide("return")

    def hold(self) -> None:
        """Keep the bill in escrow a while longer."""
        self._decide("hold")

    # -- what the host can read -------------------------------------------------------------------
    def identity(self) -> Identity:
        """Model, serial and firmware as read from the device."""
        return self._identity

    def bill_table(self) -> list[Bill]:
        """The bills this unit knows, values in kopecks."""
        return sorted(self._bills.values(), key=lambda b: b.bill_type)

    def status(self) -> ValidatorStatus:
        """A snapshot for the service menu and heartbeats."""
        return ValidatorStatus(online=self.online, enabled=bool(self._types), state=self._state,
                               detail=self._detail, extra=self._status_extra())
