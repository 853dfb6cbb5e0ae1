"""A ccTalk bill validator that speaks the real wire protocol on a pseudo-terminal.

It keeps the real event buffer (counter 0 after reset, 1..255 wrapping to 1, five newest events), escrow
with a timeout, inhibits and master inhibit; switches for the shared-line echo, for faults and for a poll
timeout. With poll_timeout set, the device takes bills only while the host reads its event buffer at least
that often (and not until the first read after power-up or reset), so a host that is away does not lose
events to payers' attempts: real units do this (Azkoyen's ccTalk validators stop accepting 1 s after the last
buffer read, "so that events are not lost if the machine cannot consult the validator"). Bills pushed at a
unit that is not accepting are simply not drawn in: no event.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from kiosk.drivers import cctalk_frame as cc
from kiosk.emulators.cassette import Cassette, CassetteFullError
from kiosk.emulators.pty_port import WireDevice

DEFAULT_BILLS_RUB = (10, 50, 100, 200, 500, 1000, 2000, 5000)

# A = 0 status codes (B)
MASTER_INHIBIT_ACTIVE, RETURNED, INVALID, INHIBITED = 0, 1, 2, 4
JAM_TRANSPORT, JAM_STACKER, STACKER_REMOVED, STACKER_INSERTED, STACKER_FULL = 6, 7, 11, 12, 14


class CctalkEmulator:
    """The device side of a ccTalk bill validator; control methods return a one-line outcome."""

    def __init__(self, bills_rub=DEFAULT_BILLS_RUB, cassette: Cassette | None = None, link: str | None = None,
                 address: int = cc.BILL_VALIDATOR, checksum: str = "simple", crc_placement: str = "lo_in_source",
                 step_seconds: float = 0.05, escrow_timeout: float = 10.0, serial: int = 12345678,
                 poll_timeout: float | None = None) -> None:
        self.lock = threading.RLock()
        self.codec = cc.Codec(checksum, crc_placement)
        self.table = {i + 1: rub * 100 for i, rub in enumerate(bills_rub)}  # types 1..16
        if len(self.table) > 16:
            raise ValueError("a ccTalk validator has at most 16 bill types")
        self.cassette = cassette or Cassette()
        self.address = address
        self.step_seconds, self.escrow_timeout = step_seconds, escrow_timeout
        self.serial = serial
        self.poll_timeout = poll_timeout  # None: accepts whether polled or not
        self._last_read: float | None = None  # monotonic time of the last event-buffer read since reset
        self.wire = WireDevice(self, self.lock, link)
        self._parser = cc.PacketParser(self.codec)
        self._counter = 0
        self._events: deque[tuple[int, int]] = deque(maxlen=5)  # newest first
        self._inhibit = 0  # bit = 1: type enabled
        self._master = 0
        self._mode = 0x03  # stacker + escrow in use
        self._escrow = 0  # bill type in escrow
        self._accepting = 0  # bill type on its way in
        self._stacking = False  # the escrowed bill is travelling to the cassette
        self._until = 0.0
        self._cassette_present = True
        self.stacked_total = 0

    # -- lifecycle --------------------------------------------------------------------------------
    @property
    def path(self) -> str:
        """The tty path a driver opens."""
        return self.wire.path

    @property
    def echo(self) -> bool:
        """Whether the host hears its own bytes (a shared data line)."""
        return self.wire.echo

    @echo.setter
    def echo(self, on: bool) -> None:
        self.wire.echo = on

    def start(self) -> CctalkEmulator:
        """Start answering on the pty."""
        self.wire.start()
        return self

    def stop(self) -> None:
        """Stop and remove the pty."""
        self.wire.stop()

    # -- controls ---------------------------------------------------------------------------------
    def add_event(self, a: int, b: int) -> None:
        """Record one event: the counter runs 1..255 and wraps to 1, never to 0."""
        with self.lock:
            self._counter = self._counter % 255 + 1
            self._events.appendleft((a, b))

    def insert(self, roubles: int) -> str:
        """A payer pushes a bill in."""
        with self.lock:
            types = [t for t, v in self.table.items() if v == roubles * 100]
            if not types:
                return f"error: no {roubles} RUB bill in the table"
            if self._escrow or self._accepting or self._stacking:
                return "error: busy (a bill is already in the validator)"
            bill_type = types[0]
            if not self.polled:
                return "ok not drawn in (not polled: acceptance stopped)"
            if not self._master:
                self.add_event(0, MASTER_INHIBIT_ACTIVE)
                return "ok refused (master inhibit)"
            if not self._inhibit >> (bill_type - 1) & 1:
                self.add_event(0, INHIBITED)
                return "ok rejected (inhibited)"
            if not self._cassette_present or self.cassette.full:
                self.add_event(0, STACKER_FULL if self._cassette_present else STACKER_REMOVED)
                return "ok refused (cassette)"
            self._accepting, self._until = bill_type, time.monotonic() + self.step_seconds
            return f"ok accepting {roubles} RUB"

    @property
    def polled(self) -> bool:
        """Whether the host has read the event buffer recently enough for the device to take bills."""
        if self.poll_timeout is None:
            return True
        return self._last_read is not None and time.monotonic() - self._last_read <= self.poll_timeout

    def counterfeit(self) -> str:
        """A fake bill is pushed in and rejected."""
        if not self.polled:
            return "ok not drawn in (not polled: acceptance stopped)"
        self.add_event(0, INVALID)
        return "ok rejected (invalid bill)"

    def jam(self, where: str = "validator") -> str:
        """A bill sticks (a bill in escrow stays stuck: neither stacked nor returned)."""
        with self.lock:
            self._escrow = self._accepting = 0
            self._stacking = False
            self.add_event(0, JAM_STACKER if where == "cassette" else JAM_TRANSPORT)
            return f"ok jammed ({where})"

    def cassette_out(self) -> str:
        """The stacker is pulled out."""
        with self.lock:
            self._cassette_present = False
            self.add_event(0, STACKER_REMOVED)
            return "ok cassette out"

    def cassette_in(self) -> str:
        """The stacker is put back."""
        with self.lock:
            self._cassette_present = True
            self.add_event(0, STACKER_INSERTED)
            return "ok cassette in"

    def empty_cassette(self) -> str:
        """Encashment: take everything out."""
        return f"ok emptied {sum(self.cassette.empty().values())} bills"

    def power_cycle(self) -> str:
        """Power lost and back: buffer cleared, counter 0, everything inhibited, an escrowed bill returned."""
        with self.lock:
            self._reset()
            return "ok power-cycled"

    def status(self) -> dict:
        """What the device is doing and what the cassette holds."""
        with self.lock:
            return {"protocol": "cctalk", "counter": self._counter, "escrow": self._escrow,
                    "stacking": self._stacking, "polled": self.polled,
                    "inhibit_mask": self._inhibit, "master": self._master,
                    "cassette_present": self._cassette_present,
                    "cassette": {str(k): n for k, n in sorted(self.cassette.counts().items())},
                    "bills": self.cassette.count, "total": self.cassette.total}

    # -- the wire ---------------------------------------------------------------------------------
    def receive(self, data: bytes) -> list[bytes]:
        """Packets from the host → replies."""
        replies = []
        for packet in self._parser.feed(data):
            if packet.destination not in (self.address, 0):  # 0 is broadcast
                continue
            header, reply = self._command(packet)
            replies.append(self.codec.encode(cc.Packet(packet.source or cc.HOST, self.address, header, reply)))
        return replies

    def tick(self) -> None:
        """Advance time-driven behaviour."""
        now = time.monotonic()
        if self._stacking:
            if now >= self._until:
                self._stacking = False
                if not self._stack():
                    self._escrow = 0
                    self.add_event(0, STACKER_FULL)
            return
        if self._accepting and now >= self._until:
            self._escrow, self._accepting = self._accepting, 0
            if self._mode & 0x02:
                self._until = now + self.escrow_timeout
                self.add_event(self._escrow, 1)
            else:
                self._stack()
        elif self._escrow and now >= self._until:
            self._escrow = 0
            self.add_event(0, RETURNED)

    def _stack(self) -> bool:
        try:
            self.cassette.add(self.table[self._escrow])  # durable before the credit event exists
        except CassetteFullError:
            return False
        self.stacked_total += 1
        self.add_event(self._escrow, 0)
        self._escrow = 0
        if self.cassette.full:
            self.add_event(0, STACKER_FULL)
        return True

    def _reset(self) -> None:
        if self._stacking:
            self._stack()  # past the point of no return: it lands in the cassette, but the event is gone
            self._events.clear()
        self._counter, self._inhibit, self._master, self._escrow, self._accepting = 0, 0, 0, 0, 0
        self._stacking = False
        self._events.clear()
        self._last_read = None

    def _command(self, packet: cc.Packet) -> tuple[int, bytes]:
        header, data, ack = packet.header, packet.data, (cc.REPLY, b"")
        self.tick()
        if header == cc.SIMPLE_POLL:
            return ack
        if header == cc.RESET:
            self._reset()
            return ack
        if header == cc.READ_BUFFERED_BILL_EVENTS:
            self._last_read = time.monotonic()
            flat = b"".join(bytes(pair) for pair in self._events).ljust(10, b"\x00")
            return cc.REPLY, bytes((self._counter,)) + flat
        if header == cc.ROUTE_BILL and len(data) == 1:
            if not self._escrow:
                return cc.REPLY, b"\xfe"  # escrow empty
            if self._stacking:
                return cc.REPLY, b"\xff"  # already on its way
            if data[0] == 1:
                if self.cassette.full or not self._cassette_present:
                    return cc.REPLY, b"\xff"
                self._stacking, self._until = True, time.monotonic() + self.step_seconds
                return ack
            if data[0] == 0:
                self._escrow = 0
                self.add_event(0, RETURNED)
                return ack
            if data[0] == 255:
                self._until = time.monotonic() + self.escrow_timeout
                return ack
        if header == cc.MODIFY_INHIBIT_STATUS and len(data) == 2:
            self._inhibit = data[0] | data[1] << 8
            return ack
        if header == cc.REQUEST_INHIBIT_STATUS:
            return cc.REPLY, bytes((self._inhibit & 0xFF, self._inhibit >> 8))
        if header == cc.MODIFY_MASTER_INHIBIT and len(data) == 1:
            self._master = data[0] & 1
            return ack
        if header == cc.REQUEST_MASTER_INHIBIT:
            return cc.REPLY, bytes((self._master,))
        if header == cc.MODIFY_BILL_OPERATING_MODE and len(data) == 1:
            self._mode = data[0]
            return ack
        if header == cc.REQUEST_BILL_OPERATING_MODE:
            return cc.REPLY, bytes((self._mode,))
        if header == cc.REQUEST_BILL_ID and len(data) == 1:
            kopecks = self.table.get(data[0])
            return cc.REPLY, (f"RU{kopecks // 100:04d}A" if kopecks else ".......").encode("ascii")
        if header == cc.REQUEST_COUNTRY_SCALING:
            return cc.REPLY, bytes((1, 0, 0)) if data == b"RU" else bytes(3)
        answers = {cc.MANUFACTURER_ID: b"KSK", cc.EQUIPMENT_CATEGORY: b"Bill Validator",
                   cc.PRODUCT_CODE: b"EMU-BV", cc.SOFTWARE_REVISION: b"EMU1.0",
                   cc.SERIAL_NUMBER: self.serial.to_bytes(3, "little"), cc.COMMS_REVISION: bytes((1, 4, 2))}
        if header in answers:
            return cc.REPLY, answers[header]
        return cc.NAK, b""
