"""A signed configuration bundle: its canonical form and the terminal's check of it.

The dealer service signs each bundle with its dealer's Ed25519 key (deterministic signatures: the same bundle is
the same bytes, so its ETag is strong). The key's certificate travels with the bundle and must be issued by the
CA the terminal pinned at enrollment, for this terminal's dealer and for code signing: the dealer key is pinned
through the CA, so terminals enrolled before bundles existed need no new enrollment, and a dealer key can be
replaced without visiting any terminal.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID

from kiosk.errors import KioskError

FORMAT = 1
DEALER_URN = "urn:kiosk:dealer:"


class BundleRefused(KioskError):
    """A bundle this terminal will not apply, with the reason it reports to the service."""


def canonical(value: Any) -> bytes:
    """The one byte form of a JSON value that is signed (sorted keys, no spaces, UTF-8)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def envelope(payload: bytes, signature: bytes, signer_pem: bytes) -> bytes:
    """What the service serves: the signed payload, the signature and the signing key's certificate."""
    return canonical({"payload": base64.b64encode(payload).decode(), "signature": base64.b64encode(signature).decode(),
                      "signer": signer_pem.decode()})


def _signer(pem: str, ca: x509.Certificate, dealer: str, now: dt.datetime) -> ed25519.Ed25519PublicKey:
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
    return key


def open_bundle(data: bytes, ca_pem: bytes, dealer: str, number: str,
                now: dt.datetime | None = None) -> dict[str, Any]:
    """The bundle's payload once its signature, signer, dealer and terminal check out; else BundleRefused."""
    try:
        outer = json.loads(data)
        payload = base64.b64decode(outer["payload"], validate=True)
        signature = base64.b64decode(outer["signature"], validate=True)
        signer = str(outer["signer"])
    except (ValueError, KeyError, TypeError) as exc:
        raise BundleRefused(f"not a signed bundle: {exc}") from None
    key = _signer(signer, x509.load_pem_x509_certificate(ca_pem), dealer, now or dt.datetime.now(dt.UTC))
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
    return body
