"""An ITL NV9/NV10/NV200-like note validator that speaks (e)SSP on a pseudo-terminal.

It keeps the sequence flag (a repeated flag gets the last reply again, not a second execution), the DH key
exchange and AES packets with eCOUNT checked (a replayed or out-of-order packet is refused: no execution, no
answer), poll events (poll with ack repeats them until EVENT ACK), escrow with its 5 s timeout, inhibits, the
cassette state file (written before "credit note" is ever queued), and switches for what the manual leaves
open (eCOUNT step 1 or 2, encryption required or not) and for faults: jams, fraud, cassette out/full and power
cycles with the note where it was.
"""

from __future__ import annotations

import time

from kiosk.drivers import essp_frame as ef
from kiosk.drivers.essp_crypto import (
    DEFAULT_FIXED_KEY,
    Channel,
    CryptoError,
    is_prime,
    random_exponent,
    session_key,
)
from kiosk.emulators.cassette import Cassette
from kiosk.emulators.wire_emulator import WireEmulator

DEFAULT_BILLS_RUB = (10, 50, 100, 200, 500, 1000, 2000, 5000)
_KEY_EXCHANGE = (ef.SET_GENERATOR, ef.SET_MODULUS, ef.REQUEST_KEY_EXCHANGE)
READ, CREDIT, REJECTING, REJECTED, STACKING, STACKED = 0xEF, 0xEE, 0xED, 0xEC, 0xCC, 0xEB
SAFE_JAM, UNSAFE_JAM, DISABLED, FRAUD, STACKER_FULL = 0xEA, 0xE9, 0xE8, 0xE6, 0xE7
CLEARED_FROM_FRONT, CLEARED_INTO_CASHBOX, CASHBOX_REMOVED, CASHBOX_REPLACED, SLAVE_RESET = 0xE1, 0xE2, 0xE3, 0xE4, 0xF1
REJECT_NOT_RECOGNISED, REJECT_INHIBITED, REJECT_TIMEOUT = 0x03, 0x06, 0x0C  # last reject codes
REAL_VALUE_MULTIPLIER = 100  # channel values are whole roubles; × 100 gives kopecks


class EsspEmulator(WireEmulator):
    """The device side of an eSSP note validator on a pty; control methods return a one-line outcome."""

    def __init__(self, bills_rub=DEFAULT_BILLS_RUB, cassette: Cassette | None = None, link: str | None = None,
                 step_seconds: float = 0.05, escrow_timeout: float = 5.0, fixed_key: int = DEFAULT_FIXED_KEY,
                 require_encryption: bool = True, ecount_step: int = 1, serial: int = 0x00BC614E,
                 address: int = ef.VALIDATOR_ADDRESS, firmware: str = "0420") -> None:
        if len(bills_rub) > 16:
            raise ValueError(f"at most 16 channels, got {len(bills_rub)} bills")
        if ecount_step not in (1, 2):
            raise ValueError(f"ecount_step must be 1 or 2, got {ecount_step}")
        super().__init__(cassette, link, bits_per_byte=11)  # 8N2
        self.table = {ch: rub * 100 for ch, rub in enumerate(bills_rub, start=1)}  # channel → kopecks
        self.step_seconds, self.escrow_timeout = step_seconds, escrow_timeout
        self.fixed_key, self.require_encryption, self.ecount_step = fixed_key, require_encryption, ecount_step
        self.serial, self.address, self.firmware = serial, address, firmware
        self.refused = 0  # encrypted packets refused (bad eCRC or eCOUNT)
        self.repeated = 0  # packets answered from the last reply (same sequence flag)
        self._parser = ef.PacketParser()
        self._cassette_present = True
        self._power_up([])

    def _power_up(self, events: list[bytes]) -> None:
        self._last_seq: bool | None = None
        self._last_reply = b""
        self._generator = self._modulus = 0
        self._crypto: Channel | None = None
        self._protocol = 4
        self._enabled, self._inhibits = False, 0
        self._events: list[bytes] = [bytes((SLAVE_RESET,)), *events]
        self._batch: bytes | None = None  # poll with ack: events delivered and not yet acknowledged
        self._note, self._channel, self._until = "", 0, 0.0
        self._escrow_reported = False
        self._last_reject = 0
        self._reset_pending = False

    # -- controls ---------------------------------------------------------------------------------
    def insert(self, roubles: int, counterfeit: bool = False) -> str:
        """A payer pushes a note in."""
        with self.lock:
            channels = [ch for ch, v in self.table.items() if v == roubles * 100]
            if not channels and not counterfeit:
                return f"error: no {roubles} RUB note in the channel table"
            if not self._enabled:
                return "ok refused (validator disabled)"
            if self._note:
                return f"error: busy ({self._note})"
            self._channel = 0 if counterfeit else channels[0]
            self._go("reading")
            self._events.append(bytes((READ, 0)))
            return f"ok accepting {roubles} RUB"

    def counterfeit(self) -> str:
        """A fake note is pushed in and rejected."""
        return self.insert(100, counterfeit=True)

    def fraud(self) -> str:
        """A fraud attempt (a note on a string) on the note in the head."""
        with self.lock:
            self._events.append(bytes((FRAUD, self._channel)))
            return "ok fraud attempt"

    def jam(self, where: str = "validator") -> str:
        """The note sticks: unsafe in the head, safe once past retrieval on its way to the cashbox."""
        with self.lock:
            safe = self._note in ("stacking", "credited") or where == "cassette"
            self._events.append(bytes((SAFE_JAM if safe else UNSAFE_JAM,)))
            self._note = "jam_safe" if safe else "jam_unsafe"
            return f"ok jammed ({'safe' if safe else 'unsafe'})"

    def cassette_out(self) -> str:
        """The cashbox is pulled out."""
        with self.lock:
            self._cassette_present = False
            self._events.append(bytes((CASHBOX_REMOVED,)))
            return "ok cassette out"

    def cassette_in(self) -> str:
        """The cashbox is put back."""
        with self.lock:
            self._cassette_present = True
            self._events.append(bytes((CASHBOX_REPLACED,)))
            return "ok cassette in"

    def empty_cassette(self) -> str:
        """Encashment: take everything out."""
        return f"ok emptied {sum(self.cassette.empty().values())} bills"

    def power_cycle(self) -> str:
        """Power lost and back: keys, inhibits and events gone; a note in the unit is cleared at power-up."""
        with self.lock:
            cleared: list[bytes] = []
            if self._note in ("stacking", "jam_safe"):
                landed = self._into_cassette()
                cleared.append(bytes((CLEARED_INTO_CASHBOX if landed else CLEARED_FROM_FRONT, self._channel)))
            elif self._credit_unseen():
                cleared.append(bytes((CLEARED_INTO_CASHBOX, self._channel)))  # landed; its credit not yet seen
            elif self._note and self._note != "credited":
                cleared.append(bytes((CLEARED_FROM_FRONT, self._channel)))
            self._power_up(cleared)
            return "ok power-cycled"

    def _credit_unseen(self) -> bool:
        pending = b"".join(self._events) + (self._batch or b"")
        return any(pending[i] == CREDIT for i in range(len(pending)))

    def status(self) -> dict:
        """What the device is doing and what the cassette holds."""
        with self.lock:
            return {"protocol": "essp", "note": self._note or "none", "enabled": self._enabled,
                    "inhibits": self._inhibits, "encrypted": self._crypto is not None,
                    "ecount": self._crypto.count if self._crypto else None, "refused": self.refused,
                    "repeated": self.repeated,
                    "queued_events": len(self._events), "cassette_present": self._cassette_present,
                    "cassette": {str(k): n for k, n in sorted(self.cassette.counts().items())},
                    "bills": self.cassette.count, "total": self.cassette.total}

    # -- the wire ---------------------------------------------------------------------------------
    def receive(self, data: bytes) -> list[bytes]:
        """Packets from the host → replies (a garbled or refused packet gets no answer)."""
        replies = []
        for packet in self._parser.feed(data):
            if isinstance(packet, ef.BadPacket) or packet.address != self.address:
                continue
            if packet.code == ef.SYNC:
                self._last_seq, self._last_reply = packet.seq, ef.encode(bytes((ef.OK,)), packet.seq, self.address)
                replies.append(self._last_reply)
                continue
            if packet.seq == self._last_seq and self._last_reply:
                self.repeated += 1
                replies.append(self._last_reply)  # the host did not hear us: same answer, not a second execution
                continue
            reply = self._execute(packet.data)
            if reply is None:
                continue
            self._last_seq, self._last_reply = packet.seq, ef.encode(reply, packet.seq, self.address)
            replies.append(self._last_reply)
            if self._reset_pending:
                self._power_up([])
        return replies

    def _execute(self, data: bytes) -> bytes | None:
        if data[0] != ef.STEX:
            if data[0] in _KEY_EXCHANGE or not self.require_encryption:
                return self._dispatch(data, encrypted=False)
            return bytes((ef.KEY_NOT_SET,))
        if self._crypto is None:
            return bytes((ef.KEY_NOT_SET,))
        try:
            inner = self._crypto.open_command(data)
        except CryptoError:
            self.refused += 1
            return None
        if inner and inner[0] in _KEY_EXCHANGE:
            return self._crypto.seal_reply(bytes((ef.CANNOT_PROCESS,)))
        return self._crypto.seal_reply(self._dispatch(inner, encrypted=True))

    def _dispatch(self, command: bytes, encrypted: bool) -> bytes:
        self.tick()
        code, args = command[0], command[1:]
        ok = bytes((ef.OK,))
        if code in (ef.SET_GENERATOR, ef.SET_MODULUS):
            if len(args) != 8:
                return bytes((ef.WRONG_PARAMETERS,))
            value = int.from_bytes(args, "little")
            if not is_prime(value):
                return bytes((ef.PARAMETER_OUT_OF_RANGE,))
            if code == ef.SET_GENERATOR:
                self._generator = value
            else:
                self._modulus = value
            return ok
        if code == ef.REQUEST_KEY_EXCHANGE:
            if len(args) != 8:
                return bytes((ef.WRONG_PARAMETERS,))
            if not (self._generator and self._modulus):
                return bytes((ef.CANNOT_PROCESS,))
            secret = random_exponent()
            negotiated = pow(int.from_bytes(args, "little"), secret, self._modulus)
            self._crypto = Channel(session_key(self.fixed_key, negotiated), self.ecount_step)
            return ok + ef.le(pow(self._generator, secret, self._modulus))
        if code == ef.RESET:
            self._reset_pending = True
            return ok
        if code == ef.HOST_PROTOCOL_VERSION:
            if len(args) != 1:
                return bytes((ef.WRONG_PARAMETERS,))
            if not 4 <= args[0] <= 8:
                return bytes((ef.FAIL,))
            self._protocol = args[0]
            return ok
        if code == ef.SETUP_REQUEST:
            return ok + self._setup()
        if code == ef.SET_INHIBITS:
            if not 2 <= len(args) <= 4:
                return bytes((ef.WRONG_PARAMETERS,))
            self._inhibits = int.from_bytes(args, "little")
            return ok
        if code in (ef.ENABLE, ef.DISABLE):
            self._enabled = code == ef.ENABLE
            return ok
        if code == ef.POLL or (code == ef.POLL_WITH_ACK and encrypted):
            return ok + self._poll(with_ack=code == ef.POLL_WITH_ACK)
        if code == ef.EVENT_ACK and encrypted:
            self._batch = None
            return ok
        if code in (ef.REJECT, ef.HOLD):
            if self._note != "escrow":
                return bytes((ef.CANNOT_PROCESS,))
            if code == ef.HOLD:
                self._until = time.monotonic() + self.escrow_timeout
            else:
                self._reject(0x08)
            return ok
        if code == ef.LAST_REJECT_CODE:
            return ok + bytes((self._last_reject,))
        if code == ef.SERIAL_NUMBER:
            return ok + self.serial.to_bytes(4, "big")
        if code == ef.CHANNEL_VALUES:
            return ok + bytes((len(self.table),)) + bytes(self._one_byte(v) for v in self.table.values())
        return bytes((ef.UNKNOWN_COMMAND,))

    def _setup(self) -> bytes:
        n = len(self.table)
        out = bytearray(b"\x00" + self.firmware.encode("ascii")[:4].ljust(4, b"0") + b"RUB")
        out += (1).to_bytes(3, "big") + bytes((n,)) + bytes(self._one_byte(v) for v in self.table.values())
        out += bytes((2,) * n) + REAL_VALUE_MULTIPLIER.to_bytes(3, "big") + bytes((self._protocol,))
        if self._protocol >= 6:
            out += b"RUB" * n + b"".join(ef.le(v // 100, 4) for v in self.table.values())
        return bytes(out)

    @staticmethod
    def _one_byte(kopecks: int) -> int:
        # One-byte channel values cannot hold 500 RUB and up; protocol 6 adds 4-byte values for those.
        return kopecks // 100 if kopecks // 100 <= 255 else 0

    def _poll(self, with_ack: bool) -> bytes:
        if self._note == "escrow" and self._escrow_reported:
            self._go("stacking")  # the next poll after the escrow report accepts the note
            self._events.append(bytes((STACKING,)))
        if with_ack:
            if self._batch is None:
                self._batch, self._events = b"".join(self._events) or None, []
            events = self._batch or b""
        else:
            events, self._events = b"".join(self._events), []
        if self._note == "escrow" and bytes((READ, self._channel)) in events:
            self._escrow_reported = True
        return events + (b"" if self._enabled else bytes((DISABLED,)))

    # -- behaviour --------------------------------------------------------------------------------
    def _go(self, note: str) -> None:
        self._note = note
        self._until = time.monotonic() + (self.escrow_timeout if note == "escrow" else self.step_seconds)

    def _reject(self, code: int) -> None:
        self._last_reject = code
        self._events.append(bytes((REJECTING,)))
        self._go("rejecting")

    def _into_cassette(self) -> bool:
        return self.land(self.table.get(self._channel))

    def tick(self) -> None:
        """Advance time-driven behaviour."""
        if not self._note or time.monotonic() < self._until:
            return
        note = self._note
        if note == "reading":
            if not self._channel:
                self._reject(REJECT_NOT_RECOGNISED)
            elif not self._inhibits >> (self._channel - 1) & 1 or not self._cassette_present:
                self._reject(REJECT_INHIBITED)
            else:
                self._go("escrow")
                self._escrow_reported = False
                self._events.append(bytes((READ, self._channel)))
        elif note == "escrow":
            self._enabled = False  # no decision within the timeout: the note goes back, the unit disables
            self._reject(REJECT_TIMEOUT)
        elif note == "rejecting":
            self._events.append(bytes((REJECTED,)))
            self._note, self._channel = "", 0
        elif note == "stacking":
            # The cassette file is written before "credit note" is ever queued: it is the authority.
            if self._into_cassette():
                self._events += [bytes((CREDIT, self._channel)), bytes((STACKING,))]
                self._go("credited")
            else:
                self._events += [bytes((STACKER_FULL,)), bytes((CLEARED_FROM_FRONT, self._channel))]
                self._note, self._channel = "", 0
        elif note == "credited":
            self._events.append(bytes((STACKED,)))
            if self.cassette.full:
                self._events.append(bytes((STACKER_FULL,)))
            self._note, self._channel = "", 0
