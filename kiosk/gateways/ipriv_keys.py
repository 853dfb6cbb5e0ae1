"""CyberPlat key files: the public key ring (pubkeys.key) and the IDEA-encrypted secret key (secret.key).

Both are IPRIV documents (see ipriv_envelope) whose body is armoured PGP 2.x packets. CyberPlat's key packet
is a v3 RSA key with one extra field: version 3 · serial (4) · created (4) · valid days (2) · algorithm 1 ·
MPI n · MPI e. A ring holds one NS document per key, each certified (class 0x10) by its CA key, itself in the
ring: the signature covers 0x99 ‖ length ‖ key packet body ‖ user id ‖ metadata. A secret key (NM) adds
cipher 1 (IDEA) · 8-byte IV · MPIs d, p, q, u (magnitudes encrypted, bit counts clear) · a clear checksum
(sum of the plaintext MPI bytes, headers included, mod 65536); the IDEA key is MD5 of the password.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa

from kiosk.gateways.ipriv_envelope import (
    CLASS_KEY_CERTIFICATE,
    ENCODING,
    Document,
    EnvelopeError,
    KeyId,
    parse_documents,
    read_signature,
    signature_holds,
)
from kiosk.gateways.ipriv_packets import (
    TAG_PUBLIC_KEY,
    TAG_SECRET_KEY,
    TAG_USER_ID,
    IdeaCfb,
    Packet,
    PacketError,
    Reader,
    dearmour,
    read_packets,
)

CIPHER_NONE = 0
CIPHER_IDEA = 1


class KeyFileError(ValueError):
    """A key file that cannot be used; the message names the file and what is wrong."""


class WrongPasswordError(KeyFileError):
    """The secret key's password does not decrypt it."""


class UnknownKeyError(KeyFileError, LookupError):
    """No key with the asked serial in the key ring."""


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A public key from a ring: who it is and the RSA key."""

    key_id: KeyId
    key: rsa.RSAPublicKey
    certified_by: int


@dataclass(frozen=True, slots=True)
class SecretKey:
    """A decrypted secret key: who it is and the RSA key (never logged, never printed)."""

    key_id: KeyId
    key: rsa.RSAPrivateKey

    def __repr__(self) -> str:
        return f"SecretKey({self.key_id.name!r}, serial={self.key_id.serial})"


@dataclass(frozen=True, slots=True)
class KeyPacket:
    """The public part of a CyberPlat key packet and where its secret part starts."""

    serial: int
    created: int
    valid_days: int
    n: int
    e: int
    public_body: bytes  # the bytes a certificate covers
    reader: Reader


def read_key_packet(packet: Packet, what: str) -> KeyPacket:
    """The serial, dates and RSA public numbers of a key packet (public or secret)."""
    body = Reader(packet.body, what)
    version = body.number(1)
    if version != 3:
        raise PacketError(f"{what}: key packet version {version} (expected 3)")
    serial, created, valid_days, algorithm = body.number(4), body.number(4), body.number(2), body.number(1)
    if algorithm != 1:
        raise PacketError(f"{what}: key algorithm {algorithm} (expected 1, RSA)")
    n, e = body.mpi(), body.mpi()
    return KeyPacket(serial, created, valid_days, n, e, packet.body[:body.pos], body)


def _key_packets(document: Document, what: str) -> list[Packet]:
    data = dearmour(document.body, what)
    if len(data) != document.data_length:
        raise PacketError(f"{what}: the header's data length {document.data_length} is not the packets' {len(data)}")
    return read_packets(data)


def _user_id(packets: list[Packet]) -> bytes:
    return next((p.body for p in packets if p.tag == TAG_USER_ID), b"")


class PublicKeyRing(Mapping[int, rsa.RSAPublicKey]):
    """The keys of a pubkeys.key ring by serial; a key whose certificate failed is held back with the reason."""

    def __init__(self, keys: Mapping[int, PublicKey], refused: Mapping[int, str], source: str) -> None:
        self._keys = {serial: key for serial, key in keys.items() if serial not in refused}
        self._refused = dict(refused)
        self.source = source

    def __getitem__(self, serial: int) -> rsa.RSAPublicKey:
        return self._keys[serial].key

    def __iter__(self) -> Iterator[int]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def entry(self, serial: int) -> PublicKey:
        """The key with this serial, or a KeyFileError naming the file and why it cannot be used."""
        if serial in self._refused:
            raise KeyFileError(self._refused[serial])
        if serial not in self._keys:
            held = ", ".join(str(s) for s in sorted(self._keys)) or "none"
            raise UnknownKeyError(f"{self.source}: no key with serial {serial} (the ring holds {held})")
        return self._keys[serial]


def load_public_ring(path: str | Path) -> PublicKeyRing:
    """Every key in a pubkeys.key file, each checked against its CA's certificate in the same file.

    A damaged file is refused whole; a key whose certificate does not verify (or whose CA was refused) is
    held back with the reason, as the vendor's library refuses only the key asked for.
    """
    path = Path(path)
    what = str(path)
    try:
        documents = [d for d in _documents(path) if d.kind == "NS"]
        if not documents:
            raise KeyFileError(f"{what}: no public key (NS) documents")
        raw: dict[int, tuple[Document, KeyPacket, bytes]] = {}
        for doc in documents:
            where = f"{what}, key {doc.subject.serial}"
            if doc.subject.serial in raw:
                raise KeyFileError(f"{where}: the serial appears twice in the ring")
            packets = _key_packets(doc, where)
            key_packet = next((p for p in packets if p.tag == TAG_PUBLIC_KEY), None)
            if key_packet is None:
                raise KeyFileError(f"{where}: no public key packet")
            parsed = read_key_packet(key_packet, where)
            if parsed.serial != doc.subject.serial:
                raise KeyFileError(f"{where}: the packet says serial {parsed.serial}")
            raw[doc.subject.serial] = (doc, parsed, _user_id(packets))
        keys = {serial: PublicKey(doc.subject, rsa.RSAPublicNumbers(kp.e, kp.n).public_key(), doc.ca.serial)
                for serial, (doc, kp, _uid) in raw.items()}
        refused = {serial: problem for serial, (doc, kp, uid) in raw.items()
                   if (problem := _certificate_problem(doc, kp, uid, keys, f"{what}, key {serial}"))}
    except (EnvelopeError, PacketError, ValueError) as exc:
        if isinstance(exc, KeyFileError):
            raise
        raise KeyFileError(f"{what}: {exc}") from exc
    while True:  # a key certified by a refused CA is refused too
        tainted = {serial: f"{what}, key {serial}: its CA key {key.certified_by} is refused"
                   for serial, key in keys.items()
                   if serial not in refused and key.certified_by in refused and key.certified_by != serial}
        if not tainted:
            return PublicKeyRing(keys, refused, what)
        refused.update(tainted)


def _certificate_problem(doc: Document, kp: KeyPacket, user_id: bytes, keys: Mapping[int, PublicKey],
                         what: str) -> str:
    """Why the key's certificate does not hold, or "" when it does."""
    signature = read_signature(doc.signature, what)
    if signature.sig_class != CLASS_KEY_CERTIFICATE or signature.serial != doc.ca.serial:
        return f"{what}: the certificate is not a key certificate by CA {doc.ca.serial}"
    ca = keys.get(doc.ca.serial)
    if ca is None:
        return f"{what}: certified by key {doc.ca.serial}, which is not in the ring"
    signed = b"\x99" + len(kp.public_body).to_bytes(2, "big") + kp.public_body + user_id
    if not signature_holds(signature, signed, ca.key):
        return f"{what}: the certificate by key {doc.ca.serial} does not verify (altered key?)"
    return ""


def load_secret_key(path: str | Path, password: str | None) -> SecretKey:
    """The secret key in a secret.key file, decrypted with the password."""
    path = Path(path)
    what = str(path)
    try:
        document = next((d for d in _documents(path) if d.kind == "NM"), None)
        if document is None:
            raise KeyFileError(f"{what}: no secret key (NM) document")
        packet = next((p for p in _key_packets(document, what) if p.tag == TAG_SECRET_KEY), None)
        if packet is None:
            raise KeyFileError(f"{what}: no secret key packet")
        kp = read_key_packet(packet, what)
        d, p, q = _secret_numbers(kp.reader, password, what)
        if kp.serial != document.subject.serial:
            raise KeyFileError(f"{what}: the packet says serial {kp.serial}, the document {document.subject.serial}")
        if p * q != kp.n:
            raise WrongPasswordError(f"{what}: wrong password, or the file is damaged "
                                     "(the decrypted key does not match its modulus)")
        public = rsa.RSAPublicNumbers(kp.e, kp.n)
        numbers = rsa.RSAPrivateNumbers(p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q),
                                        rsa.rsa_crt_iqmp(p, q), public)
        return SecretKey(document.subject, numbers.private_key())
    except (EnvelopeError, PacketError, ValueError) as exc:
        if isinstance(exc, KeyFileError):
            raise
        raise KeyFileError(f"{what}: {exc}") from exc


def _secret_numbers(body: Reader, password: str | None, what: str) -> tuple[int, int, int]:
    cipher = body.number(1)
    if cipher not in (CIPHER_NONE, CIPHER_IDEA):
        raise KeyFileError(f"{what}: secret key cipher {cipher} (expected 1, IDEA)")
    if cipher == CIPHER_IDEA and not password:
        raise WrongPasswordError(f"{what}: the secret key is encrypted and no password was given")
    idea = IdeaCfb(hashlib.md5(password_bytes(password, what)).digest(), body.take(8)) if password and cipher else None
    values, checksum = [], 0
    for _ in range(4):  # d, p, q, u (p⁻¹ mod q, which we recompute the other way round)
        header, magnitude = body.mpi_parts()
        plain = idea.decrypt(magnitude) if idea else magnitude
        checksum += sum(header) + sum(plain)
        values.append(int.from_bytes(plain, "big"))
    if body.number(2) != checksum & 0xFFFF:
        raise WrongPasswordError(f"{what}: wrong password, or the file is damaged (secret key checksum mismatch)")
    return values[0], values[1], values[2]


def password_bytes(password: str, what: str) -> bytes:
    """The password as the vendor's Windows tools hash it (Windows-1251)."""
    try:
        return password.encode(ENCODING)
    except UnicodeEncodeError:
        raise KeyFileError(f"{what}: the password has characters outside Windows-1251") from None


def _documents(path: Path) -> list[Document]:
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read the key file ({exc.strerror})") from exc
    return parse_documents(text, str(path))
