"""ITL SSP framing: STX(0x7F) SEQ/ID LEN DATA… CRC_lo CRC_hi, with 0x7F byte stuffing after the STX.

SEQ/ID: bit 7 is the sequence flag, bits 0–6 the address (0 = note validator). The CRC (poly 0x8005, init
0xFFFF, MSB first, no final XOR — CRC-16/CMS) covers SEQ/ID, LEN and DATA. Every 0x7F after the leading STX,
CRC bytes included, is sent twice; a lone 0x7F starts a new packet.
"""

from __future__ import annotations

from dataclasses import dataclass

STX = 0x7F
SEQ_FLAG = 0x80
VALIDATOR_ADDRESS = 0x00
MAX_DATA = 255

# commands (host → slave)
RESET = 0x01
SET_INHIBITS = 0x02
SETUP_REQUEST = 0x05
HOST_PROTOCOL_VERSION = 0x06
POLL = 0x07
REJECT = 0x08
DISABLE = 0x09
ENABLE = 0x0A
SERIAL_NUMBER = 0x0C
CHANNEL_VALUES = 0x0E
SYNC = 0x11
LAST_REJECT_CODE = 0x17
HOLD = 0x18
SET_GENERATOR = 0x4A
SET_MODULUS = 0x4B
REQUEST_KEY_EXCHANGE = 0x4C
POLL_WITH_ACK = 0x56
EVENT_ACK = 0x57
STEX = 0x7E  # first DATA byte of an encrypted packet

# generic responses (first DATA byte from the slave)
OK = 0xF0
UNKNOWN_COMMAND = 0xF2
WRONG_PARAMETERS = 0xF3
PARAMETER_OUT_OF_RANGE = 0xF4
CANNOT_PROCESS = 0xF5
SOFTWARE_ERROR = 0xF6
FAIL = 0xF8
KEY_NOT_SET = 0xFA
RESPONSES = {OK: "OK", UNKNOWN_COMMAND: "command not known", WRONG_PARAMETERS: "wrong number of parameters",
             PARAMETER_OUT_OF_RANGE: "parameter out of range", CANNOT_PROCESS: "cannot be processed now",
             SOFTWARE_ERROR: "software error", FAIL: "fail", KEY_NOT_SET: "key not set"}


def crc16(data: bytes) -> int:
    """CRC-16/CMS: poly 0x8005, init 0xFFFF, not reflected, no final XOR (check value 0xAEE7)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


@dataclass(frozen=True, slots=True)
class Packet:
    """One checked packet: the sequence flag, the address and the DATA bytes."""

    seq: bool
    address: int
    data: bytes

    @property
    def code(self) -> int:
        """The command (host) or the generic response (slave)."""
        return self.data[0]


@dataclass(frozen=True, slots=True)
class BadPacket:
    """A packet whose CRC failed (unstuffed bytes after the STX)."""

    raw: bytes


def stuff(body: bytes) -> bytes:
    """Every 0x7F doubled."""
    return body.replace(b"\x7f", b"\x7f\x7f")


def encode(data: bytes, seq: bool, address: int = VALIDATOR_ADDRESS) -> bytes:
    """The whole packet on the wire, stuffed."""
    if not 1 <= len(data) <= MAX_DATA:
        raise ValueError(f"SSP DATA must be 1..{MAX_DATA} bytes, got {len(data)}")
    if not 0 <= address <= 0x7D:
        raise ValueError(f"SSP address must be 0..0x7D, got {address}")
    body = bytes(((SEQ_FLAG if seq else 0) | address, len(data))) + data
    crc = crc16(body)
    return bytes((STX,)) + stuff(body + bytes((crc & 0xFF, crc >> 8)))


class PacketParser:
    """Incremental parser that undoes the stuffing; feed() returns packets (and CRC failures) completed."""

    def __init__(self) -> None:
        self._body: bytearray | None = None  # None: waiting for an STX
        self._escape = False  # the last byte was a 0x7F inside a packet

    def reset(self) -> None:
        """Forget any partial packet."""
        self._body, self._escape = None, False

    def feed(self, chunk: bytes) -> list[Packet | BadPacket]:
        """Add bytes; return the packets completed, in order."""
        out: list[Packet | BadPacket] = []
        for byte in chunk:
            if self._body is None:
                if byte == STX:
                    self._body = bytearray()
                continue
            if self._escape:
                self._escape = False
                if byte != STX:
                    self._body = bytearray()  # the lone 0x7F was the STX of a new packet
            elif byte == STX:
                self._escape = True
                continue
            self._body.append(byte)
            body = self._body
            if len(body) >= 2 and len(body) == body[1] + 4:
                self._body = None
                if crc16(bytes(body[:-2])) == body[-2] | body[-1] << 8 and body[1]:
                    out.append(Packet(bool(body[0] & SEQ_FLAG), body[0] & 0x7F, bytes(body[2:-2])))
                else:
                    out.append(BadPacket(bytes(body)))
        return out


def le(value: int, size: int = 8) -> bytes:
    """value as size little-endian bytes (keys, counts and channel values are LE)."""
    return value.to_bytes(size, "little")
