"""CCNET framing: SYNC ADR LNG payload CRC16/KERMIT (low byte first), and an incremental parser."""

from __future__ import annotations

from dataclasses import dataclass

SYNC = 0x02
MIN_FRAME = 6  # SYNC ADR LNG CMD CRC CRC
MAX_FRAME = 250  # longer frames (LNG=0, firmware download) are not supported

ADDR_BILL_TO_BILL = 0x01
ADDR_COIN_CHANGER = 0x02
ADDR_BILL_VALIDATOR = 0x03
ADDR_CARD_READER = 0x04

# host → device commands
ACK = 0x00
NAK = 0xFF
RESET = 0x30
GET_STATUS = 0x31
SET_SECURITY = 0x32
POLL = 0x33
ENABLE_BILL_TYPES = 0x34
STACK = 0x35
RETURN = 0x36
IDENTIFICATION = 0x37
HOLD = 0x38
GET_BILL_TABLE = 0x41

# device → host: in the CMD position 0x30 means ILLEGAL COMMAND (the same byte is RESET from the host)
ILLEGAL_COMMAND = 0x30


def crc16_kermit(data: bytes | bytearray) -> int:
    """CRC-16/KERMIT: reflected poly 0x8408, init 0, no final XOR (check value of '123456789' is 0x2189)."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc


@dataclass(frozen=True, slots=True)
class Frame:
    """One checked frame: who it is for and what lies between LNG and the CRC (command or state + data)."""

    address: int
    payload: bytes

    @property
    def code(self) -> int:
        """The command (host → device) or state/reply code (device → host)."""
        return self.payload[0]

    @property
    def data(self) -> bytes:
        """The bytes after the code."""
        return self.payload[1:]


@dataclass(frozen=True, slots=True)
class BadFrame:
    """Bytes that looked like a frame but failed the CRC: the receiver should NAK."""

    raw: bytes


def encode(payload: bytes, address: int = ADDR_BILL_VALIDATOR) -> bytes:
    """Build a whole frame around payload (a command or state byte followed by its data)."""
    length = len(payload) + 5
    if not payload or length > MAX_FRAME:
        raise ValueError(f"CCNET payload must be 1..{MAX_FRAME - 5} bytes, got {len(payload)}")
    body = bytes((SYNC, address, length)) + payload
    crc = crc16_kermit(body)
    return body + bytes((crc & 0xFF, crc >> 8))


def command(code: int, data: bytes = b"", address: int = ADDR_BILL_VALIDATOR) -> bytes:
    """Build a host command frame."""
    return encode(bytes((code,)) + data, address)


class FrameParser:
    """Incremental parser: feed() any chunk of bytes, get back the frames completed so far.

    Noise before a SYNC is skipped; a candidate that fails the CRC is reported as BadFrame and the search
    resumes one byte later, and a candidate still waiting for bytes is abandoned as soon as a complete valid
    frame appears after its SYNC, so a false SYNC inside noise never swallows a real frame behind it.
    """

    def __init__(self) -> None:
        self._buf = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held while waiting for the rest of a frame."""
        return len(self._buf)

    def reset(self) -> None:
        """Forget any partial frame (a new transaction starts)."""
        self._buf.clear()

    def feed(self, chunk: bytes) -> list[Frame | BadFrame]:
        """Add bytes; return complete frames (and CRC failures) in arrival order."""
        self._buf += chunk
        out: list[Frame | BadFrame] = []
        buf = self._buf
        while buf:
            start = buf.find(SYNC)
            if start < 0:
                buf.clear()
                break
            if start:
                del buf[:start]
            if len(buf) < 3:
                break  # need more bytes to know the length
            length = buf[2]
            if length < MIN_FRAME or length > MAX_FRAME:
                del buf[0]  # not a frame start; LNG=0 (extended length) is not supported either
                continue
            if len(buf) < length:
                later = self._complete_frame_after_start()
                if later < 0:
                    break  # need more bytes
                # A false SYNC in noise claimed more bytes than came; a whole valid frame follows it.
                del buf[:later]
                continue
            raw = bytes(buf[:length])
            if crc16_kermit(raw[:-2]) == raw[-2] | (raw[-1] << 8):
                out.append(Frame(raw[1], raw[3:-2]))
                del buf[:length]
            else:
                out.append(BadFrame(raw))
                del buf[0]
        return out

    def _complete_frame_after_start(self) -> int:
        buf = self._buf
        pos = buf.find(SYNC, 1)
        while pos >= 0 and len(buf) - pos >= MIN_FRAME:
            length = buf[pos + 2]
            if MIN_FRAME <= length <= len(buf) - pos:
                raw = buf[pos:pos + length]
                if crc16_kermit(raw[:-2]) == raw[-2] | (raw[-1] << 8):
                    return pos
            pos = buf.find(SYNC, pos + 1)
        return -1
