"""The CyberPlat signed envelope (IPRIV-style), with RSA PKCS#1 v1.5 keys loaded from PEM files.

Layout (CRLF lines; every length is in bytes of the Windows-1251 document):
    HEADER       %08d total length, %02d engine (01), "SM", %08d body length, %08d data length, %08d signature length
    SIGNER       %-20s%08d key name and serial of the signing key
    RECIPIENT    %-20s%08d key name and serial the reply should be signed with (the "CA" line of the vendor)
    BEGIN / data / END                        body = SIGNER line through END line
    BEGIN SIGNATURE / base64 64-column lines / "=" CRC-24 / END SIGNATURE
The signature block carries 9 bytes of metadata (0x01, signer serial, unix time, big-endian) followed by the RSA
signature over hash(data ‖ metadata); hash is MD5 as in the vendor scheme, or SHA-256.
Key files: PEM (PKCS#8/PKCS#1 private, SubjectPublicKeyInfo public); the vendor's PGP-style packets are not read.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ENCODING = "cp1251"
CRLF = b"\r\n"
HASHES = {"md5": hashes.MD5, "sha256": hashes.SHA256}
HEADER = re.compile(rb"(\d{8})01SM(\d{8})(\d{8})(\d{8})")
KEY_LINE = re.compile(rb"(.{20})(\d{8})")


class SignatureError(Exception):
    """The document is malformed, signed by an unknown key, or its signature does not verify."""


@dataclass(frozen=True, slots=True)
class KeyId:
    """A key's name (≤ 20 characters) and serial."""

    name: str
    serial: int

    def line(self) -> bytes:
        """The %-20s%08d key-id line."""
        return f"{self.name[:20]:<20}{self.serial:08d}".encode(ENCODING)


def load_private_key(path: str | Path, password: str | None = None) -> rsa.RSAPrivateKey:
    """An RSA private key from a PEM file."""
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password.encode() if password else None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path}: not an RSA private key")
    return key


def load_public_key(path: str | Path) -> rsa.RSAPublicKey:
    """An RSA public key from a PEM file."""
    key = serialization.load_pem_public_key(Path(path).read_bytes())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(f"{path}: not an RSA public key")
    return key


def crc24(data: bytes) -> int:
    """The OpenPGP CRC-24 (RFC 4880 §6.1) used for the armour checksum line."""
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def sign(data: bytes, key: rsa.RSAPrivateKey, signer: KeyId, recipient: KeyId, hash_name: str = "md5",
         now: float | None = None) -> bytes:
    """Wrap data (already Windows-1251) into a signed document."""
    meta = b"\x01" + signer.serial.to_bytes(4, "big") + int(now if now is not None else time.time()).to_bytes(4, "big")
    blob = meta + key.sign(data + meta, padding.PKCS1v15(), HASHES[hash_name]())
    armour = base64.b64encode(blob)
    lines = [armour[i:i + 64] for i in range(0, len(armour), 64)]
    lines.append(b"=" + base64.b64encode(crc24(blob).to_bytes(3, "big")))
    body = signer.line() + CRLF + recipient.line() + CRLF + b"BEGIN" + CRLF + data + CRLF + b"END" + CRLF
    signature = b"BEGIN SIGNATURE" + CRLF + CRLF.join(lines) + CRLF + b"END SIGNATURE" + CRLF
    total = 36 + 2 + len(body) + len(signature)
    header = b"%08d01SM%08d%08d%08d" % (total, len(body), len(data), len(signature))
    return header + CRLF + body + signature


def verify(document: bytes, keys: Mapping[int, rsa.RSAPublicKey], hash_name: str = "md5") -> tuple[bytes, KeyId]:
    """Check a signed document against the keys we trust (by serial); returns the data and who signed it."""
    try:
        head = HEADER.fullmatch(document[:36])
        if head is None or document[36:38] != CRLF:
            raise SignatureError("no envelope header")
        total, body_len, data_len, sig_len = (int(x) for x in head.groups())
        if total != len(document) or 38 + body_len + sig_len != total:
            raise SignatureError("envelope lengths do not add up")
        body, signature = document[38:38 + body_len], document[38 + body_len:]
        signer_line, _recipient, begin, rest = body.split(CRLF, 3)
        signer_match = KEY_LINE.fullmatch(signer_line)
        if signer_match is None or begin != b"BEGIN":
            raise SignatureError("bad key-id or BEGIN line")
        data = rest[:data_len]
        if rest[data_len:] != CRLF + b"END" + CRLF:
            raise SignatureError("data length does not match END")
        sig_lines = signature.split(CRLF)
        if sig_lines[0] != b"BEGIN SIGNATURE" or sig_lines[-2:] != [b"END SIGNATURE", b""]:
            raise SignatureError("bad signature block")
        blob = base64.b64decode(b"".join(sig_lines[1:-3]), validate=True)
        crc_line = sig_lines[-3]
        if not crc_line.startswith(b"=") or base64.b64decode(crc_line[1:]) != crc24(blob).to_bytes(3, "big"):
            raise SignatureError("armour checksum mismatch")
        signer = KeyId(signer_match[1].decode(ENCODING).rstrip(), int(signer_match[2]))
        meta, raw = blob[:9], blob[9:]
        if meta[:1] != b"\x01" or int.from_bytes(meta[1:5], "big") != signer.serial:
            raise SignatureError("signature metadata does not name the signer")
        key = keys.get(signer.serial)
        if key is None:
            raise SignatureError(f"unknown signing key serial {signer.serial}")
        key.verify(raw, data + meta, padding.PKCS1v15(), HASHES[hash_name]())
    except SignatureError:
        raise
    except (InvalidSignature, ValueError, binascii.Error, IndexError) as exc:
        raise SignatureError(f"signature does not verify ({type(exc).__name__})") from exc
    return data, signer


def encode_fields(fields: Mapping[str, str]) -> bytes:
    """KEY=VALUE lines joined with CRLF, Windows-1251; line breaks in values are flattened."""
    lines = [f"{k}={' '.join(str(v).splitlines())}" for k, v in fields.items()]
    return "\r\n".join(lines).encode(ENCODING, errors="replace")


def decode_fields(data: bytes) -> dict[str, str]:
    """KEY=VALUE lines (Windows-1251) into a dict."""
    out: dict[str, str] = {}
    for line in data.decode(ENCODING, errors="replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out
