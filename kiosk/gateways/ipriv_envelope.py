"""CyberPlat IPRIV documents (signed messages and key files) and their v3 signature packets.

A document, every line ending in CRLF (the last one may lack it in key files):
    HEADER   %08d length after the first 10 bytes · %02d engine (01) · type (SM message, NS public key,
             NM secret key) · %08d body length · %08d data length · %08d signature-block length
    SUBJECT  %-20s%08d the signer's (or key's) name and serial
    CA       %-20s%08d the certifying key; blank name and 00000000 in a signed message
    BEGIN / body / END / BEGIN SIGNATURE / signature block / END SIGNATURE
In a message the body is the data; in a key file it is the armoured key packets and the data length is the
size of those packets. The signature block is the armour of a v3 signature packet plus a trust packet (0xC7).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kiosk.gateways.ipriv_packets import (
    TAG_SIGNATURE,
    TAG_TRUST,
    PacketError,
    Reader,
    armour,
    dearmour,
    mpi,
    read_packets,
    write_packet,
)

ENCODING = "cp1251"
CRLF = b"\r\n"
ENGINE = 1
HEADER = re.compile(rb"(\d{8})(\d{2})([A-Z]{2})(\d{8})(\d{8})(\d{8})")
KEY_ID = re.compile(rb"(.{20})(\d{8})", re.DOTALL)
CLASS_MESSAGE = 0x01
CLASS_KEY_CERTIFICATE = 0x10
ALGORITHM_RSA = 1
HASH_MD5 = 1
TRUST_SIGNATURE = b"\xc7"


class EnvelopeError(ValueError):
    """Text that is not an IPRIV document: the message names the part and what was expected."""


@dataclass(frozen=True, slots=True)
class KeyId:
    """A key's name (≤ 20 characters) and serial, as on a document's key-id lines."""

    name: str
    serial: int

    def line(self) -> bytes:
        """The %-20s%08d key-id line."""
        return f"{self.name[:20]:<20}{self.serial:08d}".encode(ENCODING)


BLANK = KeyId("", 0)


@dataclass(frozen=True, slots=True)
class Document:
    """One IPRIV document: header fields, the two key-id lines, body and signature block (armour text)."""

    kind: str
    subject: KeyId
    ca: KeyId
    body: bytes
    data_length: int
    signature: bytes
    engine: int = ENGINE

    def render(self, final_crlf: bool = True) -> bytes:
        """The document's bytes; the length field counts the final CRLF even when it is left off."""
        rest = (b"%02d%s%08d%08d%08d" % (self.engine, self.kind.encode("ascii"), len(self.body),
                                         self.data_length, len(self.signature)) + CRLF
                + self.subject.line() + CRLF + self.ca.line() + CRLF
                + b"BEGIN" + CRLF + self.body + CRLF + b"END" + CRLF
                + b"BEGIN SIGNATURE" + CRLF + self.signature + CRLF + b"END SIGNATURE" + CRLF)
        text = b"%08d" % (len(rest) - 2) + rest  # "after the first 10 bytes": the digits and two more
        return text if final_crlf else text[:-2]


def parse_documents(text: bytes, what: str) -> list[Document]:
    """Every document in text (a key ring holds several); refuses anything that does not add up."""
    documents: list[Document] = []
    pos = _skip_blank(text, 0)
    while pos < len(text):
        document, pos = _parse_one(text, pos, f"{what}, document {len(documents) + 1}")
        documents.append(document)
        pos = _skip_blank(text, pos)
    if not documents:
        raise EnvelopeError(f"{what}: empty, no IPRIV document")
    return documents


def _skip_blank(text: bytes, pos: int) -> int:
    while pos < len(text) and text[pos] in b" \t\r\n":
        pos += 1
    return pos


def _expect(text: bytes, pos: int, literal: bytes, what: str, part: str) -> int:
    if text[pos:pos + len(literal)] != literal:
        found = text[pos:pos + len(literal)].decode(ENCODING, "replace")
        raise EnvelopeError(f"{what}: expected {part} {literal.decode(ENCODING)!r} at byte {pos}, found {found!r}")
    return pos + len(literal)


def _parse_one(text: bytes, start: int, what: str) -> tuple[Document, int]:
    head = HEADER.fullmatch(text[start:start + 36])
    if head is None:
        raise EnvelopeError(f"{what}: no 36-character IPRIV header (%08d length, engine, type, three lengths)")
    total, engine, kind, body_len, data_len, sig_len = head.groups()
    if int(engine) != ENGINE:
        raise EnvelopeError(f"{what}: engine {int(engine)} is not supported (expected 01)")
    pos = _expect(text, start + 36, CRLF, what, "CRLF after the header")
    ids = []
    for part in ("subject", "CA"):
        line = KEY_ID.fullmatch(text[pos:pos + 28])
        if line is None:
            raise EnvelopeError(f"{what}: the {part} line is not %-20s%08d (28 characters)")
        ids.append(KeyId(line[1].decode(ENCODING, "replace").rstrip(), int(line[2])))
        pos = _expect(text, pos + 28, CRLF, what, f"CRLF after the {part} line")
    pos = _expect(text, pos, b"BEGIN" + CRLF, what, "line")
    body, pos = text[pos:pos + int(body_len)], pos + int(body_len)
    pos = _expect(text, pos, CRLF + b"END" + CRLF, what, f"(after a body of {int(body_len)} bytes) line")
    pos = _expect(text, pos, b"BEGIN SIGNATURE" + CRLF, what, "line")
    signature, pos = text[pos:pos + int(sig_len)], pos + int(sig_len)
    pos = _expect(text, pos, CRLF + b"END SIGNATURE", what,
                  f"(after a signature block of {int(sig_len)} bytes) line")
    end = pos + 2  # the length field counts the closing CRLF, which the last document of a file may lack
    if text[pos:pos + 2] not in (CRLF, b""):
        raise EnvelopeError(f"{what}: expected CRLF or the end after END SIGNATURE at byte {pos}")
    if end - start - 10 != int(total):
        raise EnvelopeError(f"{what}: envelope lengths do not add up (header says {int(total)}, "
                            f"the document has {end - start - 10})")
    document = Document(kind.decode("ascii"), ids[0], ids[1], body, int(data_len), signature, int(engine))
    return document, min(end, len(text))


@dataclass(frozen=True, slots=True)
class Signature:
    """A v3 signature packet: class, signer serial, time, the digest's first two bytes and the RSA value."""

    sig_class: int
    serial: int
    created: int
    digest_prefix: bytes
    value: bytes

    @property
    def metadata(self) -> bytes:
        """The nine bytes hashed after the signed data: class, serial, time."""
        return bytes([self.sig_class]) + self.serial.to_bytes(4, "big") + self.created.to_bytes(4, "big")


def make_signature(signed: bytes, key: rsa.RSAPrivateKey, sig_class: int, serial: int, created: int) -> bytes:
    """The armoured signature block (signature packet + trust packet) over MD5(signed ‖ metadata)."""
    meta = bytes([sig_class]) + serial.to_bytes(4, "big") + created.to_bytes(4, "big")
    value = key.sign(signed + meta, padding.PKCS1v15(), hashes.MD5())
    body = (bytes([3, len(meta)]) + meta + bytes([ALGORITHM_RSA, HASH_MD5])
            + hashlib.md5(signed + meta).digest()[:2] + mpi(int.from_bytes(value, "big")))
    packets = write_packet(TAG_SIGNATURE, body, long_length=True) + write_packet(TAG_TRUST, TRUST_SIGNATURE)
    return armour(packets)


def read_signature(block: bytes, what: str) -> Signature:
    """The first signature packet of an armoured signature block."""
    try:
        packets = read_packets(dearmour(block, what))
        found = next((p for p in packets if p.tag == TAG_SIGNATURE), None)
        if found is None:
            raise EnvelopeError(f"{what}: the signature block holds no signature packet")
        body = Reader(found.body, f"{what}: signature packet")
        version, meta_len = body.number(1), body.number(1)
        if version != 3 or meta_len != 9:
            raise EnvelopeError(f"{what}: signature packet version {version} with {meta_len} bytes of metadata "
                                "(expected version 3 with 9)")
        sig_class, serial, created = body.number(1), body.number(4), body.number(4)
        algorithm, digest = body.number(1), body.number(1)
        if (algorithm, digest) != (ALGORITHM_RSA, HASH_MD5):
            raise EnvelopeError(f"{what}: algorithms {algorithm}/{digest} (expected RSA 1 with MD5 1)")
        prefix, value = body.take(2), body.mpi_parts()[1]
    except PacketError as exc:
        raise EnvelopeError(str(exc)) from exc
    return Signature(sig_class, serial, created, prefix, value)


def signature_holds(signature: Signature, signed: bytes, key: rsa.RSAPublicKey) -> bool:
    """Whether the signature is the key's over MD5(signed ‖ metadata)."""
    if hashlib.md5(signed + signature.metadata).digest()[:2] != signature.digest_prefix:
        return False  # PGP's quick check: the wrong data or key, before any RSA arithmetic
    size = (key.key_size + 7) // 8
    if len(signature.value) > size:
        return False
    try:  # an MPI drops leading zero bytes; RSA wants the value at full modulus length
        key.verify(signature.value.rjust(size, b"\0"), signed + signature.metadata, padding.PKCS1v15(),
                   hashes.MD5())
    except InvalidSignature:
        return False
    return True
