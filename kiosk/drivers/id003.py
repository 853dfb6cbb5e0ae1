"""JCM ID003 bill validator driver.

Money rules kept here: credit exactly once per escrow cycle, at VEND VALID (0x15) — never at escrow — and ACK
it only after the credit has been handed to the host, so a kiosk killed in between finds VEND VALID still
waiting at its next start and reports the bill Uncertain instead of losing it. A repeated VEND VALID (our ACK
lost) is recognised by the open cycle and ACKed again without a second credit.
A cycle that ends without VEND VALID or a return (garbled replies, a jam, a power cut) and a power-up with a
bill in the stacker (0x42) are reported Uncertain, never guessed.
"""

from __future__ import annotations

import logging
import secrets
import time

import serial

from kiosk.drivers import id003_frame as jf
from kiosk.drivers.polling import PollingValidator
from kiosk.drivers.serial_port import SerialPort, wait_reply
from kiosk.drivers.validator import (
    Bill,
    CassetteFull,
    CassetteInserted,
    CassetteRemoved,
    Cheated,
    Decision,
    Escrow,
    EventSink,
    Failure,
    Identity,
    Jammed,
    Rejected,
    Returned,
    Stacked,
    Uncertain,
)
from kiosk.errors import DeviceInitializationError, DeviceOperationError, DeviceTimeoutError

log = logging.getLogger(__name__)

STATES = {
    0x11: "idling", 0x12: "accepting", 0x13: "escrow", 0x14: "stacking", 0x15: "vend valid", 0x16: "stacked",
    0x17: "rejecting", 0x18: "returning", 0x19: "holding", 0x1A: "disabled", 0x1B: "initializing",
    0x40: "power up", 0x41: "power up with bill in acceptor", 0x42: "power up with bill in stacker",
    0x43: "stacker full", 0x44: "stacker open", 0x45: "acceptor jam", 0x46: "stacker jam", 0x47: "pause",
    0x48: "cheated", 0x49: "failure", 0x4A: "communication error", 0x4B: "invalid command",
}
REJECT_REASONS = {
    0x71: "insertion", 0x72: "magnetic", 0x73: "bill left in head", 0x74: "compensation", 0x75: "conveying",
    0x76: "denomination assessment", 0x77: "photo pattern", 0x78: "photo level", 0x79: "inhibited",
    0x7B: "operation", 0x7C: "bill in transport at wrong time", 0x7D: "length", 0x7E: "photo pattern 2",
}
FAILURES = {
    0xA2: "stacker motor", 0xA5: "transport speed", 0xA6: "transport motor", 0xA7: "aligning motor",
    0xAB: "cash box not ready", 0xAC: "optical", 0xAD: "magnetic", 0xAF: "head removed", 0xB0: "boot ROM",
    0xB1: "external ROM", 0xB2: "ROM", 0xB3: "external ROM write",
}
COUNTRIES = {jf.RUB_COUNTRY: "RUS"}
POWER_UP = (jf.POWER_UP, jf.POWER_UP_BILL_IN_ACCEPTOR, jf.POWER_UP_BILL_IN_STACKER)
_BILL_IN_HEAD = (jf.ACCEPTING, jf.ESCROW, jf.HOLDING, jf.RETURNING, jf.POWER_UP_BILL_IN_ACCEPTOR)
# Statuses in which no bill is in the unit any more: an open cycle that reaches one has ended.
_CYCLE_OVER = (jf.IDLING, jf.DISABLED, jf.INITIALIZING, jf.STACKER_FULL, jf.STACKER_OPEN, jf.ACCEPTOR_JAM,
               jf.STACKER_JAM, jf.CHEATED, jf.FAILURE)


def bills_from_currency_table(data: bytes) -> dict[int, Bill]:
    """Escrow code → bill in kopecks, from a 0x8A reply (empty slots skipped)."""
    return {r.escrow_code: Bill(r.units * 100, r.escrow_code, COUNTRIES.get(r.country, f"0x{r.country:02X}"))
            for r in jf.parse_currency_table(data)}


class Id003Validator(PollingValidator):
    """An ID003 validator on a serial port (8E1), polled with STATUS REQUEST every `poll_interval` seconds."""

    protocol = "id003"
    DEFAULTS = {
        "init_timeout": 5.0,
        "stack_command": 1,  # STACK-1: VEND VALID as the bill passes the lever; 2: once fully stacked
        "hold_interval": 5.0,  # HOLD is renewed this often while the host decides
        "escrow_max_hold": 60.0,  # a host that never decides gets the bill returned, not kept forever
        "auto_hold": True,
        "busy_poll_interval": 0.01,  # poll period while a stacked bill is on its way
    }

    def __init__(self, on_event: EventSink, port: str, **options: object) -> None:
        super().__init__(on_event, port, options)
        if self.options["stack_command"] not in (1, 2):
            raise DeviceInitializationError(
                f"id003: stack_command must be 1 or 2, got {self.options['stack_command']!r}")
        self._link = SerialPort(port, int(self.options["baudrate"]), parity=serial.PARITY_EVEN)
        self._parser = jf.FrameParser()
        self._nonce = secrets.token_hex(4)
        self._seq = 0
        self._last: jf.Frame | None = None
        self._cycle: Bill | None = None  # bill in an open escrow/stacking cycle
        self._cycle_open = self._credited = self._decided = False
        self._escrow_since = self._last_hold = 0.0
        self._cassette_out = False
        self.counters = {"bad_crc": 0, "timeouts": 0, "repeated_vend_valid": 0, "echo_mismatch": 0}

    # -- the wire ---------------------------------------------------------------------------------
    def _feed(self, chunk: bytes) -> jf.Frame | jf.BadFrame | None:
        items = self._parser.feed(chunk)
        good = [i for i in items if isinstance(i, jf.Frame)]
        return good[0] if good else (items[0] if items else None)

    def _transact(self, code: int, data: bytes = b"") -> jf.Frame:
        """Send a command, return the checked reply; a garbled or missing reply is asked for again."""
        frame = jf.encode(code, data)
        problem = "no answer"
        for _ in range(int(self.options["retries"])):
            self._link.discard_input()
            self._parser.reset()
            self._link.write(frame)
            reply = wait_reply(time.monotonic() + float(self.options["response_timeout"]), self._link, self._feed)
            if isinstance(reply, jf.Frame):
                return reply
            if reply is None:
                self.counters["timeouts"] += 1
                problem = "no answer"
            else:
                self.counters["bad_crc"] += 1
                problem = f"bad CRC in reply {reply.raw.hex(' ')}"
        raise DeviceTimeoutError(f"{self.port}: command 0x{code:02X}: {problem} after {self.options['retries']} tries")

    def _command(self, code: int) -> None:
        """An operational command the unit must ACK."""
        reply = self._transact(code)
        if reply.code != jf.ACK:
            raise DeviceOperationError(f"{self.port}: command 0x{code:02X} answered "
                                       f"'{STATES.get(reply.code, hex(reply.code))}' instead of ACK")

    def _setting(self, code: int, data: bytes) -> None:
        """A setting command: the unit must echo the same code and data."""
        reply = self._transact(code, data)
        if (reply.code, reply.data) != (code, data):
            self.counters["echo_mismatch"] += 1
            raise DeviceOperationError(f"{self.port}: setting 0x{code:02X} {data.hex()} echoed as "
                                       f"0x{reply.code:02X} {reply.data.hex()}")

    def _ack(self) -> None:
        self._link.write(jf.encode(jf.ACK))

    # -- set-up -----------------------------------------------------------------------------------
    def _initialise(self, first: bool) -> None:
        try:
            before = self._transact(jf.STATUS_REQUEST)
        except DeviceTimeoutError as exc:
            if not first:
                raise
            raise DeviceInitializationError(
                f"{self.port}: no ID003 answer at {self.options['baudrate']} baud 8E1: check the cable, the port, "
                "the baud rate (9600 or 19200) and that the unit is set to ID003, not pulse mode") from exc
        if before.code == jf.STACKING:
            before = self._await_stacking_end(before)
        self._settle_before_reset(before, first)
        self._command(jf.RESET)
        self._last = None
        deadline = time.monotonic() + float(self.options["init_timeout"])
        status = self._transact(jf.STATUS_REQUEST)
        while status.code in (jf.INITIALIZING, *POWER_UP):
            if time.monotonic() > deadline:
                raise DeviceTimeoutError(f"{self.port}: still '{STATES[status.code]}' after reset")
            time.sleep(min(0.05, float(self.options["poll_interval"])))
            status = self._transact(jf.STATUS_REQUEST)
        version = self._transact(jf.GET_VERSION).data.decode("ascii", "replace").strip(" \x00")
        self._identity = Identity("id003", model=version.split(" ")[0], firmware=version)
        self._bills = bills_from_currency_table(self._transact(jf.GET_CURRENCY_ASSIGNMENT).data)
        if not self._bills:
            raise DeviceInitializationError(f"{self.port}: the validator's currency table (0x8A) is empty")
        self._send_acceptance()
        self._handle(status)  # a cassette out or a jam right after start is news too

    def _await_stacking_end(self, status: jf.Frame) -> jf.Frame:
        """A bill on its way into the cassette: let it arrive (a RESET now would swallow its VEND VALID)."""
        deadline = time.monotonic() + float(self.options["init_timeout"])
        while status.code == jf.STACKING and time.monotonic() < deadline:
            time.sleep(min(0.05, float(self.options["poll_interval"])))
            status = self._transact(jf.STATUS_REQUEST)
        return status

    def _settle_before_reset(self, before: jf.Frame, first: bool) -> None:
        """What the status before our RESET says about a bill the host may be waiting on."""
        code = before.code
        owed = self._cycle_open and not self._credited
        if code in (jf.VEND_VALID, jf.STACKED) and owed and not first:
            self._credit()
        elif code == jf.VEND_VALID and first:
            # VEND VALID means the bill is in the cassette: with its STACK pending the journal credits it.
            self.emit(Uncertain("at start-up the validator still reports VEND VALID that this driver did not see "
                                "(kiosk restarted before acknowledging?): it may already be credited — reconcile "
                                "with the journal", stacked=True))
            self._ack()
        elif code in (jf.STACKING, jf.POWER_UP_BILL_IN_STACKER) and (owed or first):
            self.emit(Uncertain(f"'{STATES[code]}' before reset: the bill is probably in the cassette but no VEND "
                                "VALID was seen — reconcile", self._cycle,
                                stacked=code == jf.POWER_UP_BILL_IN_STACKER))
        elif code in _BILL_IN_HEAD and self._cycle_open:
            self.emit(Returned(self._cycle))  # the reset hands a bill in the head back to the payer
        elif owed:
            self._end_cycle_unknown(code)
        self._close_cycle()

    def _send_acceptance(self) -> None:
        """Every setting, each echo checked; bill types are escrow codes, and the host's ones are not inhibited."""
        inhibited = set(self._bills) - self._types
        self._setting(jf.SET_DENOMINATION, jf.denomination_mask(inhibited))
        self._setting(jf.SET_SECURITY, b"\x00\x00")
        self._setting(jf.SET_COMMUNICATION_MODE, b"\x00")  # polling
        self._setting(jf.SET_DIRECTION, b"\x00")  # every direction accepted
        self._setting(jf.SET_OPTIONAL_FUNCTION, b"\x00\x00")
        self._setting(jf.SET_INHIBIT, b"\x00" if self._types else b"\x01")

    # -- polling ----------------------------------------------------------------------------------
    def _sleep(self, seconds: float) -> None:
        # While a bill travels to the cassette, poll faster: its credit reaches the journal sooner, which
        # narrows the window in which a crash leaves it uncertain; idle polling stays as configured.
        if self.online and self._cycle_open and self._decided:
            seconds = min(seconds, float(self.options["busy_poll_interval"]))
        super()._sleep(seconds)

    def _poll(self) -> None:
        self._handle(self._transact(jf.STATUS_REQUEST))
        if self._cycle_open and not self._decided and self.options["auto_hold"] and self._last and \
                self._last.code in (jf.ESCROW, jf.HOLDING):
            now = time.monotonic()
            if now - self._escrow_since >= float(self.options["escrow_max_hold"]):
                log.warning("%s: host did not decide on escrowed bill in time; returning it", self.port)
                self._decided = True
                self._command(jf.RETURN)
            elif now - self._last_hold >= float(self.options["hold_interval"]):
                self._last_hold = now
                self._command(jf.HOLD)

    def _handle(self, status: jf.Frame) -> None:
        code, arg = status.code, (status.data[0] if status.data else None)
        repeated = status == self._last
        self._last = status
        self._state = STATES.get(code, f"0x{code:02X}")
        if code == jf.VEND_VALID:
            if self._credited:
                self.counters["repeated_vend_valid"] += int(repeated)
            else:
                self._credit()
            self._ack()  # again for a repeat: our first ACK was lost
            return
        if repeated:
            return
        if self._cassette_out and code != jf.STACKER_OPEN:
            self._cassette_out = False
            self.emit(CassetteInserted())
        if code in POWER_UP:
            # Not a disconnect: the thread re-initialises (settling any open cycle) and emits Ready.
            log.warning("%s: validator powered up (%s); re-initialising", self.port, self._state)
            self._reinit = True
            return
        if code == jf.STACKED:
            if self._cycle_open and not self._credited:
                self._credit()  # a unit that did not wait for our ACK: VEND VALID went by unseen
            self._close_cycle()
        elif code in _CYCLE_OVER and self._cycle_open:
            if not self._credited:
                self._end_cycle_unknown(code)
            self._close_cycle()
        if code == jf.ESCROW:
            if not self._cycle_open:
                bill = self._bills.get(arg or 0)
                self._cycle, self._cycle_open, self._decided = bill, True, False
                self._escrow_since = self._last_hold = time.monotonic()
                self.emit(Escrow(bill or Bill(0, arg if arg is not None else -1)))
        elif code == jf.STACKING and not self._cycle_open:
            self._cycle, self._cycle_open, self._decided = None, True, True  # stacking with no escrow seen
        elif code == jf.RETURNING and self._cycle_open:
            self.emit(Returned(self._cycle))
            self._close_cycle()
        elif code == jf.REJECTING:
            self.emit(Rejected(REJECT_REASONS.get(arg or 0, f"code 0x{(arg or 0):02X}")))
            self._close_cycle()
        elif code == jf.STACKER_FULL:
            self.emit(CassetteFull())
        elif code == jf.STACKER_OPEN:
            self._cassette_out = True
            self.emit(CassetteRemoved())
        elif code in (jf.ACCEPTOR_JAM, jf.STACKER_JAM):
            self.emit(Jammed("validator" if code == jf.ACCEPTOR_JAM else "cassette"))
        elif code == jf.CHEATED:
            self.emit(Cheated())
        elif code == jf.FAILURE:
            self.emit(Failure(arg or 0, FAILURES.get(arg or 0, "failure")))

    def _credit(self) -> None:
        self._credited = True
        if self._cycle is None:
            self.emit(Uncertain("VEND VALID for a bill whose escrow code was never seen: value unknown"))
            return
        self._seq += 1
        self.emit(Stacked(self._cycle, f"id003:{self.port}:{self._nonce}:{self._seq}"))

    def _close_cycle(self) -> None:
        self._cycle, self._cycle_open, self._credited, self._decided = None, False, False, False

    def _end_cycle_unknown(self, code: int) -> None:
        detail = (f"a bill's cycle ended in '{STATES.get(code, hex(code))}' without VEND VALID or a return "
                  "(garbled replies, jam or power cut?): it may be in the cassette — reconcile")
        log.error("%s: %s", self.port, detail)
        self.emit(Uncertain(detail, self._cycle))

    # -- host commands (run by the polling thread) ------------------------------------------------
    def _send_decision(self, decision: Decision) -> None:
        if decision == "hold":
            self._last_hold = time.monotonic()
            self._command(jf.HOLD)
            return
        self._decided = True
        if decision == "return":
            self._command(jf.RETURN)
        else:
            self._command(jf.STACK_1 if self.options["stack_command"] == 1 else jf.STACK_2)

    def _shutdown(self) -> None:
        self._setting(jf.SET_INHIBIT, b"\x01")
