"""RFC 9421 HTTP Message Signatures as both ends of the dealer link use them: ECDSA P-256 over the method, the
path and Content-Digest, with `created`, `nonce` and `keyid` (the SHA-256 of the terminal's certificate).

The terminal's one shape of signature is written directly (about a seventh of the CPU of
http-message-signatures' general signer, which stays the reference: anything unusual goes to it, and
tests/dealer_link/test_link_signing.py checks the two write the same headers and the library verifies ours)."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from http_message_signatures import HTTPMessageSigner, HTTPSignatureKeyResolver, algorithms

ALGORITHM = algorithms.ECDSA_P256_SHA256
COVERED = ("@method", "@path", "content-digest")
TAG = "kiosk-link"
CLIENT_CERT_HEADER = "Client-Cert"  # RFC 9440: what a TLS-terminating proxy forwards; the terminal sends it too
LABEL = "pyhms"  # the library's default signature label, kept so both signers write the same headers
# What the direct signer writes without the library: a plain absolute URL's path (no escapes, no userinfo), and
# key ids and nonces that are RFC 8941 strings needing no escapes.
_PLAIN_URL = re.compile(r"https?://[A-Za-z0-9.:\[\]-]+(/[A-Za-z0-9._~!$&'()*+,;=:@/-]*)?(?:\?[^#\s]*)?")
_PLAIN_STRING = re.compile(r"[ !#-\[\]-~]*")
_COVERED_LIST = "(" + " ".join(f'"{c}"' for c in COVERED) + ")"


@dataclass
class Message:
    """The parts of an HTTP request a signature covers (a shape both the signer and verifier understand)."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


class _OneKey(HTTPSignatureKeyResolver):
    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        self.key = key

    def resolve_private_key(self, key_id: str) -> Any:
        return self.key

    def resolve_public_key(self, key_id: str) -> Any:
        return self.key.public_key()


def client_cert_header(cert_der: bytes) -> str:
    """The RFC 9440 Client-Cert value: the DER certificate as a structured-field byte sequence."""
    return ":" + base64.b64encode(cert_der).decode() + ":"


def sign(method: str, url: str, body: bytes, key: ec.EllipticCurvePrivateKey, key_id: str,
         created: datetime | None = None, nonce: str | None = None) -> dict[str, str]:
    """Headers (Content-Digest, Signature-Input, Signature) that sign one request."""
    created = created or datetime.now(UTC)
    nonce = nonce or secrets.token_urlsafe(18)
    plain = _PLAIN_URL.fullmatch(url)
    if plain is not None and method.isascii() and method.isalpha() and _PLAIN_STRING.fullmatch(key_id) and _PLAIN_STRING.fullmatch(nonce) and isinstance(
            key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return _sign_direct(method.upper(), plain.group(1) or "/", body, key, key_id, int(created.timestamp()), nonce)
    return sign_reference(method, url, body, key, key_id, created, nonce)


def sign_reference(method: str, url: str, body: bytes, key: ec.EllipticCurvePrivateKey, key_id: str,
                   created: datetime, nonce: str) -> dict[str, str]:
    """The same headers written by http-message-signatures (any URL, key and parameters it accepts)."""
    message = Message(method.upper(), url)
    signer = HTTPMessageSigner(signature_algorithm=ALGORITHM, key_resolver=_OneKey(key))
    signer.sign(message, key_id=key_id, created=created, nonce=nonce, tag=TAG, covered_component_ids=COVERED,
                body=body)
    return message.headers


def _sign_direct(method: str, path: str, body: bytes, key: ec.EllipticCurvePrivateKey, key_id: str, created: int,
                 nonce: str) -> dict[str, str]:
    """The library's headers for COVERED, written without its structured-field object model."""
    digest = f"sha-256=:{base64.b64encode(hashlib.sha256(body).digest()).decode()}:"
    params = (f'{_COVERED_LIST};created={created};keyid="{key_id}";alg="{ALGORITHM.algorithm_id}";'
              f'nonce="{nonce}";tag="{TAG}"')
    base = f'"@method": {method}\n"@path": {path}\n"content-digest": {digest}\n"@signature-params": {params}'
    r, s = decode_dss_signature(key.sign(base.encode(), ec.ECDSA(hashes.SHA256())))
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")  # RFC 9421 3.3.4: r and s, not DER
    return {"Content-Digest": digest, "Signature-Input": f"{LABEL}={params}",
            "Signature": f"{LABEL}=:{base64.b64encode(raw).decode()}:"}
