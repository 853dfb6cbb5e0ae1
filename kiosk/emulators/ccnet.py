"""A CashCode CCNET bill validator that speaks the real wire protocol on a pseudo-terminal.

Switches for quirks and faults: repeat "stacked" until ACKed, ACKs lost on the wire, power-cycle (with the
bill wherever it was), jam, cassette out/full, counterfeit, failure codes; line faults live in WireDevice.
"""

from __future__ import annotations

import threading
import time

from kiosk.drivers import ccnet_frame as cf
from kiosk.emulators.cassette import Cassette, CassetteFullError
from kiosk.emulators.pty_port import WireDevice

DEFAULT_BILLS_RUB = (10, 50, 100, 200, 500, 1000, 2000, 5000)
# Types as on real RUB firmware (2 = 10 ₽ … 7 = 5000 ₽); 200 and 2000 came later and got new slots.
_RUB_TYPES = {10: 2, 50: 3, 100: 4, 500: 5, 1000: 6, 5000: 7, 200: 8, 2000: 9}

CODES = {
    "power_up": 0x10, "power_up_bill": 0x11, "power_up_stacker": 0x12, "initialize": 0x13,
    "idling": 0x14, "accepting": 0x15, "stacking": 0x17, "returning": 0x18, "disabled": 0x19,
    "holding": 0x1A, "rejecting": 0x1C, "cassette_full": 0x41, "cassette_out": 0x42, "jammed": 0x43,
    "cassette_jammed": 0x44, "cheated": 0x45, "failure": 0x47, "escrow": 0x80, "stacked": 0x81,
    "returned": 0x82,
}
_SERVICE_PHASES = {"power_up", "power_up_bill", "power_up_stacker", "initialize", "disabled", "cassette_full",
                   "cassette_out", "jammed", "cassette_jammed", "cheated", "failure"}
_BILL_IN_HEAD = {"accepting", "escrow", "holding", "returning", "rejecting"}
REJECT_IDENTIFICATION = 0x65
REJECT_INHIBIT = 0x68


def bill_table_for(bills_rub: tuple[int, ...] | list[int]) -> dict[int, int]:
    """Bill type → value in kopecks, using the real RUB slots where known."""
    table: dict[int, int] = {}
    free = (t for t in range(24) if t not in _RUB_TYPES.values() and t >= 2)
    for rub in bills_rub:
        table[_RUB_TYPES[rub] if rub in _RUB_TYPES else next(free)] = rub * 100
    return table


def encode_bill_table(table: dict[int, int], country: str = "RUS") -> bytes:
    """24 entries × 5 bytes: value digit(s), 3 ASCII country letters, power of ten."""
    out = bytearray(120)
    for bill_type, kopecks in table.items():
        digits, power = kopecks // 100, 0
        while digits and digits % 10 == 0:
            digits //= 10
            power += 1
        out[bill_type * 5:bill_type * 5 + 5] = bytes((digits,)) + country.encode("ascii") + bytes((power,))
    return bytes(out)


def mask_bytes(types: set[int], order: str) -> bytes:
    """Three mask bytes for a set of bill types in the configured bit order."""
    value = sum(1 << t for t in types)
    return value.to_bytes(3, "big" if order == "y3_first" else "little")


def mask_types(data: bytes, order: str) -> set[int]:
    """The set of bill types in three mask bytes."""
    value = int.from_bytes(data, "big" if order == "y3_first" else "little")
    return {t for t in range(24) if value >> t & 1}


class CcnetEmulator:
    """The device side of a CCNET validator on a pty; control methods return a one-line outcome."""

    def __init__(self, bills_rub=DEFAULT_BILLS_RUB, cassette: Cassette | None = None, link: str | None = None,
                 mask_order: str = "y3_first", address: int = cf.ADDR_BILL_VALIDATOR, step_seconds: float = 0.05,
                 escrow_timeout: float = 10.0, part_number: str = "SM-RU1353", serial: str = "41K012345") -> None:
        if mask_order not in ("y3_first", "y1_first"):
            raise ValueError(f"mask_order must be y3_first or y1_first, got {mask_order!r}")
        self.lock = threading.RLock()
        self.table = bill_table_for(bills_rub)
        self.cassette = cassette or Cassette()
        self.mask_order = mask_order
        self.address = address
        self.step_seconds = step_seconds
        self.escrow_timeout = escrow_timeout
        self.part_number, self.serial = part_number, serial
        self.repeat_stacked = False  # quirk: report 0x81 until the host's ACK arrives
        self.lose_acks = 0  # fault: this many ACKs to a 'stacked' report vanish on the wire
        self.wire = WireDevice(self, self.lock, link)
        self._parser = cf.FrameParser()
        self._enabled: set[int] = set()
        self._escrowed: set[int] = set()
        self._cassette_present, self._jam, self._failure = True, False, 0
        self._phase, self._sub, self._bill = "power_up", 0, -1
        self._until, self._reported, self._awaiting_ack = 0.0, False, False
        self._counterfeit = False
        self.stacked_total = 0  # bills this device has put in the cassette since start (tests compare)

    # -- lifecycle --------------------------------------------------------------------------------
    @property
    def path(self) -> str:
        """The tty path a driver opens."""
        return self.wire.path

    def start(self) -> CcnetEmulator:
        """Start answering on the pty."""
        self.wire.start()
        return self

    def stop(self) -> None:
        """Stop and remove the pty."""
        self.wire.stop()

    # -- controls (what a person or a test does to the device) ------------------------------------
    def insert(self, roubles: int, counterfeit: bool = False) -> str:
        """A payer pushes a bill in."""
        with self.lock:
            kopecks = roubles * 100
            types = [t for t, v in self.table.items() if v == kopecks]
            if not types and not counterfeit:
                return f"error: no {roubles} RUB bill in the table"
            if self._phase not in ("idling", "disabled"):
                return f"error: busy ({self._phase})"
            if self._phase == "disabled":
                return "ok refused (validator disabled)"
            self._bill = types[0] if types else -1
            self._counterfeit = counterfeit
            self._go("accepting")
            return f"ok accepting {roubles} RUB"

    def counterfeit(self) -> str:
        """A payer pushes a fake bill in."""
        return self.insert(100, counterfeit=True)

    def jam(self, where: str = "validator") -> str:
        """A bill sticks; one that was in the head stays there, neither stacked nor returned."""
        with self.lock:
            self._jam = True
            self._go("cassette_jammed" if where == "cassette" else "jammed")
            return f"ok jammed ({where})"

    def unjam(self) -> str:
        """Service clears the jam."""
        with self.lock:
            self._jam = False
            self._go(self._base())
            return "ok unjammed"

    def fail(self, code: int) -> str:
        """A generic failure (0x47 with a sub-code) until power-cycle."""
        with self.lock:
            self._failure = code
            self._go("failure", sub=code)
            return f"ok failure 0x{code:02X}"

    def cassette_out(self) -> str:
        """The drop cassette is pulled out."""
        with self.lock:
            self._cassette_present = False
            if self._phase not in _BILL_IN_HEAD | {"stacking", "stacked"}:
                self._go("cassette_out")
            return "ok cassette out"

    def cassette_in(self) -> str:
        """The drop cassette is put back."""
        with self.lock:
            self._cassette_present = True
            if self._phase in ("cassette_out", "cassette_full"):
                self._go(self._base())
            return "ok cassette in"

    def empty_cassette(self) -> str:
        """Encashment: take everything out."""
        with self.lock:
            taken = self.cassette.empty()
            if self._phase == "cassette_full":
                self._go(self._base())
            return f"ok emptied {sum(taken.values())} bills"

    def power_cycle(self) -> str:
        """Power lost and back: the device waits for RESET and remembers where the bill was."""
        with self.lock:
            if self._phase == "stacking":
                phase = "power_up_stacker"
            elif self._phase in _BILL_IN_HEAD:
                phase = "power_up_bill"
            else:
                phase = "power_up"
            self._enabled, self._escrowed = set(), set()
            self._jam, self._failure, self._awaiting_ack = False, 0, False
            self._go(phase, keep_bill=True)
            return f"ok power-cycled ({phase})"

    def status(self) -> dict:
        """What the device is doing and what the cassette holds."""
        with self.lock:
            return {"protocol": "ccnet", "phase": self._phase, "state": f"0x{CODES[self._phase]:02X}",
                    "enabled_types": sorted(self._enabled), "cassette_present": self._cassette_present,
                    "cassette": {str(k): n for k, n in sorted(self.cassette.counts().items())},
                    "bills": self.cassette.count, "total": self.cassette.total}

    # -- the wire ---------------------------------------------------------------------------------
    def receive(self, data: bytes) -> list[bytes]:
        """Frames from the host → replies."""
        replies = []
        for item in self._parser.feed(data):
            if isinstance(item, cf.BadFrame):
                if len(item.raw) > 1 and item.raw[1] == self.address:
                    replies.append(cf.encode(b"\xff", self.address))
                continue
            if item.address != self.address:
                continue
            reply = self._command(item)
            if reply is not None:
                replies.append(cf.encode(reply, self.address))
        return replies

    def tick(self) -> None:
        """Advance time-driven phases."""
        self._advance()

    def _command(self, frame: cf.Frame) -> bytes | None:
        code, ack, illegal = frame.code, b"\x00", bytes((cf.ILLEGAL_COMMAND,))
        self._advance()
        if code == cf.ACK:
            if self.lose_acks and self._phase == "stacked":
                self.lose_acks -= 1
            else:
                self._awaiting_ack = False
                self._advance()
            return None
        if code == cf.NAK:
            return None
        if code == cf.POLL:
            self._reported = True
            if self._phase == "stacked":
                self._awaiting_ack = True
            reply = bytes((CODES[self._phase],))
            if self._phase in ("escrow", "stacked", "returned"):
                reply += bytes((max(self._bill, 0),))
            elif self._phase in ("rejecting", "failure"):
                reply += bytes((self._sub,))
            return reply
        if code == cf.RESET:
            self._reset()
            return ack
        if code == cf.ENABLE_BILL_TYPES and len(frame.data) == 6:
            self._enabled = mask_types(frame.data[:3], self.mask_order) & set(self.table)
            self._escrowed = mask_types(frame.data[3:], self.mask_order)
            if self._phase in ("idling", "disabled"):
                self._go(self._base())
            return ack
        if code in (cf.STACK, cf.RETURN, cf.HOLD):
            if self._phase not in ("escrow", "holding"):
                return illegal
            if code == cf.STACK:
                self._go("stacking", keep_bill=True)
            elif code == cf.RETURN:
                self._go("returning", keep_bill=True)
            else:
                self._go("holding", keep_bill=True)
                self._until = time.monotonic() + self.escrow_timeout
            return ack
        if code == cf.SET_SECURITY:
            return ack
        if code == cf.GET_STATUS:
            return mask_bytes(self._enabled, self.mask_order) + b"\x00\x00\x00"
        if code in (cf.IDENTIFICATION, cf.GET_BILL_TABLE):
            if self._phase not in _SERVICE_PHASES:
                return illegal
            if code == cf.GET_BILL_TABLE:
                return encode_bill_table(self.table)
            return (self.part_number.ljust(15)[:15] + self.serial.ljust(12)[:12]).encode("ascii") + bytes(7)
        return illegal

    # -- behaviour --------------------------------------------------------------------------------
    def _base(self) -> str:
        if self._jam:
            return "jammed"
        if self._failure:
            return "failure"
        if not self._cassette_present:
            return "cassette_out"
        if self.cassette.full:
            return "cassette_full"
        return "idling" if self._enabled else "disabled"

    def _go(self, phase: str, sub: int = 0, keep_bill: bool = False) -> None:
        self._phase, self._sub, self._reported = phase, sub, False
        self._until = time.monotonic() + (self.escrow_timeout if phase == "escrow" else self.step_seconds)
        if not keep_bill and phase not in ("accepting", "rejecting"):
            self._bill = -1

    def _reset(self) -> None:
        if self._phase in ("power_up_stacker", "stacking"):
            self._into_cassette()  # the bill was already past the point of no return
        # A bill in the head is handed back by the reset; nothing is reported for it.
        self._enabled, self._escrowed, self._awaiting_ack = set(), set(), False
        self._jam, self._failure = False, 0
        self._go("initialize")

    def _into_cassette(self) -> bool:
        try:
            self.cassette.add(self.table[self._bill])
        except CassetteFullError:
            return False
        self.stacked_total += 1
        return True

    def _advance(self) -> None:
        now = time.monotonic()
        phase = self._phase
        if phase in ("escrow", "holding"):
            if now >= self._until:
                self._go("returning", keep_bill=True)
            return
        if not self._reported or now < self._until:
            return
        if phase == "initialize":
            self._go(self._base())
        elif phase == "accepting":
            if self._counterfeit or self._bill not in self.table:
                self._go("rejecting", sub=REJECT_IDENTIFICATION)
            elif self._bill not in self._enabled:
                self._go("rejecting", sub=REJECT_INHIBIT)
            elif self.cassette.full or not self._cassette_present:
                self._go("rejecting", sub=0x69)  # capacity
            elif self._bill in self._escrowed:
                self._go("escrow", keep_bill=True)
            else:
                self._go("stacking", keep_bill=True)
        elif phase == "stacking":
            # The cassette file is written before "stacked" is ever reported: it is the authority.
            if self._into_cassette():
                self._go("stacked", keep_bill=True)
            else:
                self._go("cassette_full")
        elif phase == "stacked":
            if not (self.repeat_stacked and self._awaiting_ack):
                self._go(self._base())
        elif phase == "returning":
            self._go("returned", keep_bill=True)
        elif phase in ("returned", "rejecting"):
            self._go(self._base())
