"""The OpenPGP-2.x layer of CyberPlat's IPRIV format: old-format packets, MPIs, radix-64 armour, IDEA-CFB.

IPRIV documents carry PGP 2.x packets (RFC 1991 / RFC 4880 "old format"): a header byte 10TTTTLL (tag T,
length type L: 0 = one byte, 1 = two, 2 = four, big-endian), then the body. Numbers are MPIs: a 16-bit bit
count and the big-endian magnitude. Packets travel as 64-column base64 lines and a `=` line with the CRC-24.
Secret-key MPIs are encrypted with IDEA in CFB-64 mode; this module holds only the codec, not the key logic.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from cryptography.hazmat.decrepit.ciphers.algorithms import IDEA
from cryptography.hazmat.primitives.ciphers import Cipher, modes

TAG_SIGNATURE = 2
TAG_SECRET_KEY = 5
TAG_PUBLIC_KEY = 6
TAG_TRUST = 12
TAG_USER_ID = 13
ARMOUR_COLUMNS = 64


class PacketError(ValueError):
    """Bytes that are not the packets, MPIs or armour the IPRIV format expects."""


@dataclass(frozen=True, slots=True)
class Packet:
    """One old-format packet: its tag and body."""

    tag: int
    body: bytes


def read_packets(data: bytes) -> list[Packet]:
    """Split a packet stream into packets; refuses new-format headers and truncated bodies."""
    packets: list[Packet] = []
    pos = 0
    while pos < len(data):
        header = data[pos]
        if header & 0xC0 != 0x80:
            raise PacketError(f"byte {pos}: 0x{header:02x} is not an old-format packet header")
        size_bytes = {0: 1, 1: 2, 2: 4}.get(header & 3)
        if size_bytes is None:
            raise PacketError(f"byte {pos}: indeterminate packet length is not used in IPRIV")
        start = pos + 1 + size_bytes
        length = int.from_bytes(data[pos + 1:start], "big")
        if start + length > len(data) or start > len(data):
            raise PacketError(f"byte {pos}: packet of {length} bytes runs past the end ({len(data)} bytes)")
        packets.append(Packet((header >> 2) & 0x0F, data[start:start + length]))
        pos = start + length
    return packets


def write_packet(tag: int, body: bytes, *, long_length: bool = False) -> bytes:
    """One old-format packet; the vendor writes key and signature packets with a two-byte length always."""
    if len(body) <= 0xFF and not long_length:
        return bytes([0x80 | tag << 2, len(body)]) + body
    if len(body) <= 0xFFFF:
        return bytes([0x80 | tag << 2 | 1]) + len(body).to_bytes(2, "big") + body
    return bytes([0x80 | tag << 2 | 2]) + len(body).to_bytes(4, "big") + body


def mpi(value: int) -> bytes:
    """An MPI: 16-bit bit count, then the magnitude without leading zero bytes."""
    return value.bit_length().to_bytes(2, "big") + value.to_bytes((value.bit_length() + 7) // 8, "big")


class Reader:
    """A cursor over a packet body that raises PacketError instead of reading past the end."""

    def __init__(self, data: bytes, what: str) -> None:
        self.data, self.pos, self.what = data, 0, what

    def take(self, count: int) -> bytes:
        """The next count bytes."""
        if self.pos + count > len(self.data):
            raise PacketError(f"{self.what}: truncated at byte {self.pos} (wanted {count} more)")
        chunk = self.data[self.pos:self.pos + count]
        self.pos += count
        return chunk

    def number(self, size: int) -> int:
        """A big-endian unsigned integer of size bytes."""
        return int.from_bytes(self.take(size), "big")

    def mpi_parts(self) -> tuple[bytes, bytes]:
        """An MPI's two-byte header and its magnitude bytes, as stored."""
        header = self.take(2)
        return header, self.take((int.from_bytes(header, "big") + 7) // 8)

    def mpi(self) -> int:
        """An MPI's value."""
        return int.from_bytes(self.mpi_parts()[1], "big")

    def rest(self) -> bytes:
        """Everything not read yet."""
        chunk, self.pos = self.data[self.pos:], len(self.data)
        return chunk


def _crc24_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 16
        for _ in range(8):
            crc = (crc << 1) ^ (0x1864CFB if crc & 0x800000 else 0)
        table.append(crc & 0xFFFFFF)
    return tuple(table)


CRC24_TABLE = _crc24_table()


def crc24(data: bytes) -> int:
    """The OpenPGP CRC-24 (RFC 4880 §6.1) of the armour's checksum line, a byte at a time from a table."""
    crc = 0xB704CE
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFF) ^ CRC24_TABLE[(crc >> 16) ^ byte]
    return crc


def armour(data: bytes) -> bytes:
    """Base64 in 64-column lines joined by CRLF, then `=` and the base64 CRC-24 (no CRLF after it)."""
    text = base64.b64encode(data)
    lines = [text[i:i + ARMOUR_COLUMNS] for i in range(0, len(text), ARMOUR_COLUMNS)]
    lines.append(b"=" + base64.b64encode(crc24(data).to_bytes(3, "big")))
    return b"\r\n".join(lines)


def dearmour(text: bytes, what: str) -> bytes:
    """The packets inside an armour block; the CRC-24 line is required and must match."""
    lines = text.split(b"\r\n")
    if len(lines) < 2 or not lines[-1].startswith(b"="):
        raise PacketError(f"{what}: the armour has no '=' checksum line")
    try:
        data = base64.b64decode(b"".join(lines[:-1]), validate=True)
        checksum = base64.b64decode(lines[-1][1:], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PacketError(f"{what}: the armour is not valid base64") from exc
    if checksum != crc24(data).to_bytes(3, "big"):
        raise PacketError(f"{what}: armour checksum mismatch (CRC-24)")
    return data


class IdeaCfb:
    """IDEA in CFB-64 with PGP 2.x's resynchronisation: each MPI starts a fresh block (RFC 4880 §5.5.3).

    The register always holds the last eight ciphertext bytes, so "resync" is just starting the next
    chunk with a fresh keystream block, as GnuPG's cipher_sync does for v3 keys. Built on IDEA-ECB because
    the library's CFB mode is going away.
    """

    def __init__(self, key: bytes, iv: bytes) -> None:
        self._ecb = Cipher(IDEA(key), modes.ECB()).encryptor()
        self._register = iv

    def _run(self, data: bytes, decrypt: bool) -> bytes:
        out = bytearray()
        for start in range(0, len(data), 8):
            chunk = data[start:start + 8]
            stream = self._ecb.update(self._register)
            result = bytes(a ^ b for a, b in zip(chunk, stream, strict=False))
            out += result
            self._register = (self._register + (chunk if decrypt else result))[-8:]
        return bytes(out)

    def decrypt(self, data: bytes) -> bytes:
        """Decrypt one MPI's magnitude (starting a fresh block)."""
        return self._run(data, decrypt=True)

    def encrypt(self, data: bytes) -> bytes:
        """Encrypt one MPI's magnitude (starting a fresh block)."""
        return self._run(data, decrypt=False)
