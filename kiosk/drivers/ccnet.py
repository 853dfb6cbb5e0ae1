"""CashCode CCNET bill validator driver.

Money rules kept here: credit only on "bill stacked" (0x81), once per report — a repeated 0x81 (the device
repeating it because our ACK was lost) is ignored until the state has changed; an escrow cycle that ends
without a stacked or returned report (a garbled reply, a jam, a power cut) is reported as Uncertain, never
guessed; a power-up with a bill in the stacker (0x12) is Uncertain. Stacked.event_id = serial + a random
nonce of this driver instance + a sequence, so ids never collide across driver restarts.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Literal

from kiosk.drivers import ccnet_frame as cf
from kiosk.drivers.polling import PollingValidator
from kiosk.drivers.serial_port import wait_reply
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
    0x10: "power up", 0x11: "power up with bill in validator", 0x12: "power up with bill in stacker",
    0x13: "initialize", 0x14: "idling", 0x15: "accepting", 0x17: "stacking", 0x18: "returning",
    0x19: "unit disabled", 0x1A: "holding", 0x1B: "device busy", 0x1C: "rejecting", 0x41: "drop cassette full",
    0x42: "drop cassette out of position", 0x43: "validator jammed", 0x44: "drop cassette jammed",
    0x45: "cheated", 0x46: "pause", 0x47: "failure", 0x80: "escrow", 0x81: "bill stacked", 0x82: "bill returned",
}
REJECT_REASONS = {
    0x60: "insertion", 0x61: "magnetic", 0x62: "bill remains in head", 0x63: "multiplying", 0x64: "conveying",
    0x65: "identification", 0x66: "verification", 0x67: "optic", 0x68: "inhibit", 0x69: "capacity",
    0x6A: "operation", 0x6C: "length", 0x6D: "UV", 0x92: "barcode", 0x93: "barcode", 0x94: "barcode",
    0x95: "barcode",
}
FAILURES = {
    0x50: "stack motor", 0x51: "transport speed", 0x52: "transport motor", 0x53: "aligning mechanism",
    0x54: "initial cassette status", 0x55: "optic canal", 0x56: "magnetic canal", 0x5F: "capacitance canal",
}
POWER_UP = (0x10, 0x11, 0x12)
BUSY = (0x10, 0x11, 0x12, 0x13, 0x1B)
# States in which no bill is in the head any more: an open escrow cycle that reaches one has ended.
_CYCLE_OVER = (0x13, 0x14, 0x19, 0x41, 0x42, 0x43, 0x44, 0x45, 0x47)


def parse_bill_table(data: bytes) -> list[Bill]:
    """24 × (value digit, country, power of ten) → bills in kopecks; empty slots are skipped."""
    bills = []
    for bill_type in range(min(24, len(data) // 5)):
        digit, country, power = data[bill_type * 5], data[bill_type * 5 + 1:bill_type * 5 + 4], data[bill_type * 5 + 4]
        if not digit:
            continue
        # Bit 7 of the power byte means a negative exponent (fractional units on some tables).
        if power & 0x80:
            kopecks = digit * 100 // 10 ** (power & 0x7F)
        else:
            kopecks = digit * 10**power * 100
        bills.append(Bill(kopecks, bill_type, country.decode("ascii", "replace").strip()))
    return bills


class CcnetValidator(PollingValidator):
    """A CCNET validator on a serial port, polled every `poll_interval` seconds."""

    protocol = "ccnet"
    DEFAULTS = {
        "address": cf.ADDR_BILL_VALIDATOR,
        "mask_order": "y3_first",  # bill type 0 in bit 0 of Y3; "y1_first" for the other reading
        "init_timeout": 5.0,
        "hold_interval": 5.0,  # HOLD is renewed this often while the host decides (device gives ~10 s)
        "escrow_max_hold": 60.0,  # a host that never decides gets the bill returned, not kept forever
        "auto_hold": True,
    }

    def __init__(self, on_event: EventSink, port: str, **options: object) -> None:
        super().__init__(on_event, port, options)
        if self.options["mask_order"] not in ("y3_first", "y1_first"):
            raise DeviceInitializationError(
                f"ccnet: mask_order must be 'y3_first' or 'y1_first', got {self.options['mask_order']!r}")
        self._address = int(self.options["address"])
        self._parser = cf.FrameParser()
        self._sent = b""
        self._nonce = secrets.token_hex(4)
        self._seq = 0
        self._last: bytes | None = None  # last valid POLL reply
        self._cycle: Bill | None = None  # bill in an open escrow/stacking cycle
        self._cycle_open = False
        self._decided = False
        self._escrow_since = self._last_hold = 0.0
        self._cassette_out = False
        self.counters = {"bad_crc": 0, "timeouts": 0, "device_nak": 0, "repeated_stacked": 0}

    # -- the wire ---------------------------------------------------------------------------------
    def _feed(self, chunk: bytes) -> cf.Frame | cf.BadFrame | None:
        # Our own frame heard back (a miswired, echoing line) is never the device's answer.
        items = [i for i in self._parser.feed(chunk)
                 if isinstance(i, cf.BadFrame) or (i.address == self._address and i.payload != self._sent)]
        good = [i for i in items if isinstance(i, cf.Frame)]
        return good[0] if good else (items[0] if items else None)

    def _transact(self, payload: bytes) -> cf.Frame:
        """Send a command, return the checked reply (ACKed if it carries data); NAK and retry a garbled one."""
        frame = cf.encode(payload, self._address)
        self._sent = payload
        problem = "no answer"
        for _ in range(int(self.options["retries"])):
            self._link.discard_input()
            self._parser.reset()
            self._link.write(frame)
            deadline = time.monotonic() + float(self.options["response_timeout"])
            reply: cf.Frame | cf.BadFrame | None = wait_reply(deadline, self._link, self._feed)
            if reply is None:
                self.counters["timeouts"] += 1
                problem = "no answer"
                continue
            if isinstance(reply, cf.BadFrame):
                self.counters["bad_crc"] += 1
                problem = f"bad CRC in reply {reply.raw.hex(' ')}"
                self._link.write(cf.command(cf.NAK, address=self._address))
                time.sleep(0.02)  # the inter-frame silence the device needs before our retry
                continue
            if reply.payload == b"\xff":
                self.counters["device_nak"] += 1
                problem = "device NAKed our frame"
                continue
            if reply.payload not in (b"\x00", bytes((cf.ILLEGAL_COMMAND,))):
                self._link.write(cf.command(cf.ACK, address=self._address))
            return reply
        raise DeviceTimeoutError(f"{self.port}: command 0x{payload[0]:02X}: {problem} after "
                                 f"{self.options['retries']} tries")

    def _command(self, code: int, data: bytes = b"") -> cf.Frame:
        reply = self._transact(bytes((code,)) + data)
        if reply.payload == bytes((cf.ILLEGAL_COMMAND,)):
            raise DeviceOperationError(f"{self.port}: device refused command 0x{code:02X} as ILLEGAL COMMAND")
        return reply

    # -- set-up -----------------------------------------------------------------------------------
    def _initialise(self, first: bool) -> None:
        try:
            before = self._transact(bytes((cf.POLL,))).payload
        except DeviceTimeoutError as exc:
            if not first:
                raise
            raise DeviceInitializationError(
                f"{self.port}: no CCNET answer at {self.options['baudrate']} baud, address {self._address}. "
                "The validator may be in pulse mode instead of CCNET (switch it with its DIP switches or "
                "service card), or the cable, port or baud rate is wrong.") from exc
        stacked_before_start = self._settle_before_reset(before, first)
        self._command(cf.RESET)
        self._last = None
        deadline = time.monotonic() + float(self.options["init_timeout"])
        state = 0x13
        while state in BUSY:
            if time.monotonic() > deadline:
                raise DeviceTimeoutError(f"{self.port}: still '{STATES.get(state, hex(state))}' after reset")
            time.sleep(min(0.05, float(self.options["poll_interval"])))
            state = self._command(cf.POLL).code
        ident = self._command(cf.IDENTIFICATION).payload
        part = ident[0:15].decode("ascii", "replace").strip(" \x00")
        serial = ident[15:27].decode("ascii", "replace").strip(" \x00")
        self._identity = Identity("ccnet", model=part, serial=serial, firmware=part.rpartition("-")[2])
        table = parse_bill_table(self._command(cf.GET_BILL_TABLE).payload)
        if not table:
            raise DeviceInitializationError(f"{self.port}: the validator's bill table is empty")
        self._bills = {b.bill_type: b for b in table}
        if stacked_before_start is not None:  # reported now that the bill table says what it was worth
            self._report_stacked_at_start(*stacked_before_start)
        self._send_acceptance()  # what the host wants accepted, restored after every re-init
        self._state = STATES.get(state, f"0x{state:02X}")
        self._handle(bytes((state,)))  # a cassette out or a jam right after start is news too

    def _settle_before_reset(self, before: bytes, first: bool) -> tuple[int, bool] | None:
        """What the state before our RESET says about a bill the host may be waiting on.

        At the first start, a bill the device reports stacked is returned as (bill type, whether a host may have
        seen the report) for `_initialise` to report once the bill table says what it was worth.
        """
        still_stacking = before[0] == 0x17
        if still_stacking:
            before = self._await_stacking_end(before)
        code = before[0]
        bill = self._known(before[1]) if len(before) > 1 else self._cycle
        if code == 0x81:
            if first:
                # A host before us may have credited this report, or died first: its journal decides.
                return before[1], not still_stacking
            if before != self._last:  # else: the stacking we already credited, repeated
                self._credit(before[1])
            self._close_cycle()
        elif code == 0x12 or code == 0x17:
            self.emit(Uncertain(f"{STATES[code]} before reset: the bill is probably in the cassette but no "
                                "'stacked' was reported — reconcile by policy", self._cycle or bill,
                                stacked=code == 0x12))
            self._close_cycle()
        elif code in (0x11, 0x15, 0x18, 0x1A, 0x80, 0x82):
            # The reset hands a bill in the head back to the payer.
            self.emit(Returned(self._cycle or bill))
            self._close_cycle()
        elif self._cycle_open:
            self._end_cycle_unknown(code)
        return None

    def _await_stacking_end(self, before: bytes) -> bytes:
        """A bill on its way into the cassette: let it arrive (a RESET now would swallow its report)."""
        deadline = time.monotonic() + float(self.options["init_timeout"])
        while before[0] == 0x17 and time.monotonic() < deadline:
            time.sleep(float(self.options["poll_interval"]))
            before = self._transact(bytes((cf.POLL,))).payload
        return before

    def _send_acceptance(self) -> None:
        order: Literal["big", "little"] = "big" if self.options["mask_order"] == "y3_first" else "little"
        mask = sum(1 << t for t in self._types).to_bytes(3, order)
        self._command(cf.ENABLE_BILL_TYPES, mask + mask)  # every enabled bill stops in escrow for the host

    # -- polling ----------------------------------------------------------------------------------
    def _poll(self) -> None:
        self._handle(self._transact(bytes((cf.POLL,))).payload)
        if self._cycle_open and not self._decided and self.options["auto_hold"] and self._last and \
                self._last[0] in (0x80, 0x1A):
            now = time.monotonic()
            if now - self._escrow_since >= float(self.options["escrow_max_hold"]):
                log.warning("%s: host did not decide on escrowed bill in time; returning it", self.port)
                self._decided = True
                self._command(cf.RETURN)
            elif now - self._last_hold >= float(self.options["hold_interval"]):
                self._last_hold = now
                self._command(cf.HOLD)

    def _handle(self, payload: bytes) -> None:
        code, arg = payload[0], (payload[1] if len(payload) > 1 else None)
        repeated = payload == self._last
        self._last = payload
        self._state = STATES.get(code, f"0x{code:02X}")
        if code == 0x81:
            if repeated:
                self.counters["repeated_stacked"] += 1
                log.info("%s: repeated 'stacked' ignored (same report, not a new bill)", self.port)
                return
            self._credit(arg)
            self._close_cycle()
            return
        if repeated:
            return
        if self._cassette_out and code != 0x42:
            self._cassette_out = False
            self.emit(CassetteInserted())
        if code in POWER_UP:
            # Not a disconnect: the thread re-initialises (settling any open cycle) and emits Ready.
            log.warning("%s: validator powered up (%s); re-initialising", self.port, self._state)
            self._reinit = True
            return
        if self._cycle_open and code in _CYCLE_OVER:
            self._end_cycle_unknown(code)
        if code == 0x80:
            if not self._cycle_open:
                self._cycle, self._cycle_open, self._decided = self._known(arg), True, False
                self._escrow_since = self._last_hold = time.monotonic()
                self.emit(Escrow(self._bill(arg)))
        elif code == 0x17 and not self._cycle_open:
            self._cycle, self._cycle_open, self._decided = None, True, True  # stacking without escrow
        elif code == 0x82:
            self.emit(Returned(self._known(arg) or self._cycle))
            self._close_cycle()
        elif code == 0x1C:
            self.emit(Rejected(REJECT_REASONS.get(arg or 0, f"code 0x{(arg or 0):02X}")))
            self._close_cycle()
        elif code == 0x41:
            self.emit(CassetteFull())
        elif code == 0x42:
            self._cassette_out = True
            self.emit(CassetteRemoved())
        elif code in (0x43, 0x44):
            self.emit(Jammed("validator" if code == 0x43 else "cassette"))
        elif code == 0x45:
            self.emit(Cheated())
        elif code == 0x47:
            self.emit(Failure(arg or 0, FAILURES.get(arg or 0, "generic failure")))

    def _known(self, bill_type: int | None) -> Bill | None:
        return None if bill_type is None else self._bills.get(bill_type)

    def _bill(self, bill_type: int | None) -> Bill:
        return self._known(bill_type) or Bill(0, -1 if bill_type is None else bill_type)

    def _credit(self, bill_type: int | None) -> None:
        bill = self._known(bill_type)
        if bill is None:
            self.emit(Uncertain(f"stacked a bill of unknown type {bill_type}: value unknown", None))
            return
        self._seq += 1
        self.emit(Stacked(bill, f"ccnet:{self._identity.serial or self.port}:{self._nonce}:{self._seq}"))

    def _report_stacked_at_start(self, bill_type: int | None, seen_before: bool) -> None:
        # The bill is in the cassette; whether a host before us credited it only the journal knows (a STACK
        # still pending there means it did not). stacked=True lets the host credit it on that evidence.
        bill = self._known(bill_type)
        if seen_before:
            detail = ("at start-up the validator reports a bill stacked that this driver did not see (kiosk "
                      "restarted mid-report?): it may already be credited — reconcile with the journal")
        else:
            detail = ("at start-up the validator was still stacking a bill and has now reported it stacked: no "
                      "host saw that report — credit it against the STACK the journal has pending")
        self.emit(Uncertain(detail, bill, stacked=True))

    def _close_cycle(self) -> None:
        self._cycle, self._cycle_open, self._decided = None, False, False

    def _end_cycle_unknown(self, code: int) -> None:
        detail = (f"a bill's cycle ended in '{STATES.get(code, hex(code))}' without a stacked or returned "
                  "report (garbled reply, jam or power cut?): it may be in the cassette — reconcile")
        log.error("%s: %s", self.port, detail)
        self.emit(Uncertain(detail, self._cycle))
        self._close_cycle()

    # -- host commands (run by the polling thread) ------------------------------------------------
    def _send_decision(self, decision: Decision) -> None:
        if decision == "hold":
            self._last_hold = time.monotonic()
            self._command(cf.HOLD)
            return
        self._decided = True
        self._command(cf.STACK if decision == "stack" else cf.RETURN)
