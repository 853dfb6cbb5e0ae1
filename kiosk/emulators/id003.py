"""A JCM ID003 bill validator that speaks the real wire protocol on a pseudo-terminal.

Bill cycle: accepting → escrow (code 0x61+i) → the host's STACK → stacking → VEND VALID (the cassette file is
written first) → the host's ACK → stacked → idling. Switches for what public descriptions leave open (whether
VEND VALID repeats until ACKed) and for faults: ACKs lost on the wire, power cycles with the bill where it
was, jams, cassette out/full, counterfeits, cheating, failure codes; line faults live in WireDevice.
"""

from __future__ import annotations

import time

from kiosk.drivers import id003_frame as jf
from kiosk.emulators.cassette import Cassette
from kiosk.emulators.wire_emulator import WireEmulator

DEFAULT_BILLS_RUB = (10, 50, 100, 200, 500, 1000, 2000, 5000)

STATUS = {
    "power_up": jf.POWER_UP, "power_up_acceptor": jf.POWER_UP_BILL_IN_ACCEPTOR,
    "power_up_stacker": jf.POWER_UP_BILL_IN_STACKER, "initializing": jf.INITIALIZING, "idling": jf.IDLING,
    "disabled": jf.DISABLED, "accepting": jf.ACCEPTING, "escrow": jf.ESCROW, "stacking": jf.STACKING,
    "vend_valid": jf.VEND_VALID, "stacked": jf.STACKED, "rejecting": jf.REJECTING, "returning": jf.RETURNING,
    "holding": jf.HOLDING, "stacker_full": jf.STACKER_FULL, "stacker_open": jf.STACKER_OPEN,
    "acceptor_jam": jf.ACCEPTOR_JAM, "stacker_jam": jf.STACKER_JAM, "cheated": jf.CHEATED, "failure": jf.FAILURE,
}
_BILL_IN_HEAD = {"accepting", "escrow", "holding", "returning", "rejecting"}
_STUCK = {"acceptor_jam", "stacker_jam", "failure", "cheated"}
REJECT_DENOMINATION = 0x76
REJECT_INHIBITED = 0x79
REJECT_OPERATION = 0x7B
# Settings a fresh unit has after power-up / RESET: every denomination inhibited, acceptance inhibited.
_DEFAULT_SETTINGS = {jf.SET_DENOMINATION: b"\xff\xff", jf.SET_SECURITY: b"\x00\x00",
                     jf.SET_COMMUNICATION_MODE: b"\x00", jf.SET_INHIBIT: b"\x01", jf.SET_DIRECTION: b"\x00",
                     jf.SET_OPTIONAL_FUNCTION: b"\x00\x00"}


def currency_table_for(bills_rub: tuple[int, ...] | list[int]) -> list[jf.CurrencyRecord]:
    """Bill-table positions 1..8 (escrow codes 0x61..0x68) for the given RUB bills, mantissa × 10^exponent."""
    if len(bills_rub) > 8:
        raise ValueError(f"an ID003 bill table has at most 8 positions, got {len(bills_rub)} bills")
    records = []
    for position, rub in enumerate(bills_rub):
        mantissa, exponent = rub, 0
        while mantissa % 10 == 0 and mantissa > 0:
            mantissa, exponent = mantissa // 10, exponent + 1
        if mantissa > 255:
            raise ValueError(f"{rub} RUB cannot be written as one-byte mantissa × 10^exponent")
        records.append(jf.CurrencyRecord(jf.FIRST_ESCROW_CODE + position, jf.RUB_COUNTRY, mantissa, exponent))
    return records


class Id003Emulator(WireEmulator):
    """The device side of an ID003 validator on a pty; control methods return a one-line outcome."""

    def __init__(self, bills_rub=DEFAULT_BILLS_RUB, cassette: Cassette | None = None, link: str | None = None,
                 step_seconds: float = 0.05, escrow_timeout: float = 10.0,
                 version: str = "i(RUS)-100-SS ID003-05V270-22 01JAN24") -> None:
        super().__init__(cassette, link, bits_per_byte=11)  # 8E1
        self.records = currency_table_for(bills_rub)
        self.table = {r.escrow_code: r.units * 100 for r in self.records}  # escrow code → kopecks
        self.step_seconds, self.escrow_timeout = step_seconds, escrow_timeout
        self.version = version
        self.repeat_vend_valid = True  # unverified: VEND VALID stays until the host ACKs it (switch)
        self.lose_acks = 0  # fault: this many ACKs to VEND VALID vanish on the wire
        self._parser = jf.FrameParser()
        self._settings = dict(_DEFAULT_SETTINGS)
        self._cassette_present, self._jam, self._failure = True, "", 0
        self._phase, self._sub, self._code = "power_up", 0, 0
        self._until, self._reported = 0.0, False
        self._counterfeit = False

    # -- controls ---------------------------------------------------------------------------------
    def insert(self, roubles: int, counterfeit: bool = False) -> str:
        """A payer pushes a bill in."""
        with self.lock:
            codes = [c for c, v in self.table.items() if v == roubles * 100]
            if not codes and not counterfeit:
                return f"error: no {roubles} RUB bill in the table"
            if self._phase == "disabled":
                return "ok refused (validator disabled)"
            if self._phase != "idling":
                return f"error: busy ({self._phase})"
            self._code, self._counterfeit = (codes[0] if codes else 0), counterfeit
            self._go("accepting", keep_bill=True)
            return f"ok accepting {roubles} RUB"

    def counterfeit(self) -> str:
        """A payer pushes a fake bill in."""
        return self.insert(100, counterfeit=True)

    def jam(self, where: str = "validator") -> str:
        """A bill sticks where it is (in the head: neither stacked nor returned)."""
        with self.lock:
            self._jam = "stacker_jam" if where == "cassette" else "acceptor_jam"
            self._go(self._jam, keep_bill=True)
            return f"ok jammed ({where})"

    def unjam(self) -> str:
        """Service clears the jam (a stuck bill is taken out by hand)."""
        with self.lock:
            self._jam = ""
            self._go(self._base())
            return "ok unjammed"

    def cheat(self) -> str:
        """A payer pulls a bill back on a string."""
        with self.lock:
            self._go("cheated")
            return "ok cheated"

    def fail(self, code: int) -> str:
        """A failure (0x49 + code) until power-cycle or RESET."""
        with self.lock:
            self._failure = code
            self._go("failure", sub=code)
            return f"ok failure 0x{code:02X}"

    def cassette_out(self) -> str:
        """The stacker box is pulled out."""
        with self.lock:
            self._cassette_present = False
            if self._phase in ("idling", "disabled", "stacker_full"):
                self._go("stacker_open")
            return "ok cassette out"

    def cassette_in(self) -> str:
        """The stacker box is put back."""
        with self.lock:
            self._cassette_present = True
            if self._phase in ("stacker_open", "stacker_full"):
                self._go(self._base())
            return "ok cassette in"

    def empty_cassette(self) -> str:
        """Encashment: take everything out."""
        with self.lock:
            taken = self.cassette.empty()
            if self._phase == "stacker_full":
                self._go(self._base())
            return f"ok emptied {sum(taken.values())} bills"

    def power_cycle(self) -> str:
        """Power lost and back: the unit reports power up, remembering where the bill was."""
        with self.lock:
            if self._phase in ("stacking", "vend_valid", "stacker_jam"):
                phase = "power_up_stacker"
            elif self._phase in _BILL_IN_HEAD | {"acceptor_jam"}:
                phase = "power_up_acceptor"
            else:
                phase = "power_up"
            landed = 1 if self._phase == "vend_valid" else 0  # VEND VALID already wrote the cassette
            self._settings = dict(_DEFAULT_SETTINGS)
            self._jam, self._failure = "", 0
            self._go(phase, sub=landed, keep_bill=True)
            return f"ok power-cycled ({phase})"

    def status(self) -> dict:
        """What the device is doing and what the cassette holds."""
        with self.lock:
            return {"protocol": "id003", "phase": self._phase, "state": f"0x{STATUS[self._phase]:02X}",
                    "inhibited_codes": sorted(jf.inhibited_codes(self._settings[jf.SET_DENOMINATION])),
                    "inhibit_all": self._settings[jf.SET_INHIBIT] != b"\x00",
                    "cassette_present": self._cassette_present,
                    "cassette": {str(k): n for k, n in sorted(self.cassette.counts().items())},
                    "bills": self.cassette.count, "total": self.cassette.total}

    # -- the wire ---------------------------------------------------------------------------------
    def receive(self, data: bytes) -> list[bytes]:
        """Frames from the host → replies (a garbled frame gets no answer; the host asks again)."""
        replies = []
        for item in self._parser.feed(data):
            if isinstance(item, jf.BadFrame):
                continue
            reply = self._command(item)
            if reply is not None:
                replies.append(jf.encode(reply[0], reply[1]))
        return replies

    def tick(self) -> None:
        """Advance time-driven phases."""
        self._advance()

    def _command(self, frame: jf.Frame) -> tuple[int, bytes] | None:
        code, data, ack = frame.code, frame.data, (jf.ACK, b"")
        self._advance()
        if code == jf.STATUS_REQUEST:
            self._reported = True
            extra = b""
            if self._phase == "escrow":
                extra = bytes((self._code,))
            elif self._phase in ("rejecting", "failure"):
                extra = bytes((self._sub,))
            return STATUS[self._phase], extra
        if code == jf.ACK:
            if self._phase == "vend_valid" and self._reported:
                if self.lose_acks:
                    self.lose_acks -= 1
                else:
                    self._go("stacked", keep_bill=True)
            return None
        if code == jf.RESET:
            self._reset()
            return ack
        if code in (jf.STACK_1, jf.STACK_2, jf.RETURN, jf.HOLD):
            if self._phase not in ("escrow", "holding"):
                return jf.INVALID_COMMAND, b""
            if code == jf.RETURN:
                self._go("returning", keep_bill=True)
            elif code == jf.HOLD:
                self._go("holding", keep_bill=True)
            else:
                self._go("stacking", keep_bill=True)
            return ack
        if code == jf.WAIT:
            return ack
        if code in jf.SETTINGS:
            if len(data) != len(_DEFAULT_SETTINGS[code]):
                return jf.INVALID_COMMAND, b""
            self._settings[code] = data
            if self._phase in ("idling", "disabled"):
                self._go(self._base())
            return code, data  # the echo
        if 0x80 <= code <= 0x85:
            return code, self._settings[code + 0x40]
        if code == jf.GET_VERSION:
            return code, self.version.encode("ascii")
        if code == jf.GET_BOOT_VERSION:
            return code, b"BOOT-EMU-1.0"
        if code == jf.GET_CURRENCY_ASSIGNMENT:
            return code, jf.encode_currency_table(self.records)
        return jf.INVALID_COMMAND, b""

    # -- behaviour --------------------------------------------------------------------------------
    def _enabled(self, code: int) -> bool:
        return self._settings[jf.SET_INHIBIT] == b"\x00" and \
            code not in jf.inhibited_codes(self._settings[jf.SET_DENOMINATION])

    def _base(self) -> str:
        if self._jam:
            return self._jam
        if self._failure:
            return "failure"
        if not self._cassette_present:
            return "stacker_open"
        if self.cassette.full:
            return "stacker_full"
        return "idling" if any(self._enabled(c) for c in self.table) else "disabled"

    def _go(self, phase: str, sub: int = 0, keep_bill: bool = False) -> None:
        self._phase, self._sub, self._reported = phase, sub, False
        waits = self.escrow_timeout if phase in ("escrow", "holding") else self.step_seconds
        self._until = time.monotonic() + waits
        if not keep_bill:
            self._code = 0

    def _reset(self) -> None:
        if self._phase in ("power_up_stacker", "stacking", "stacker_jam") and not self._in_cassette_already():
            self._into_cassette()  # past the point of no return: it lands, unreported
        # A bill in the head is handed back; nothing is reported for it.
        self._settings = dict(_DEFAULT_SETTINGS)
        self._jam, self._failure = "", 0
        self._go("initializing")

    def _in_cassette_already(self) -> bool:
        return self._sub == 1  # set when VEND VALID wrote the cassette and the unit then lost power

    def _into_cassette(self) -> bool:
        return self.land(self.table.get(self._code))

    def _advance(self) -> None:
        now = time.monotonic()
        phase = self._phase
        if phase in ("escrow", "holding"):
            if now >= self._until:
                self._go("returning", keep_bill=True)
            return
        if phase == "stacking" and now >= self._until:
            # The transport runs on whether or not anybody polls; the cassette file is written before VEND
            # VALID is ever reported: it is the authority.
            self._go("vend_valid", keep_bill=True) if self._into_cassette() else self._go("stacker_full")
            return
        if not self._reported or now < self._until:
            return
        if phase == "initializing":
            self._go(self._base())
        elif phase == "accepting":
            if self._counterfeit or self._code not in self.table:
                self._go("rejecting", sub=REJECT_DENOMINATION)
            elif not self._enabled(self._code):
                self._go("rejecting", sub=REJECT_INHIBITED)
            elif self.cassette.full or not self._cassette_present:
                self._go("rejecting", sub=REJECT_OPERATION)
            else:
                self._go("escrow", keep_bill=True)
        elif phase == "vend_valid":
            if not self.repeat_vend_valid:
                self._go("stacked", keep_bill=True)
        elif phase == "stacked":
            self._go(self._base())
        elif phase == "returning":
            self._go(self._base())
        elif phase in ("rejecting", "cheated"):
            self._go(self._base())
