"""The payer's status link on a receipt: `<base>/<terminal>/<operation>-<nonce>/<signature>`.

The terminal signs `kiosk-status-v1|<terminal>|<operation>|<nonce>` with its enrolled identity key (ECDSA P-256,
SHA-256; the raw 64-byte r‖s in unpadded base64url), so the dealer service can check a link against the terminal's
certificates without any shared secret, and nobody can walk operation numbers to read other people's payments.
The nonce (the unrepeatable part of the operation's ids) tells two payments apart that share a number after a
journal restore; operations opened before nonces existed carry none (`<operation>` alone).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

DOMAIN = "kiosk-status-v1"  # never the same bytes as anything else the identity key signs (RFC 9421 bases)
_PATH = re.compile(r"/(\d{1,10})/(\d{1,18})(?:-(\d{1,6}))?/([A-Za-z0-9_-]{86})/?")
_CURVE_BYTES = 32


@dataclass(frozen=True)
class StatusRef:
    """What a status link names: one operation of one terminal, and the signature over it."""

    terminal: str
    operation: int
    nonce: int | None
    signature: bytes  # raw r‖s

    def message(self) -> bytes:
        """The signed bytes."""
        return signed_message(self.terminal, self.operation, self.nonce)


def signed_message(terminal: str, operation: int, nonce: int | None) -> bytes:
    """What the terminal signs for one operation."""
    return f"{DOMAIN}|{terminal}|{operation}|{'' if nonce is None else nonce}".encode("ascii")


def make_link(base_url: str, key: ec.EllipticCurvePrivateKey, terminal: str, operation: int,
              nonce: int | None) -> str:
    """The status link for one operation, signed with the terminal's identity key."""
    der = key.sign(signed_message(terminal, operation, nonce), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    raw = r.to_bytes(_CURVE_BYTES, "big") + s.to_bytes(_CURVE_BYTES, "big")
    token = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
    ref = str(operation) if nonce is None else f"{operation}-{nonce}"
    return f"{base_url.rstrip('/')}/{terminal}/{ref}/{token}"


def parse_path(path: str) -> StatusRef | None:
    """The reference in a link's path ('/10001/57-381904/<sig>', after the base), or None if it is not one."""
    match = _PATH.fullmatch(path)
    if not match:
        return None
    raw = base64.urlsafe_b64decode(match[4] + "==")
    return StatusRef(match[1], int(match[2]), int(match[3]) if match[3] else None, raw)


def parse_link(text: str) -> StatusRef | None:
    """A whole link's reference (any base address), or None: the last three path segments carry it."""
    text = text.strip().split("?", 1)[0].split("#", 1)[0]
    parts = text.rstrip("/").split("/")
    if len(parts) < 4:
        return None
    return parse_path("/" + "/".join(parts[-3:]))


def verify(ref: StatusRef, key: ec.EllipticCurvePublicKey) -> bool:
    """Whether this public key signed the reference."""
    if len(ref.signature) != 2 * _CURVE_BYTES:
        return False
    r = int.from_bytes(ref.signature[:_CURVE_BYTES], "big")
    s = int.from_bytes(ref.signature[_CURVE_BYTES:], "big")
    try:
        key.verify(encode_dss_signature(r, s), ref.message(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True
