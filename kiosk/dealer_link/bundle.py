"""A signed configuration bundle: its canonical form and the terminal's check of it.

The dealer service signs each bundle with its dealer's Ed25519 key (deterministic signatures: the same bundle is
the same bytes, so its ETag is strong). The key's certificate travels with the bundle and must be issued by the
CA the terminal pinned at enrollment, for this terminal's dealer and for code signing: the dealer key is pinned
through the CA, so terminals enrolled before bundles existed need no new enrollment, and a dealer key can be
replaced without visiting any terminal.

Each dealer key's certificate carries its generation (`urn:kiosk:dealer-key-generation:N`, CA-signed like the rest
of it): after a rotation a terminal pins the newer generation and refuses bundles signed by an older key
(kiosk.dealer_link.trust), and each bundle carries a per-terminal sequence so a replayed older one is refused.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID

from kiosk.errors import KioskError

FORMAT = 1
DEALER_URN = "urn:kiosk:dealer:"
GENERATION_URN = "urn:kiosk:dealer-key-generation:"


class BundleRefused(KioskError):
    """A bundle this terminal will not apply, with the reason it reports to the service."""


def canonical(value: Any) -> bytes:
    """The one byte form of a JSON value that is signed (sorted keys, no spaces, UTF-8)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def envelope(payload: bytes, signature: bytes, signer_pem: bytes) -> bytes:
    """What the service serves: the signed payload, the signature and the signing key's certificate."""
    return canonical({"payload": base64.b64encode(payload).decode(), "signature": base64.b64encode(signature).decode(),
                      "signer": signer_pem.decode()})


@dataclass(frozen=True)
class Opened:
    """A bundle whose signature checked out: its payload, the payload's digest and the signing key's identity."""

    payload: dict[str, Any]
    payload_sha256: str
    key_generation: int  # 0 for a key certified before generations existed
    key_sha256: str

    @property
    def sequence(self) -> int:
        """The bundle's per-terminal sequence (0 from a service that sent none)."""
        value = self.payload.get("sequence")
        return value if isinstance(value, int) and not isinstance(value, bool) else 0


def generation_of(uris: list[str]) -> int:
    """The key generation a signing certificate's URIs name (0 when none does)."""
    found = [u[len(GENERATION_URN):] for u in uris if u.startswith(GENERATION_URN)]
    return int(found[0]) if len(found) == 1 and found[0].isdigit() else 0


def _signer(pem: str, ca: x509.Certificate, dealer: str, now: dt.datetime) -> tuple[ed25519.Ed25519PublicKey, int]:
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise BundleRefused(f"the bundle's signing certificate is not issued by the pinned CA: {exc}") from None
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise BundleRefused("the bundle's signing certificate is not valid now")
    try:
        uris = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.UniformResourceIdentifier)
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        raise BundleRefused("the bundle's signing certificate names no dealer or no usage") from None
    if f"{DEALER_URN}{dealer}" not in uris:
        raise BundleRefused(f"the bundle is signed for {uris}, not for this terminal's dealer {dealer!r}")
    if ExtendedKeyUsageOID.CODE_SIGNING not in usages:
        raise BundleRefused("the bundle's signing certificate is not for signing")
    key = cert.public_key()
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise BundleRefused("the bundle's signing key is not Ed25519")
    return key, generation_of(uris)


def open_bundle(data: bytes, ca_pem: bytes, dealer: str, number: str,
                now: dt.datetime | None = None) -> dict[str, Any]:
    """The bundle's payload once its signature, signer, dealer and terminal check out; else BundleRefused."""
    return open_signed(data, ca_pem, dealer, number, now).payload


def open_signed(data: bytes, ca_pem: bytes, dealer: str, number: str, now: dt.datetime | None = None) -> Opened:
    """The checked bundle with its signer's generation and key digest (what the terminal pins); else BundleRefused."""
    try:
        outer = json.loads(data)
        payload = base64.b64decode(outer["payload"], validate=True)
        signature = base64.b64decode(outer["signature"], validate=True)
        signer = str(outer["signer"])
    except (ValueError, KeyError, TypeError) as exc:
        raise BundleRefused(f"not a signed bundle: {exc}") from None
    key, generation = _signer(signer, x509.load_pem_x509_certificate(ca_pem), dealer, now or dt.datetime.now(dt.UTC))
    try:
        key.verify(signature, payload)
    except InvalidSignature:
        raise BundleRefused("the bundle's signature does not verify (changed after signing)") from None
    body = json.loads(payload)
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise BundleRefused(f"bundle format {body.get('format') if isinstance(body, dict) else None!r}, "
                            f"this terminal reads {FORMAT}")
    if body.get("dealer") != dealer or body.get("terminal") != number:
        raise BundleRefused(f"the bundle is for terminal {body.get('dealer')}/{body.get('terminal')}, "
                            f"not {dealer}/{number}")
    if not isinstance(body.get("document"), dict) or not isinstance(body.get("secrets", {}), dict):
        raise BundleRefused("the bundle holds no configuration document")
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return Opened(body, hashlib.sha256(payload).hexdigest(), generation, hashlib.sha256(raw).hexdigest())
