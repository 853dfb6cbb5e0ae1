"""ccTalk bill validator driver.

Money rules kept here: events come from the buffered event counter, so re-reading the buffer never counts an
event twice; the counter wraps 255 → 1, and a drop to 0 is a device reset (not a wrap); more than five new
events since the last read means some were lost — EventsLost is emitted and logged at error, because money
may be owed. Stacked.event_id = serial + this driver's nonce + the device's reset epoch + the event's index
since that reset (lap × 255 + counter), so a repeated report carries the same id and distinct ones differ.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from typing import cast

from kiosk.drivers import cctalk_frame as cc
from kiosk.drivers.polling import PollingValidator
from kiosk.drivers.validator import (
    Bill,
    CassetteFull,
    CassetteInserted,
    CassetteRemoved,
    Cheated,
    Decision,
    Escrow,
    EventSink,
    EventsLost,
    Failure,
    Identity,
    Jammed,
    Rejected,
    Returned,
    Stacked,
    Uncertain,
    ValidatorEvent,
)
from kiosk.errors import DeviceError, DeviceInitializationError, DeviceOperationError, DeviceTimeoutError

log = logging.getLogger(__name__)

BUFFER_DEPTH = 5
STATUS_EVENTS = {  # A = 0: B → (event factory, text)
    0: (None, "master inhibit active"), 1: (Returned, "bill returned from escrow"),
    2: (Rejected, "invalid bill (validation fail)"), 3: (Rejected, "invalid bill (transport problem)"),
    4: (Rejected, "inhibited bill (serial)"), 5: (Rejected, "inhibited bill (DIP switches)"),
    6: (Jammed, "validator"), 7: (Jammed, "cassette"), 8: (Cheated, "bill pulled backwards"),
    9: (Cheated, "bill tamper"), 10: (None, "stacker OK"), 11: (CassetteRemoved, "stacker removed"),
    12: (CassetteInserted, "stacker inserted"), 13: (Failure, "stacker faulty"), 14: (CassetteFull, "stacker full"),
    15: (Jammed, "cassette"), 16: (Jammed, "validator"), 17: (Cheated, "opto fraud"),
    18: (Cheated, "string fraud"), 19: (Failure, "anti-string fault"), 20: (Rejected, "barcode detected"),
}


def new_events(last: int, counter: int) -> int:
    """How many events happened between two counter readings (1..255 wrapping to 1; 0 only after reset)."""
    if counter == last:
        return 0
    if last == 0:
        return counter
    return (counter - last) % 255


def last_bill_stacked(reply: bytes) -> int | None:
    """From a 159 reply: the bill type of the newest bill event if it is "stacked", else None.

    Only the newest bill event can belong to a bill a host is still waiting on: any later bill would have
    left its own escrow event behind it.
    """
    if len(reply) != 1 + 2 * BUFFER_DEPTH or reply[0] == 0:
        return None
    for age in range(min(reply[0], BUFFER_DEPTH)):  # newest first
        a, b = reply[1 + 2 * age], reply[2 + 2 * age]
        if a:
            return a if b == 0 else None
    return None


class CctalkValidator(PollingValidator):
    """A ccTalk bill validator on a serial port, polled by reading its event buffer."""

    protocol = "cctalk"
    DEFAULTS = {
        "address": cc.BILL_VALIDATOR,
        "host_address": cc.HOST,
        "checksum": "simple",
        "crc_placement": "lo_in_source",
        "echo": False,  # True on a shared data line: our own bytes come back first and are checked
        "init_timeout": 5.0,
        "hold_interval": 5.0,
        "escrow_max_hold": 60.0,
        "auto_hold": True,
    }

    def __init__(self, on_event: EventSink, port: str, **options: object) -> None:
        super().__init__(on_event, port, options)
        try:
            self._codec = cc.Codec(str(self.options["checksum"]), str(self.options["crc_placement"]))
        except ValueError as exc:
            raise DeviceInitializationError(f"cctalk: {exc}") from exc
        self._address, self._host = int(self.options["address"]), int(self.options["host_address"])
        self._parser = cc.PacketParser(self._codec)
        self._nonce = secrets.token_hex(4)
        self._counter = 0  # last counter processed
        self._epoch = 0  # device resets seen by this driver
        self._index = 0  # events since the device's last reset: lap × 255 + counter
        self._escrow: Bill | None = None
        self._routed = False
        self._escrow_since = self._last_hold = 0.0
        self._inhibited_for_stack = False  # master inhibit set while a stacked bill's outcome is unread
        self.counters = {"timeouts": 0, "echo_mismatch": 0, "busy": 0, "events_lost": 0}

    # -- the wire ---------------------------------------------------------------------------------
    def _feed(self, chunk: bytes) -> cc.Packet | None:
        for packet in self._parser.feed(chunk):
            # Our own echoed request is addressed to the device; anything not for us is not our reply.
            if packet.destination == self._host and packet.source in (self._address, None):
                return packet
        return None

    def _transact(self, header: int, data: bytes = b"") -> bytes:
        """Send a request, return the reply data; NAK is a DeviceOperationError, silence a DeviceTimeoutError."""
        wire = self._codec.encode(cc.Packet(self._address, self._host, header, data))
        problem = "no answer"
        for _ in range(int(self.options["retries"])):
            self._link.discard_input()
            self._parser.reset()
            self._link.write(wire)
            deadline = time.monotonic() + float(self.options["response_timeout"])
            reply = self._read_reply(wire, deadline)
            if isinstance(reply, str):
                problem = reply
                continue
            if reply.header == cc.BUSY:
                self.counters["busy"] += 1
                problem = "device busy"
                time.sleep(0.05)
                continue
            if reply.header == cc.NAK:
                raise DeviceOperationError(f"{self.port}: device NAKed header {header}")
            return reply.data
        self.counters["timeouts"] += 1
        raise DeviceTimeoutError(f"{self.port}: header {header}: {problem} after {self.options['retries']} tries")

    def _read_reply(self, wire: bytes, deadline: float) -> cc.Packet | str:
        pending = b""
        if self.options["echo"]:
            while len(pending) < len(wire):
                chunk = self._link.read(deadline)
                if not chunk:
                    return "no echo of our own request (is echo really on for this line?)"
                pending += chunk
            if pending[:len(wire)] != wire:
                self.counters["echo_mismatch"] += 1
                return "echo differs from what we sent (collision or noise on the line)"
            pending = pending[len(wire):]
        found = self._feed(pending) if pending else None
        while found is None:
            chunk = self._link.read(deadline)
            if not chunk:
                return "no answer"
            found = self._feed(chunk)
        return found

    # -- set-up -----------------------------------------------------------------------------------
    def _initialise(self, first: bool) -> None:
        if first:
            self._start_device()
        else:
            self._transact(cc.SIMPLE_POLL)
            self._process(self._transact(cc.READ_BUFFERED_BILL_EVENTS))  # what happened while away
        self._transact(cc.MODIFY_BILL_OPERATING_MODE, b"\x03")  # use stacker and escrow
        self._send_acceptance()
        self._state = "idle"

    def _start_device(self) -> None:
        stacked_type = None
        try:
            self._transact(cc.SIMPLE_POLL)
            # Before RESET clears it: did the device's last bill go into the cassette (a host before us died)?
            stacked_type = last_bill_stacked(self._transact(cc.READ_BUFFERED_BILL_EVENTS))
        except DeviceError:
            # A unit left in an unclean state may answer only after a reset.
            self._link.write(self._codec.encode(cc.Packet(self._address, self._host, cc.RESET)))
            time.sleep(0.2)
            try:
                self._transact(cc.SIMPLE_POLL)
            except DeviceTimeoutError as exc:
                raise DeviceInitializationError(
                    f"{self.port}: no ccTalk answer from address {self._address} ({self.options['checksum']} "
                    f"checksum, echo {'on' if self.options['echo'] else 'off'}, {self.options['baudrate']} baud): "
                    "check the address, checksum mode and echo setting") from exc
        self._transact(cc.RESET)
        deadline = time.monotonic() + float(self.options["init_timeout"])
        while True:
            try:
                self._transact(cc.SIMPLE_POLL)
                break
            except DeviceTimeoutError:
                if time.monotonic() > deadline:
                    raise
        def text(header: int) -> str:
            return self._transact(header).decode("ascii", "replace").strip(" \x00")

        serial = str(int.from_bytes(self._transact(cc.SERIAL_NUMBER)[:3], "little"))
        self._identity = Identity("cctalk", model=f"{text(cc.MANUFACTURER_ID)} {text(cc.PRODUCT_CODE)}",
                                  serial=serial, firmware=text(cc.SOFTWARE_REVISION))
        self._bills = self._read_bill_table()
        if not self._bills:
            raise DeviceInitializationError(f"{self.port}: the validator has no programmed bill types")
        self._counter = self._index = self._transact(cc.READ_BUFFERED_BILL_EVENTS)[0]
        if stacked_type is not None:
            # A host before us may have credited it, or died first: its journal (a STACK pending) decides.
            self.emit(Uncertain("at start-up the validator's event buffer shows its last bill stacked before this "
                                "driver ran: it may already be credited — reconcile with the journal",
                                self._bills.get(stacked_type), stacked=True))

    def _read_bill_table(self) -> dict[int, Bill]:
        bills, scaling = {}, {}
        for bill_type in range(1, 17):
            bill_id = self._transact(cc.REQUEST_BILL_ID, bytes((bill_type,))).decode("ascii", "replace")
            if len(bill_id) < 7 or not bill_id[2:6].isdigit():
                continue  # "......." is an unprogrammed slot
            country = bill_id[:2]
            if country not in scaling:
                raw = self._transact(cc.REQUEST_COUNTRY_SCALING, country.encode("ascii"))
                scaling[country] = ((raw[0] | raw[1] << 8) or 1, raw[2]) if len(raw) >= 3 else (1, 0)
            factor, decimals = scaling[country]
            bills[bill_type] = Bill(int(bill_id[2:6]) * factor * 100 // 10**decimals, bill_type, country)
        return bills

    def _send_acceptance(self) -> None:
        mask = sum(1 << (t - 1) for t in self._types)
        self._transact(cc.MODIFY_INHIBIT_STATUS, bytes((mask & 0xFF, mask >> 8)))
        self._transact(cc.MODIFY_MASTER_INHIBIT, b"\x01" if self._types else b"\x00")

    # -- polling ----------------------------------------------------------------------------------
    def _poll(self) -> None:
        self._process(self._transact(cc.READ_BUFFERED_BILL_EVENTS))
        if self._inhibited_for_stack and self._escrow is None:  # the stacked bill's outcome has been read
            self._inhibited_for_stack = False
            self._transact(cc.MODIFY_MASTER_INHIBIT, b"\x01" if self._types else b"\x00")
        if self._escrow and not self._routed and self.options["auto_hold"]:
            now = time.monotonic()
            if now - self._escrow_since >= float(self.options["escrow_max_hold"]):
                log.warning("%s: host did not decide on escrowed bill in time; returning it", self.port)
                self._route(0)
            elif now - self._last_hold >= float(self.options["hold_interval"]):
                self._last_hold = now
                self._route(255)

    def _process(self, data: bytes) -> None:
        """Turn a 159 reply into events, each exactly once."""
        if len(data) != 1 + 2 * BUFFER_DEPTH:
            raise DeviceOperationError(f"{self.port}: event buffer reply of {len(data)} bytes, expected 11")
        counter = data[0]
        if counter == 0 and self._counter != 0:
            self._device_reset()
            return
        count = new_events(self._counter, counter)
        if not count:
            return
        if count > BUFFER_DEPTH:
            lost = count - BUFFER_DEPTH
            self.counters["events_lost"] += lost
            detail = (f"{lost} validator event(s) lost between reads (counter {self._counter} → {counter}): "
                      "a bill may have been stacked without a report — money may be owed")
            log.error("%s: %s", self.port, detail)
            self.emit(EventsLost(lost, detail))
            count = BUFFER_DEPTH
            self._index += lost
        for age in reversed(range(count)):  # oldest first
            self._index += 1
            self._event(data[1 + 2 * age], data[2 + 2 * age])
        self._counter = counter

    def _device_reset(self) -> None:
        log.warning("%s: event counter dropped to 0: the validator reset (power cut?)", self.port)
        self._epoch += 1
        self._counter = self._index = 0
        if self._escrow:
            if self._routed:
                self.emit(Uncertain("validator reset after the bill was sent to the stacker and before it "
                                    "reported credit: it may be in the cassette — reconcile", self._escrow))
            else:
                self.emit(Returned(self._escrow))
        self._escrow, self._routed = None, False
        self._reinit = True  # inhibits and master inhibit are lost on reset: restore them

    def _event(self, a: int, b: int) -> None:
        if a:
            bill = self._bills.get(a)
            if b == 1:
                self._escrow, self._routed = bill or Bill(0, a), False
                self._escrow_since = self._last_hold = time.monotonic()
                self.emit(Escrow(self._escrow))
                return
            self._escrow, self._routed = None, False
            if bill is None:
                self.emit(Uncertain(f"stacked a bill of unknown type {a}: value unknown"))
                return
            event_id = f"cctalk:{self._identity.serial}:{self._nonce}:{self._epoch}:{self._index}"
            self.emit(Stacked(bill, event_id))
            return
        kind, text = STATUS_EVENTS.get(b, (Failure, f"status code {b}"))
        self._state = text
        if b == 21:
            self.emit(Uncertain("a bill of unknown type was stacked: value unknown"))
        elif kind is Returned:
            self.emit(Returned(self._escrow))
            self._escrow, self._routed = None, False
        elif kind is Rejected:
            self.emit(Rejected(text))
        elif kind is Jammed:
            self.emit(Jammed(text))
        elif kind is Failure:
            self.emit(Failure(b, text))
        elif kind is not None:  # the events that carry nothing: cheated, cassette in/out/full
            self.emit(cast(Callable[[], ValidatorEvent], kind)())
        if kind is Jammed and self._escrow:
            self.emit(Uncertain("a bill jammed while in escrow: it is neither stacked nor returned", self._escrow))
            self._escrow, self._routed = None, False

    def _route(self, code: int) -> None:
        if code in (0, 1):
            self._routed = True
        reply = self._transact(cc.ROUTE_BILL, bytes((code,)))
        if reply:
            problem = {254: "escrow empty", 255: "failed"}.get(reply[0], f"error {reply[0]}")
            raise DeviceOperationError(f"{self.port}: route bill {code}: {problem}")

    # -- host commands (run by the polling thread) ------------------------------------------------
    def _send_decision(self, decision: Decision) -> None:
        if decision == "hold":  # extend the escrow timeout (the driver also extends it by itself)
            self._last_hold = time.monotonic()
        self._route({"stack": 1, "return": 0, "hold": 255}[decision])
        if decision == "stack":
            # No next bill until this one's outcome is read (the device is busy stacking until then anyway):
            # a kiosk that dies meanwhile finds the outcome as the newest bill event at restart, not under the
            # next payer's escrow and return. Refused attempts still add events, so this helps only a restart
            # that comes before five of them.
            self._transact(cc.MODIFY_MASTER_INHIBIT, b"\x00")
            self._inhibited_for_stack = True

    def _status_extra(self) -> dict[str, object]:
        return {**super()._status_extra(), "event_counter": self._counter, "reset_epoch": self._epoch}
