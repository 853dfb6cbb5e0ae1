"""Proving that a request comes from an enrolled terminal: RFC 9421 signature by the key its certificate holds,
fresh, never seen before (nonces kept in the database so every server shares them), certificate issued by this
CA, not expired, not revoked, and naming the terminal the request is about."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from http_message_signatures import HTTPMessageVerifier, HTTPSignatureKeyResolver, InvalidSignature
from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from kiosk.dealer_link.signing import ALGORITHM, CLIENT_CERT_HEADER, COVERED, TAG, Message
from provisioning.db.models import Certificate, Dealer, SeenNonce, Terminal
from provisioning.identity.ca import CertificateAuthority
from provisioning.identity.fast_signature import verify_fast

REPLAYED = "replayed request: this nonce was already used"
# The library compares `created` with the real clock; the skew we tolerate is the freshness window itself.
CLOCK_SKEW = timedelta(seconds=30)


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


@dataclass(frozen=True)
class EnrolledKey:
    """What a certificate row says about its key: fixed for the certificate's life, so a process may cache it.
    Revocation is not here: it changes, and is read from the database on every request."""

    key_id: str
    public_key: Any
    certificate_id: int
    serial: str
    pem: str
    der: bytes
    not_before: datetime
    not_after: datetime
    terminal_id: int
    dealer_id: int
    dealer: str
    number: str


def load_enrolled_key(session: Session, key_id: str) -> EnrolledKey | None:
    """The certificate this CA issued with SHA-256 fingerprint `key_id`, with its terminal and dealer (one query)."""
    found = session.execute(
        select(Certificate.id, Certificate.serial, Certificate.pem, Certificate.not_before, Certificate.not_after,
               Terminal.id, Dealer.id, Dealer.slug, Terminal.number)
        .join(Terminal, Certificate.terminal_id == Terminal.id).join(Dealer, Terminal.dealer_id == Dealer.id)
        .where(Certificate.fingerprint == key_id)).first()
    if found is None:
        return None
    cert_id, serial, pem, not_before, not_after, terminal_id, dealer_id, slug, number = found
    cert = x509.load_pem_x509_certificate(pem.encode())
    return EnrolledKey(key_id, cert.public_key(), cert_id, serial, pem, cert.public_bytes(serialization.Encoding.DER),
                       not_before, not_after, terminal_id, dealer_id, slug, number)


class KeyCache:
    """Per-process cache of enrolled keys (parsing a certificate and joining three tables on every request is most
    of a heartbeat's cost); entries live `ttl` seconds so a row changed by hand is seen soon. Only facts that never
    change for a certificate are kept: revocation is checked in the database on every request, at once."""

    def __init__(self, ttl: float = 300.0, max_entries: int = 100_000) -> None:
        self.ttl, self.max_entries = ttl, max_entries
        self._entries: dict[str, tuple[float, EnrolledKey]] = {}

    def peek(self, key_id: str, stale: bool = False) -> EnrolledKey | None:
        """The key if it is cached (and fresh, unless `stale`: for a caller that checks the cached facts against the
        database in the same request); no database I/O, so the event loop may call it."""
        entry = self._entries.get(key_id)
        return entry[1] if entry is not None and (stale or entry[0] > time.monotonic()) else None

    def forget(self, key_id: str) -> None:
        """Drop a cached key (its row changed): the next request reads it again."""
        self._entries.pop(key_id, None)

    def get(self, session_factory: Callable[[], AbstractContextManager[Session]], key_id: str) -> EnrolledKey | None:
        """The key for `key_id`, from the cache or (on a miss or after the TTL) from the database."""
        now = time.monotonic()
        entry = self._entries.get(key_id)
        if entry is not None and entry[0] > now:
            return entry[1]
        with session_factory() as session:
            key = load_enrolled_key(session, key_id)
        if key is not None:  # unknown ids are not cached: a terminal enrolled a moment ago must work at once
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key_id] = (now + self.ttl, key)
        return key


class _Keys(HTTPSignatureKeyResolver):
    """Resolves a key id through a lookup, remembering what it found for the checks after the signature."""

    def __init__(self, lookup: Callable[[str], EnrolledKey | None]) -> None:
        self.lookup = lookup
        self.found: EnrolledKey | None = None
        self.key_id = ""

    def resolve_public_key(self, key_id: str) -> Any:
        self.key_id = key_id
        self.found = self.lookup(key_id)
        return self.found.public_key if self.found is not None else None

    def resolve_private_key(self, key_id: str) -> Any:
        raise NotImplementedError("the service never signs as a terminal")


def _presented_der(headers: dict[str, str]) -> bytes | None:
    """The DER bytes of the RFC 9440 Client-Cert header, if one was sent (compared as bytes: no parsing)."""
    value = next((v for k, v in headers.items() if k.lower() == CLIENT_CERT_HEADER.lower()), None)
    if not value:
        return None
    try:
        return base64.b64decode(value.strip().strip(":"))
    except ValueError:
        return b""  # unreadable: matches no certificate


def _presented_certificate(headers: dict[str, str]) -> x509.Certificate | None:
    der = _presented_der(headers)
    if not der:
        return None
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        return None


def _unknown_key_reason(ca: CertificateAuthority, headers: dict[str, str], key_id: str) -> str:
    cert = _presented_certificate(headers)
    if cert is not None and not ca.issued(cert):
        return f"certificate not issued by this service's CA (issuer {cert.issuer.rfc4514_string()})"
    return f"unknown key id {key_id[:16]}…: no certificate from this CA has it"


def check_signature(lookup: Callable[[str], EnrolledKey | None], ca: CertificateAuthority, *, method: str,
                    url: str, headers: dict[str, str], body: bytes, dealer: str, number: str, now: datetime,
                    max_age: int) -> tuple[EnrolledKey, str]:
    """Everything about a request that needs no database write: the RFC 9421 signature by an enrolled key, fresh,
    the certificate valid now and naming `dealer`/`number`, a matching Client-Cert. The key and the nonce; the
    caller checks revocation and stores the nonce (both in the database)."""
    keys = _Keys(lookup)
    fast = verify_fast(keys.resolve_public_key, ALGORITHM, method=method, url=url, headers=headers, body=body,
                       tag=TAG, required=COVERED, max_age=max_age, max_skew=CLOCK_SKEW.total_seconds())
    if fast is not None:
        nonce: object = fast.params.get("nonce")
    else:  # the reference decides, and words the refusal
        verifier = HTTPMessageVerifier(signature_algorithm=ALGORITHM, key_resolver=keys)
        verifier.max_clock_skew = CLOCK_SKEW
        try:
            results = verifier.verify(Message(method, url, headers), max_age=timedelta(seconds=max_age), body=body,
                                      expect_tag=TAG, require_components=COVERED)
        except InvalidSignature as exc:
            if keys.key_id and keys.found is None:
                raise RequestRefused(_unknown_key_reason(ca, headers, keys.key_id), keys.key_id) from exc
            text = str(exc)
            if "maximum allowable age" in text:
                text = f"stale request: signed more than {max_age} s ago"
            raise RequestRefused(f"signature check failed: {text}", keys.key_id) from exc
        nonce = results[0].nonce
    key = keys.found
    assert key is not None  # the signature verified, so the key was resolved
    if now > key.not_after:
        raise RequestRefused(f"certificate {key.serial} expired at {key.not_after.isoformat()}", key.key_id, 403)
    if now < key.not_before:
        raise RequestRefused(f"certificate {key.serial} not valid before {key.not_before.isoformat()}",
                             key.key_id, 403)
    if (key.dealer, key.number) != (dealer, number):
        raise RequestRefused(f"wrong terminal: key of {key.dealer}/{key.number} used for {dealer}/{number}",
                             key.key_id, 403)
    presented = _presented_der(headers)
    if presented is not None and presented != key.der:
        raise RequestRefused("Client-Cert header does not match the signing key's certificate", key.key_id, 403)
    if not nonce:
        raise RequestRefused("signature has no nonce", key.key_id)
    return key, str(nonce)


def revoked_reason(revoked_at: datetime | None, reason: str, terminal_status: str, serial: str) -> str | None:
    """Why a certificate may not be used any more (None while it may)."""
    if revoked_at is None and terminal_status != "revoked":
        return None
    return f"certificate {serial} revoked" + (f": {reason}" if reason else "")


def verify_terminal_request(session: Session, ca: CertificateAuthority, *, method: str, url: str,
                            headers: dict[str, str], body: bytes, dealer: str, number: str, now: datetime,
                            max_age: int) -> VerifiedTerminal:
    """Check one request to a terminal route for `dealer`/`number` inside `session` (revocation read and nonce
    stored in its transaction); raise RequestRefused with the reason."""
    key, nonce = check_signature(lambda key_id: load_enrolled_key(session, key_id), ca, method=method, url=url,
                                 headers=headers, body=body, dealer=dealer, number=number, now=now, max_age=max_age)
    revoked_at, reason, status = session.execute(
        select(Certificate.revoked_at, Certificate.revocation_reason, Terminal.status)
        .join(Terminal, Certificate.terminal_id == Terminal.id).where(Certificate.id == key.certificate_id)).one()
    refusal = revoked_reason(revoked_at, reason, status, key.serial)
    if refusal is not None:
        raise RequestRefused(refusal, key.key_id, 403)
    if not remember_nonce(session, key.key_id, nonce, now):
        raise RequestRefused(REPLAYED, key.key_id)
    return VerifiedTerminal(key.terminal_id, key.dealer_id, key.dealer, key.number, key.key_id, key.certificate_id)


def remember_nonce(executor: Session | Connection, key_id: str, nonce: str, now: datetime) -> bool:
    """Store a nonce; False if any server stored it before (one statement, no savepoint: it is on every request)."""
    dialect = (executor.dialect if isinstance(executor, Connection) else executor.get_bind().dialect).name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = (insert(SeenNonce).values(key_id=key_id, nonce=nonce, seen_at=now).on_conflict_do_nothing()
                 .returning(SeenNonce.nonce))
    return executor.execute(statement).first() is not None


def forget_old_nonces(session: Session, now: datetime, max_age: int) -> int:
    """Drop nonces older than the freshness window (a request that old is refused as stale anyway)."""
    cutoff = now - timedelta(seconds=max_age + 60)
    result = session.execute(delete(SeenNonce).where(SeenNonce.seen_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
