"""RFC 9421 HTTP Message Signatures as both ends of the dealer link use them: ECDSA P-256 over the method, the
path and Content-Digest, with `created`, `nonce` and `keyid` (the SHA-256 of the terminal's certificate)."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from http_message_signatures import HTTPMessageSigner, HTTPSignatureKeyResolver, algorithms

ALGORITHM = algorithms.ECDSA_P256_SHA256
COVERED = ("@method", "@path", "content-digest")
TAG = "kiosk-link"
CLIENT_CERT_HEADER = "Client-Cert"  # RFC 9440: what a TLS-terminating proxy forwards; the terminal sends it too


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
    message = Message(method.upper(), url)
    signer = HTTPMessageSigner(signature_algorithm=ALGORITHM, key_resolver=_OneKey(key))
    signer.sign(message, key_id=key_id, created=created or datetime.now(UTC), nonce=nonce or secrets.token_urlsafe(18),
                tag=TAG, covered_component_ids=COVERED, body=body)
    return message.headers
