"""Shtrih-M framing: STX LEN CMD(1 or 2 bytes) DATA LRC, where LRC is the XOR of LEN..DATA.

Host frames carry CMD, a 4-byte password (except device type FC) and data; device frames carry CMD, an error
byte and data. Single control bytes (ENQ, ACK, NAK) travel between frames.
"""

from __future__ import annotations

from dataclasses import dataclass

STX = 0x02
ENQ = 0x05
ACK = 0x06
NAK = 0x15

FN_PREFIX = 0xFF  # FN commands are two bytes: FF then the sub-command
MAX_BODY = 255  # LEN is one byte

# Commands (two-byte FN commands as 0xFFxx)
SHORT_STATUS = 0x10
FULL_STATUS = 0x11
PRINT_LINE = 0x17
CUT = 0x25
Z_REPORT = 0x41
CANCEL_RECEIPT = 0x88
OPEN_RECEIPT = 0x8D
CONTINUE_PRINTING = 0xB0
OPEN_SHIFT = 0xE0
DEVICE_TYPE = 0xFC
FN_STATUS = 0xFF01
FN_VALIDITY = 0xFF03
FN_FIND_DOCUMENT = 0xFF0A
FN_RECEIPT_TLV = 0xFF0C
FN_SHIFT_PARAMS = 0xFF40
FN_CLOSE_RECEIPT = 0xFF45
FN_OPERATION = 0xFF46
FN_ITEM_TLV = 0xFF4D


def lrc(body: bytes | bytearray) -> int:
    """XOR of every byte (LEN through the last data byte)."""
    value = 0
    for byte in body:
        value ^= byte
    return value


def command_bytes(code: int) -> bytes:
    """CMD as it goes on the wire: one byte, or FF and the sub-command for FN commands."""
    if 0 <= code <= 0xFE:
        return bytes((code,))
    if FN_PREFIX << 8 <= code <= 0xFFFF:
        return bytes((FN_PREFIX, code & 0xFF))
    raise ValueError(f"not a Shtrih-M command: 0x{code:X}")


def encode(payload: bytes) -> bytes:
    """Wrap CMD+DATA (or CMD+ERR+DATA) in STX LEN … LRC."""
    if not payload or len(payload) > MAX_BODY:
        raise ValueError(f"Shtrih-M frame body must be 1..{MAX_BODY} bytes, got {len(payload)}")
    body = bytes((len(payload),)) + payload
    return bytes((STX,)) + body + bytes((lrc(body),))


def request(code: int, password: int | None, data: bytes = b"") -> bytes:
    """A host command frame; password None for the commands that take none (FC device type)."""
    secret = b"" if password is None else password.to_bytes(4, "little")
    return encode(command_bytes(code) + secret + data)


def reply(code: int, error: int, data: bytes = b"") -> bytes:
    """A device answer frame (ERR ≠ 0 carries no data)."""
    return encode(command_bytes(code) + bytes((error,)) + (data if error == 0 else b""))


def split_command(payload: bytes) -> tuple[int, bytes]:
    """(command, rest) from a frame body; FF xx is one two-byte command."""
    if payload[0] == FN_PREFIX:
        if len(payload) < 2:
            raise ValueError("FN command without its sub-command byte")
        return (FN_PREFIX << 8) | payload[1], payload[2:]
    return payload[0], payload[1:]


@dataclass(frozen=True, slots=True)
class Frame:
    """A checked frame's body: what lies between LEN and LRC."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class BadFrame:
    """Bytes shaped like a frame whose LRC is wrong: the receiver answers NAK."""

    raw: bytes


@dataclass(frozen=True, slots=True)
class Answer:
    """A device answer: which command, its error code, and the data after the error byte."""

    command: int
    error: int
    data: bytes

    @classmethod
    def parse(cls, frame: Frame) -> Answer:
        """Read CMD and ERR off a device frame; ValueError if it is too short."""
        code, rest = split_command(frame.payload)
        if not rest:
            raise ValueError(f"answer to 0x{code:X} has no error byte")
        return cls(code, rest[0], rest[1:])


@dataclass(frozen=True, slots=True)
class Request:
    """A host command: the command, the password (None for FC), and the data after it."""

    command: int
    password: int | None
    data: bytes

    @classmethod
    def parse(cls, frame: Frame) -> Request:
        """Read CMD and the password off a host frame; ValueError if it is too short."""
        code, rest = split_command(frame.payload)
        if code == DEVICE_TYPE:
            return cls(code, None, rest)
        if len(rest) < 4:
            raise ValueError(f"command 0x{code:X} without its 4-byte password")
        return cls(code, int.from_bytes(rest[:4], "little"), rest[4:])


class FrameParser:
    """Incremental parser for one frame at a time: feed() bytes, get the frame once it is complete.

    Bytes before STX are not part of a frame and are returned by take_noise() (the handshake bytes ENQ, ACK
    and NAK arrive there). A frame failing the LRC is reported as BadFrame and dropped whole: the sender will
    be asked to send it again, so nothing inside it is trusted as a new STX.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._noise = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held while waiting for the rest of a frame."""
        return len(self._buf)

    def reset(self) -> None:
        """Forget a partial frame (inter-byte timeout) and any noise."""
        self._buf.clear()
        self._noise.clear()

    def take_noise(self) -> bytes:
        """The bytes seen outside frames since the last call."""
        noise, self._noise = bytes(self._noise), bytearray()
        return noise

    def feed(self, chunk: bytes) -> list[Frame | BadFrame]:
        """Add bytes; return frames completed so far, in order."""
        self._buf += chunk
        out: list[Frame | BadFrame] = []
        buf = self._buf
        while buf:
            start = buf.find(STX)
            if start < 0:
                self._noise += buf
                buf.clear()
                break
            if start:
                self._noise += buf[:start]
                del buf[:start]
            if len(buf) < 2:
                break
            length = buf[1]
            if length == 0:
                self._noise += buf[:1]
                del buf[0]  # an empty frame does not exist: that STX was noise
                continue
            total = length + 3
            if len(buf) < total:
                break  # need more bytes
            raw = bytes(buf[:total])
            del buf[:total]
            if lrc(raw[1:-1]) == raw[-1]:
                out.append(Frame(raw[2:-1]))
            else:
                out.append(BadFrame(raw))
        return out
