"""JCM ID003 framing: SYNC(0xFC) LNG CMD DATA… CRC16/KERMIT (low byte first), LNG = the whole frame's length.

The same code byte means different things by direction (0x11 = STATUS REQUEST from the host, "idling" from the
validator; 0x40 = RESET / "power up"), so this layer only frames bytes; the driver and the emulator give them
meaning.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.drivers.ccnet_frame import crc16_kermit  # the same CRC as CCNET (check value 0x2189)

SYNC = 0xFC
MIN_FRAME = 5  # SYNC LNG CMD CRC CRC
MAX_FRAME = 250

# host → validator
STATUS_REQUEST = 0x11
RESET = 0x40
STACK_1 = 0x41
STACK_2 = 0x42
RETURN = 0x43
HOLD = 0x44
WAIT = 0x45
ACK = 0x50  # both directions
SET_DENOMINATION = 0xC0  # 2 bytes, bit = 1 inhibits escrow code 0x61 + bit
SET_SECURITY = 0xC1
SET_COMMUNICATION_MODE = 0xC2
SET_INHIBIT = 0xC3  # 00 accept, 01 inhibit all
SET_DIRECTION = 0xC4
SET_OPTIONAL_FUNCTION = 0xC5
SETTINGS = (SET_DENOMINATION, SET_SECURITY, SET_COMMUNICATION_MODE, SET_INHIBIT, SET_DIRECTION,
            SET_OPTIONAL_FUNCTION)
GET_VERSION = 0x88
GET_BOOT_VERSION = 0x89
GET_CURRENCY_ASSIGNMENT = 0x8A

# validator → host
IDLING = 0x11
ACCEPTING = 0x12
ESCROW = 0x13
STACKING = 0x14
VEND_VALID = 0x15
STACKED = 0x16
REJECTING = 0x17
RETURNING = 0x18
HOLDING = 0x19
DISABLED = 0x1A
INITIALIZING = 0x1B
POWER_UP = 0x40
POWER_UP_BILL_IN_ACCEPTOR = 0x41
POWER_UP_BILL_IN_STACKER = 0x42
STACKER_FULL = 0x43
STACKER_OPEN = 0x44
ACCEPTOR_JAM = 0x45
STACKER_JAM = 0x46
PAUSE = 0x47
CHEATED = 0x48
FAILURE = 0x49
COMMUNICATION_ERROR = 0x4A
INVALID_COMMAND = 0x4B

FIRST_ESCROW_CODE = 0x61  # bill-table position 1; 0x61..0x68 for positions 1..8
RUB_COUNTRY = 0x27  # JCM's country code for RUB (one source)


@dataclass(frozen=True, slots=True)
class Frame:
    """One checked frame: its code (command or status) and data."""

    code: int
    data: bytes = b""


@dataclass(frozen=True, slots=True)
class BadFrame:
    """Bytes that looked like a frame but failed the CRC."""

    raw: bytes


def encode(code: int, data: bytes = b"") -> bytes:
    """The whole frame for one code and its data."""
    length = len(data) + MIN_FRAME
    if length > MAX_FRAME:
        raise ValueError(f"ID003 data must be at most {MAX_FRAME - MIN_FRAME} bytes, got {len(data)}")
    body = bytes((SYNC, length, code)) + data
    crc = crc16_kermit(body)
    return body + bytes((crc & 0xFF, crc >> 8))


def _valid(raw: bytes | bytearray) -> bool:
    return crc16_kermit(bytes(raw[:-2])) == raw[-2] | (raw[-1] << 8)


class FrameParser:
    """Incremental parser: feed() any chunk, get the frames completed so far (and CRC failures).

    Noise before a SYNC is skipped. A candidate whose CRC fails is reported and the search resumes one byte
    later; a candidate still short of bytes is dropped when a complete valid frame already follows its SYNC,
    so a false 0xFC in noise never swallows the real frame behind it.
    """

    def __init__(self) -> None:
        self._buf = bytearray()

    def reset(self) -> None:
        """Forget any partial frame."""
        self._buf.clear()

    def feed(self, chunk: bytes) -> list[Frame | BadFrame]:
        """Add bytes; return complete frames and CRC failures in arrival order."""
        buf = self._buf
        buf += chunk
        out: list[Frame | BadFrame] = []
        while True:
            start = buf.find(SYNC)
            if start < 0:
                buf.clear()
                return out
            del buf[:start]
            if len(buf) < 2:
                return out
            length = buf[1]
            if not MIN_FRAME <= length <= MAX_FRAME:
                del buf[0]
                continue
            if len(buf) < length:
                later = self._valid_frame_after_start()
                if later < 0:
                    return out
                del buf[:later]
                continue
            raw = bytes(buf[:length])
            if _valid(raw):
                out.append(Frame(raw[2], raw[3:-2]))
                del buf[:length]
            else:
                out.append(BadFrame(raw))
                del buf[0]

    def _valid_frame_after_start(self) -> int:
        buf = self._buf
        pos = buf.find(SYNC, 1)
        while 0 <= pos <= len(buf) - MIN_FRAME:
            length = buf[pos + 1]
            if MIN_FRAME <= length <= len(buf) - pos and _valid(buf[pos:pos + length]):
                return pos
            pos = buf.find(SYNC, pos + 1)
        return -1


def denomination_mask(inhibited_codes: set[int]) -> bytes:
    """The two SET_DENOMINATION bytes: bit i (low byte first) = 1 inhibits escrow code 0x61 + i."""
    value = sum(1 << (code - FIRST_ESCROW_CODE) for code in inhibited_codes)
    return value.to_bytes(2, "little")


def inhibited_codes(mask: bytes) -> set[int]:
    """The escrow codes a SET_DENOMINATION mask inhibits."""
    value = int.from_bytes(mask[:2], "little")
    return {FIRST_ESCROW_CODE + i for i in range(16) if value >> i & 1}


@dataclass(frozen=True, slots=True)
class CurrencyRecord:
    """One record of the currency assignment table: escrow code, country code, mantissa × 10^exponent."""

    escrow_code: int
    country: int
    mantissa: int
    exponent: int

    @property
    def units(self) -> int:
        """The face value in whole currency units."""
        return self.mantissa * 10**self.exponent


def parse_currency_table(data: bytes) -> list[CurrencyRecord]:
    """4-byte records → entries; records with mantissa 0 (empty slots) are skipped."""
    records = []
    for pos in range(0, len(data) - len(data) % 4, 4):
        code, country, mantissa, exponent = data[pos:pos + 4]
        if mantissa:
            records.append(CurrencyRecord(code, country, mantissa, exponent))
    return records


def encode_currency_table(records: list[CurrencyRecord]) -> bytes:
    """Entries → the 0x8A reply data."""
    return b"".join(bytes((r.escrow_code, r.country, r.mantissa, r.exponent)) for r in records)
