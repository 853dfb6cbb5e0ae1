"""ccTalk packets: [destination] [length] [source] [header] [data…] [checksum], simple or CRC-16 checked.

CRC-16 packets carry no source address: CRC-16/XMODEM over destination, length, header and data, its low
byte in the source slot and its high byte in the checksum slot ("lo_in_source", the documented placement);
"hi_in_source" is the opposite placement seen in one library. ccTalk has no SYNC byte: a packet is found by
its length and check, and bytes left waiting longer than the inter-byte gap are discarded as a broken packet.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

HOST = 1
COIN_ACCEPTOR = 2
HOPPER = 3
BILL_VALIDATOR = 40

# headers
REPLY = 0
RESET = 1
COMMS_REVISION = 4
NAK = 5
BUSY = 6
ROUTE_BILL = 154
REQUEST_COUNTRY_SCALING = 156
REQUEST_BILL_ID = 157
READ_BUFFERED_BILL_EVENTS = 159
MODIFY_BILL_OPERATING_MODE = 153
REQUEST_BILL_OPERATING_MODE = 152
REQUEST_MASTER_INHIBIT = 227
MODIFY_MASTER_INHIBIT = 228
REQUEST_INHIBIT_STATUS = 230
MODIFY_INHIBIT_STATUS = 231
SOFTWARE_REVISION = 241
SERIAL_NUMBER = 242
PRODUCT_CODE = 244
EQUIPMENT_CATEGORY = 245
MANUFACTURER_ID = 246
SIMPLE_POLL = 254

CHECKSUMS = ("simple", "crc16")
CRC_PLACEMENTS = ("lo_in_source", "hi_in_source")
INTER_BYTE_GAP = 0.05  # the spec allows 10 ms between bytes; USB adapters and ptys need headroom


def checksum8(data: bytes) -> int:
    """The byte that makes the whole packet sum to 0 modulo 256."""
    return -sum(data) & 0xFF


def crc16_xmodem(data: bytes) -> int:
    """CRC-16/XMODEM: poly 0x1021, init 0, MSB first, no final XOR (check value of '123456789' is 0x31C3)."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


@dataclass(frozen=True, slots=True)
class Packet:
    """One checked packet; source is None for CRC-16 packets, which do not carry it."""

    destination: int
    source: int | None
    header: int
    data: bytes = b""


class Codec:
    """Encodes and checks packets in one checksum mode."""

    def __init__(self, checksum: str = "simple", crc_placement: str = "lo_in_source") -> None:
        if checksum not in CHECKSUMS:
            raise ValueError(f"ccTalk checksum must be one of {CHECKSUMS}, got {checksum!r}")
        if crc_placement not in CRC_PLACEMENTS:
            raise ValueError(f"ccTalk crc_placement must be one of {CRC_PLACEMENTS}, got {crc_placement!r}")
        self.checksum, self.crc_placement = checksum, crc_placement

    def encode(self, packet: Packet) -> bytes:
        """The packet's bytes on the wire."""
        if len(packet.data) > 252:
            raise ValueError(f"ccTalk data is at most 252 bytes, got {len(packet.data)}")
        dest, length = packet.destination, len(packet.data)
        if self.checksum == "simple":
            body = bytes((dest, length, packet.source or 0, packet.header)) + packet.data
            return body + bytes((checksum8(body),))
        crc = crc16_xmodem(bytes((dest, length, packet.header)) + packet.data)
        lo, hi = crc & 0xFF, crc >> 8
        first, last = (lo, hi) if self.crc_placement == "lo_in_source" else (hi, lo)
        return bytes((dest, length, first, packet.header)) + packet.data + bytes((last,))

    def decode(self, raw: bytes) -> Packet | None:
        """The packet in exactly these bytes, or None if the check fails."""
        if len(raw) < 5 or len(raw) != raw[1] + 5:
            return None
        if self.checksum == "simple":
            return Packet(raw[0], raw[2], raw[3], raw[4:-1]) if sum(raw) & 0xFF == 0 else None
        want = crc16_xmodem(raw[0:2] + raw[3:-1])
        got = raw[2] | raw[-1] << 8 if self.crc_placement == "lo_in_source" else raw[-1] | raw[2] << 8
        return Packet(raw[0], None, raw[3], raw[4:-1]) if want == got else None


class PacketParser:
    """Incremental: feed() chunks, get complete checked packets; garbage is skipped a byte at a time."""

    def __init__(self, codec: Codec, gap: float = INTER_BYTE_GAP) -> None:
        self.codec, self.gap = codec, gap
        self._buf = bytearray()
        self._last = 0.0
        self.discarded = 0

    @property
    def pending(self) -> int:
        """Bytes held while waiting for the rest of a packet."""
        return len(self._buf)

    def reset(self) -> None:
        """Forget any partial packet."""
        self.discarded += len(self._buf)
        self._buf.clear()

    def feed(self, chunk: bytes, now: float | None = None) -> list[Packet]:
        """Add bytes; return the packets completed so far."""
        now = time.monotonic() if now is None else now
        if self._buf and now - self._last > self.gap:
            self.reset()  # the rest of that packet is never coming: bytes of one packet travel together
        self._last = now
        self._buf += chunk
        out: list[Packet] = []
        buf = self._buf
        while len(buf) >= 2:
            size = buf[1] + 5
            if len(buf) < size:
                break  # need more bytes
            packet = self.codec.decode(bytes(buf[:size]))
            if packet is None:
                del buf[0]
                self.discarded += 1
                continue
            out.append(packet)
            del buf[:size]
        return out
