"""Proving that a request comes from an enrolled terminal: RFC 9421 signature by the key its certificate holds,
fresh, never seen before (nonces kept in the database so every server shares them), certificate issued by this
CA, not expired, not revoked, and naming the terminal the request is about."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from http_message_signatures import HTTPMessageVerifier, HTTPSignatureKeyResolver, InvalidSignature
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from kiosk.dealer_link.signing import ALGORITHM, CLIENT_CERT_HEADER, COVERED, TAG, Message
from provisioning.db.models import Certificate, Dealer, SeenNonce, Terminal
from provisioning.identity.ca import CertificateAuthority


class RequestRefused(Exception):
    """A terminal request that is not accepted; `reason` is what the audit log says."""

    def __init__(self, reason: str, key_id: str = "", status: int = 401) -> None:
        super().__init__(reason)
        self.reason, self.key_id, self.status = reason, key_id, status


@dataclass(frozen=True)
class VerifiedTerminal:
    """The terminal a request was proven to come from."""

    terminal_id: int
    dealer_id: int
    dealer: str
    number: str
    key_id: str
    certificate_id: int


class _DatabaseKeys(HTTPSignatureKeyResolver):
    """Resolves a key id to the public key of a certificate this CA issued, remembering the row for later checks."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.row: tuple[Certificate, Terminal, Dealer] | None = None
        self.key_id = ""

    def resolve_public_key(self, key_id: str) -> Any:
        self.key_id = key_id
        found = self.session.execute(
            select(Certificate, Terminal, Dealer).join(Terminal, Certificate.terminal_id == Terminal.id)
            .join(Dealer, Terminal.dealer_id == Dealer.id).where(Certificate.fingerprint == key_id)).first()
        if found is None:
            return None
        self.row = (found[0], found[1], found[2])
        return x509.load_pem_x509_certificate(found[0].pem.encode()).public_key()

    def resolve_private_key(self, key_id: str) -> Any:
        raise NotImplementedError("the service never signs as a terminal")


def _presented_certificate(headers: dict[str, str]) -> x509.Certificate | None:
    value = next((v for k, v in headers.items() if k.lower() == CLIENT_CERT_HEADER.lower()), None)
    if not value:
        return None
    try:
        return x509.load_der_x509_certificate(base64.b64decode(value.strip().strip(":")))
    except ValueError:
        return None


def _unknown_key_reason(ca: CertificateAuthority, headers: dict[str, str], key_id: str) -> str:
    cert = _presented_certificate(headers)
    if cert is not None and not ca.issued(cert):
        return f"certificate not issued by this service's CA (issuer {cert.issuer.rfc4514_string()})"
    return f"unknown key id {key_id[:16]}…: no certificate from this CA has it"


def verify_terminal_request(session: Session, ca: CertificateAuthority, *, method: str, url: str,
                            headers: dict[str, str], body: bytes, dealer: str, number: str, now: datetime,
                            max_age: int) -> VerifiedTerminal:
    """Check one request to a terminal route for `dealer`/`number`; raise RequestRefused with the reason."""
    keys = _DatabaseKeys(session)
    verifier = HTTPMessageVerifier(signature_algorithm=ALGORITHM, key_resolver=keys)
    # The library compares `created` with the real clock; the skew we tolerate is the freshness window itself.
    verifier.max_clock_skew = timedelta(seconds=30)
    try:
        results = verifier.verify(Message(method, url, headers), max_age=timedelta(seconds=max_age), body=body,
                                  expect_tag=TAG, require_components=COVERED)
    except InvalidSignature as exc:
        if keys.key_id and keys.row is None:
            raise RequestRefused(_unknown_key_reason(ca, headers, keys.key_id), keys.key_id) from exc
        text = str(exc)
        if "maximum allowable age" in text:
            text = f"stale request: signed more than {max_age} s ago"
        raise RequestRefused(f"signature check failed: {text}", keys.key_id) from exc
    result = results[0]
    assert keys.row is not None  # verify() succeeded, so the key was resolved
    cert, terminal, owner = keys.row
    if cert.revoked_at is not None or terminal.status == "revoked":
        raise RequestRefused(f"certificate {cert.serial} revoked"
                             + (f": {cert.revocation_reason}" if cert.revocation_reason else ""), keys.key_id, 403)
    if now > cert.not_after:
        raise RequestRefused(f"certificate {cert.serial} expired at {cert.not_after.isoformat()}", keys.key_id, 403)
    if now < cert.not_before:
        raise RequestRefused(f"certificate {cert.serial} not valid before {cert.not_before.isoformat()}",
                             keys.key_id, 403)
    if (owner.slug, terminal.number) != (dealer, number):
        raise RequestRefused(f"wrong terminal: key of {owner.slug}/{terminal.number} used for {dealer}/{number}",
                             keys.key_id, 403)
    presented = _presented_certificate(headers)
    if presented is not None and presented.public_bytes(serialization.Encoding.PEM).decode() != cert.pem:
        raise RequestRefused("Client-Cert header does not match the signing key's certificate", keys.key_id, 403)
    nonce = result.nonce
    if not nonce:
        raise RequestRefused("signature has no nonce", keys.key_id)
    if not _remember_nonce(session, keys.key_id, str(nonce), now):
        raise RequestRefused("replayed request: this nonce was already used", keys.key_id)
    return VerifiedTerminal(terminal.id, owner.id, owner.slug, terminal.number, keys.key_id, cert.id)


def _remember_nonce(session: Session, key_id: str, nonce: str, now: datetime) -> bool:
    """Store a nonce; False if any server stored it before (one statement, no savepoint: it is on every request)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = (insert(SeenNonce).values(key_id=key_id, nonce=nonce, seen_at=now).on_conflict_do_nothing()
                 .returning(SeenNonce.nonce))
    return session.execute(statement).first() is not None


def forget_old_nonces(session: Session, now: datetime, max_age: int) -> int:
    """Drop nonces older than the freshness window (a request that old is refused as stale anyway)."""
    cutoff = now - timedelta(seconds=max_age + 60)
    result = session.execute(delete(SeenNonce).where(SeenNonce.seen_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
