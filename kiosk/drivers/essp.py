"""ITL eSSP note validator driver (NV9, NV10, NV200): encrypted SSP over a serial port (8N2).

Money rules kept here: credit only on "credit note" (0xEE). Events are read with POLL WITH ACK, so the unit
repeats them until our EVENT ACK, sent only after the events were handed to the host: a kiosk killed in
between finds the credit still waiting at its next start and reports it Uncertain instead of losing it; a
driver that re-initialises after a link loss acknowledges its last batch first, so nothing is credited twice. The next POLL after an escrow report accepts the note, so while the host decides the driver
sends HOLD instead of polling. A note cleared into the cashbox at power-up (0xE2), a jam with a note in the
unit and a cycle that ends without a credit or a return are Uncertain, never guessed. Resends keep the
sequence flag and the very same encrypted bytes, so the unit answers them from its last reply.
"""

from __future__ import annotations

import logging
import secrets
import time

import serial

from kiosk.drivers import essp_crypto as ec
from kiosk.drivers import essp_frame as ef
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
    Identity,
    Jammed,
    Rejected,
    Returned,
    Stacked,
    Uncertain,
)
from kiosk.errors import DeviceInitializationError, DeviceOperationError, DeviceTimeoutError

log = logging.getLogger(__name__)

# event code → (name, data bytes) for the host protocol versions used here (4–7)
EVENTS = {
    0xF1: ("slave reset", 0), 0xEF: ("read note", 1), 0xEE: ("credit note", 1), 0xED: ("rejecting", 0),
    0xEC: ("rejected", 0), 0xCC: ("stacking", 0), 0xEB: ("stacked", 0), 0xEA: ("safe jam", 0),
    0xE9: ("unsafe jam", 0), 0xE8: ("disabled", 0), 0xE6: ("fraud attempt", 1), 0xE7: ("stacker full", 0),
    0xE1: ("note cleared from front", 1), 0xE2: ("note cleared into cashbox", 1), 0xE3: ("cashbox removed", 0),
    0xE4: ("cashbox replaced", 0), 0xE0: ("note path open", 0), 0xB5: ("all channels inhibited", 0),
    0xB6: ("initialising", 0),
}
REJECT_REASONS = {
    0x00: "note accepted", 0x01: "note length", 0x02: "average fail", 0x03: "coastline fail", 0x04: "graph fail",
    0x05: "buried fail", 0x06: "channel inhibited", 0x07: "second note inserted", 0x08: "host rejected",
    0x09: "recognition fail", 0x0A: "note too long", 0x0B: "reserved", 0x0C: "escrow timeout",
    0x0D: "bar code", 0x0E: "invalid currency", 0x11: "front sensor", 0x12: "rear sensor",
}


def parse_setup(data: bytes) -> tuple[dict[int, Bill], str, int]:
    """A SETUP REQUEST reply (after F0) → (channel → bill in kopecks, firmware, protocol version)."""
    try:
        firmware, country = data[1:5].decode("ascii", "replace"), data[5:8].decode("ascii", "replace")
        n = data[11]
        values = data[12:12 + n]
        real_multiplier = int.from_bytes(data[12 + 2 * n:15 + 2 * n], "big") or 1
        protocol = data[15 + 2 * n]
        bills: dict[int, Bill] = {}
        if protocol >= 6:
            base = 16 + 2 * n
            countries = [data[base + 3 * i:base + 3 * i + 3].decode("ascii", "replace") for i in range(n)]
            wide = [int.from_bytes(data[base + 3 * n + 4 * i:base + 3 * n + 4 * i + 4], "little") for i in range(n)]
            if len(data) < base + 7 * n:
                raise IndexError("protocol 6 channel values cut short")
            pairs = zip(wide, countries, strict=True)
        else:
            pairs = zip(values, [country] * n, strict=True)
        for channel, (value, code) in enumerate(pairs, start=1):
            if value:
                bills[channel] = Bill(value * real_multiplier, channel, "RUS" if code == "RUB" else code)
        return bills, firmware, protocol
    except IndexError as exc:
        raise DeviceOperationError(f"setup request reply too short ({len(data)} bytes): {exc}") from exc


class EsspValidator(PollingValidator):
    """An eSSP validator on a serial port, polled with POLL WITH ACK every `poll_interval` seconds."""

    protocol = "essp"
    DEFAULTS = {
        "address": ef.VALIDATOR_ADDRESS,
        "encrypted": True,
        "fixed_key": "0123456701234567",  # the unit's fixed eSSP key, 16 hex digits (ITL's default)
        "ecount_step": 1,  # 1: ITL's host library; 2: the other reading of the manual (see essp.md)
        "host_protocol": 6,
        "init_timeout": 5.0,
        "hold_interval": 1.0,  # the unit returns a note after 5 s without a command
        "unit_escrow_timeout": 5.0,  # without auto_hold: after this long unheld the note is back; poll again
        "escrow_max_hold": 60.0,
        "auto_hold": True,
        "busy_poll_interval": 0.01,  # poll period while an accepted note is on its way
    }

    def __init__(self, on_event: EventSink, port: str, **options: object) -> None:
        super().__init__(on_event, port, options)
        try:
            self._fixed_key = ec.parse_fixed_key(str(self.options["fixed_key"]))
        except ValueError as exc:
            raise DeviceInitializationError(f"essp: {exc}") from exc
        if self.options["ecount_step"] not in (1, 2):
            raise DeviceInitializationError(f"essp: ecount_step must be 1 or 2, got {self.options['ecount_step']}")
        self._link = SerialPort(port, int(self.options["baudrate"]), stopbits=serial.STOPBITS_TWO)
        self._address = int(self.options["address"])
        self._parser = ef.PacketParser()
        self._crypto: ec.Channel | None = None
        self._next_seq = False
        self._nonce = secrets.token_hex(4)
        self._seq = 0
        self._ack_due = False
        self._starting = False  # events read at start-up belong to an earlier host
        self._cycle: Bill | None = None
        self._cycle_open = self._escrowed = self._credited = self._decided = False
        self._escrow_since = self._last_hold = 0.0
        self._reenabled = False
        self.counters = {"bad_crc": 0, "timeouts": 0, "crypto_refused": 0, "unknown_events": 0}

    # -- the wire ---------------------------------------------------------------------------------
    def _feed(self, chunk: bytes) -> ef.Packet | ef.BadPacket | None:
        items = [i for i in self._parser.feed(chunk) if isinstance(i, ef.BadPacket) or i.address == self._address]
        good = [i for i in items if isinstance(i, ef.Packet)]
        return good[0] if good else (items[0] if items else None)

    def _exchange(self, data: bytes, seq: bool) -> bytes:
        """Send one packet (resent unchanged on silence or a garbled reply); the reply's DATA."""
        wire = ef.encode(data, seq, self._address)
        problem = "no answer"
        for _ in range(int(self.options["retries"])):
            self._link.discard_input()
            self._parser.reset()
            self._link.write(wire)
            reply = wait_reply(time.monotonic() + float(self.options["response_timeout"]), self._link, self._feed)
            if isinstance(reply, ef.Packet):
                return reply.data
            if reply is None:
                self.counters["timeouts"] += 1
                problem = "no answer"
            else:
                self.counters["bad_crc"] += 1
                problem = "bad CRC in reply"
        raise DeviceTimeoutError(f"{self.port}: SSP command 0x{data[0]:02X}: {problem} after "
                                 f"{self.options['retries']} tries")

    def _transact(self, command: bytes, plain: bool = False) -> bytes:
        """One command (encrypted once keys are set); the reply's data after F0 (OK)."""
        channel = None if plain else self._crypto
        data = channel.seal_command(command) if channel else command
        reply = self._exchange(data, self._next_seq)
        self._next_seq = not self._next_seq  # the unit has this flag's answer now, whatever it says
        if channel is not None:
            if reply[0] != ef.STEX:
                if reply[0] == ef.KEY_NOT_SET:
                    self._reinit = True  # the unit lost its key (power cut): negotiate again
                raise DeviceOperationError(f"{self.port}: plain reply {reply.hex()} to an encrypted command")
            try:
                reply = channel.open_reply(reply)
            except ec.CryptoError as exc:
                self.counters["crypto_refused"] += 1
                self._reinit = True  # counts no longer agree: a fresh key exchange resets them
                raise DeviceOperationError(f"{self.port}: encrypted reply refused: {exc}") from exc
        if not reply or reply[0] != ef.OK:
            code = reply[0] if reply else -1
            raise DeviceOperationError(f"{self.port}: command 0x{command[0]:02X} answered "
                                       f"'{ef.RESPONSES.get(code, hex(code))}'")
        return reply[1:]

    # -- set-up -----------------------------------------------------------------------------------
    def _initialise(self, first: bool) -> None:
        self._crypto = None
        try:
            reply = self._exchange(bytes((ef.SYNC,)), True)  # SYNC goes with the flag set; then flag 0
        except DeviceTimeoutError as exc:
            if not first:
                raise
            raise DeviceInitializationError(
                f"{self.port}: no SSP answer at {self.options['baudrate']} baud 8N2 from address {self._address}: "
                "check the cable, the port, the baud rate and the unit's SSP address") from exc
        if reply[:1] != bytes((ef.OK,)):
            raise DeviceOperationError(f"{self.port}: SYNC answered {reply.hex()}")
        self._next_seq = False
        if self.options["encrypted"]:
            self._negotiate_key()
        self._set_protocol()
        bills, firmware, protocol = parse_setup(self._transact(bytes((ef.SETUP_REQUEST,))))
        if not bills:
            raise DeviceInitializationError(f"{self.port}: the unit reports no channels with a value")
        self._bills = bills
        serial_no = int.from_bytes(self._transact(bytes((ef.SERIAL_NUMBER,)))[:4], "big")
        self._identity = Identity("essp", model="ITL note validator", serial=str(serial_no),
                                  firmware=f"{firmware} (protocol {protocol})")
        if self._ack_due and not first:
            self._transact(bytes((ef.EVENT_ACK,)))  # the batch handed over before the link was lost
        self._ack_due = False
        self._starting = first
        try:
            self._read_events()  # what the unit holds from before: at first start, an earlier host's
        finally:
            self._starting = False
        if self._ack_due:
            self._transact(bytes((ef.EVENT_ACK,)))
            self._ack_due = False
        self._send_acceptance()

    def _negotiate_key(self) -> None:
        generator, modulus = ec.dh_primes()
        self._transact(bytes((ef.SET_GENERATOR,)) + ef.le(generator), plain=True)
        self._transact(bytes((ef.SET_MODULUS,)) + ef.le(modulus), plain=True)
        secret = ec.random_exponent()
        reply = self._transact(bytes((ef.REQUEST_KEY_EXCHANGE,)) + ef.le(pow(generator, secret, modulus)),
                               plain=True)
        if len(reply) < 8:
            raise DeviceOperationError(f"{self.port}: key exchange reply of {len(reply)} bytes, expected 8")
        negotiated = pow(int.from_bytes(reply[:8], "little"), secret, modulus)
        self._crypto = ec.Channel(ec.session_key(self._fixed_key, negotiated), int(self.options["ecount_step"]))

    def _set_protocol(self) -> None:
        for version in range(int(self.options["host_protocol"]), 3, -1):
            try:
                self._transact(bytes((ef.HOST_PROTOCOL_VERSION, version)))
                return
            except DeviceOperationError:
                if self._reinit:
                    raise
        raise DeviceInitializationError(f"{self.port}: the unit accepts no host protocol version 4..6")

    def _send_acceptance(self) -> None:
        """Bill types are channels: their inhibit bits set (1 = accepted), then enable or disable."""
        mask = sum(1 << (ch - 1) for ch in self._types)
        self._transact(bytes((ef.SET_INHIBITS,)) + mask.to_bytes(2, "little"))
        self._transact(bytes((ef.ENABLE if self._types else ef.DISABLE,)))
        self._reenabled = False

    # -- polling ----------------------------------------------------------------------------------
    def _sleep(self, seconds: float) -> None:
        # While a bill travels to the cassette, poll faster: its credit reaches the journal sooner, which
        # narrows the window in which a crash leaves it uncertain; idle polling stays as configured.
        if self.online and self._cycle_open and self._decided:
            seconds = min(seconds, float(self.options["busy_poll_interval"]))
        super()._sleep(seconds)

    def _poll(self) -> None:
        if self._ack_due:  # our EVENT ACK did not get through: the next poll would hand us the same batch
            self._transact(bytes((ef.EVENT_ACK,)))
            self._ack_due = False
        if self._cycle_open and self._escrowed and not self._decided:
            if self._keep_in_escrow():  # a POLL now would accept the note the host has not decided on
                return
        self._read_events()

    def _keep_in_escrow(self) -> bool:
        """HOLD or REJECT as due; False once an unheld note must be back with the payer (polling is safe)."""
        now = time.monotonic()
        if now - self._escrow_since >= float(self.options["escrow_max_hold"]):
            log.warning("%s: host did not decide on the escrowed note in time; returning it", self.port)
            self._decided = True
            self._transact(bytes((ef.REJECT,)))
        elif self.options["auto_hold"]:
            if now - self._last_hold >= float(self.options["hold_interval"]):
                self._last_hold = now
                self._transact(bytes((ef.HOLD,)))
        elif now - self._last_hold >= float(self.options["unit_escrow_timeout"]):
            return False
        return True

    def _read_events(self) -> None:
        with_ack = self._crypto is not None
        events = self._transact(bytes((ef.POLL_WITH_ACK if with_ack else ef.POLL,)))
        self._ack_due = with_ack and bool(events.replace(b"\xe8", b""))
        pos = 0
        while pos < len(events):
            code = events[pos]
            if code not in EVENTS:
                self.counters["unknown_events"] += 1
                log.error("%s: unknown poll event 0x%02X in %s; the rest of the reply is skipped", self.port,
                          code, events.hex(" "))
                return
            size = EVENTS[code][1]
            self._event(code, events[pos + 1] if size else 0)
            pos += 1 + size
        if self._ack_due and not self._starting:
            self._transact(bytes((ef.EVENT_ACK,)))  # the host has them now; the unit may forget them
            self._ack_due = False

    def _event(self, code: int, channel: int) -> None:
        self._state = EVENTS[code][0]
        bill = self._bills.get(channel)
        owed = self._cycle_open and not self._credited
        if code == 0xEF and channel:
            if not (self._cycle_open and self._escrowed):
                self._cycle, self._cycle_open, self._escrowed, self._decided = bill, True, True, False
                self._credited = False
                self._escrow_since = self._last_hold = time.monotonic()
                self.emit(Escrow(bill or Bill(0, channel)))
        elif code == 0xEF and not self._cycle_open:
            self._cycle, self._cycle_open, self._escrowed, self._credited = None, True, False, False
        elif code == 0xEE:
            self._credit(bill, channel)
        elif code == 0xEC:
            if owed and self._escrowed:
                self.emit(Returned(self._cycle))
            else:
                self.emit(Rejected(self._reject_reason()))
            self._close_cycle()
        elif code == 0xEB:
            if owed:
                self._uncertain("stacked without a credit note", self._cycle)
            self._close_cycle()
        elif code in (0xEA, 0xE9):
            self.emit(Jammed("cassette" if code == 0xEA else "validator"))
            if owed:
                self._uncertain(f"{EVENTS[code][0]} with the note in the unit: neither credited nor returned",
                                self._cycle)
            self._close_cycle()
        elif code == 0xE2:
            self._uncertain("a note was cleared into the cashbox at power-up without a credit note", bill,
                            stacked=True)
            self._close_cycle()
        elif code == 0xE1:
            if owed:
                self.emit(Returned(self._cycle or bill))
            self._close_cycle()
        elif code == 0xF1 and not self._starting:
            log.warning("%s: the validator reset itself; re-initialising", self.port)
            self._reinit = True  # after the rest of this reply (a cleared note follows the reset event)
        elif code == 0xE8 and self._types and not self._reenabled and not self._starting:
            self._reenabled = True  # it disables itself after an escrow timeout; the host still wants notes
            self._queue("re-enable", self._send_acceptance)
        else:
            self._simple_event(code)

    def _simple_event(self, code: int) -> None:
        if code == 0xE6:
            self.emit(Cheated())
        elif code == 0xE7:
            self.emit(CassetteFull())
        elif code == 0xE3:
            self.emit(CassetteRemoved())
        elif code == 0xE4:
            self.emit(CassetteInserted())

    def _reject_reason(self) -> str:
        try:
            code = self._transact(bytes((ef.LAST_REJECT_CODE,)))[:1]
        except DeviceOperationError:
            return "rejected (reason unknown)"
        return REJECT_REASONS.get(code[0], f"code 0x{code[0]:02X}") if code else "rejected"

    def _credit(self, bill: Bill | None, channel: int) -> None:
        if self._starting:
            # The unit says the note is secured: with its STACK pending the journal credits it, else it is listed.
            self._uncertain("a credit note from before this driver started (kiosk restarted before it was "
                            "acknowledged?): it may already be credited — reconcile with the journal", bill,
                            stacked=True)
        elif self._credited:
            log.error("%s: a second credit note in one cycle ignored", self.port)
            return
        elif bill is None:
            self._uncertain(f"credit note on channel {channel} with no value", None)
        else:
            self._seq += 1
            self.emit(Stacked(bill, f"essp:{self._identity.serial}:{self._nonce}:{self._seq}"))
        self._cycle, self._cycle_open, self._credited = bill, True, True

    def _uncertain(self, detail: str, bill: Bill | None, stacked: bool = False) -> None:
        log.error("%s: %s", self.port, detail)
        self.emit(Uncertain(detail, bill, stacked=stacked))

    def _close_cycle(self) -> None:
        self._cycle, self._cycle_open, self._escrowed, self._credited, self._decided = None, False, False, False, False

    # -- host commands (run by the polling thread) ------------------------------------------------
    def _send_decision(self, decision: Decision) -> None:
        if decision == "hold":
            self._last_hold = time.monotonic()
            self._transact(bytes((ef.HOLD,)))
            return
        self._decided = True  # "stack": the next poll accepts the note
        if decision == "return":
            self._transact(bytes((ef.REJECT,)))

    def _shutdown(self) -> None:
        if self._ack_due:
            self._transact(bytes((ef.EVENT_ACK,)))
            self._ack_due = False
        self._transact(bytes((ef.DISABLE,)))

    def _status_extra(self) -> dict[str, object]:
        return {**super()._status_extra(), "encrypted": self._crypto is not None}
