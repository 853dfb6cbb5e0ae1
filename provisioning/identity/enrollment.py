"""Enrollment (one-time code + CSR → certificate), renewal, revocation and the CRL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from provisioning import audit
from provisioning.db.models import AuditEntry, Certificate, Dealer, EnrollmentCode, Terminal
from provisioning.identity import codes
from provisioning.identity.ca import CertificateAuthority, IdentityError, key_id

ENROLL_ATTEMPTS_PER_REMOTE = 20  # refused enrollments from one address within ENROLL_WINDOW before it must wait
ENROLL_WINDOW = timedelta(minutes=10)


class EnrollmentRefused(Exception):
    """An enrollment that is not accepted, with the reason the terminal and the audit log get."""

    def __init__(self, reason: str, status: int = 403, dealer_id: int | None = None, target: str = "") -> None:
        super().__init__(reason)
        self.reason, self.status, self.dealer_id, self.target = reason, status, dealer_id, target


@dataclass(frozen=True)
class Issued:
    """A certificate just issued to a terminal."""

    terminal: Terminal
    dealer: Dealer
    cert: x509.Certificate
    certificate_pem: str


def new_enrollment_code(session: Session, terminal: Terminal, actor: str, now: datetime, hours: int) -> str:
    """Make a terminal's one-time code (older open codes stop working); the text is returned once, never stored."""
    session.execute(update(EnrollmentCode).where(EnrollmentCode.terminal_id == terminal.id,
                                                 EnrollmentCode.state == "open").values(state="replaced"))
    code = codes.new_code()
    session.add(EnrollmentCode(dealer_id=terminal.dealer_id, terminal_id=terminal.id, lookup=code.lookup,
                               code_hash=code.secret_hash, created_by=actor, created_at=now,
                               expires_at=now + timedelta(hours=hours)))
    audit.record(session, actor=actor, action="enrollment_code.create", dealer_id=terminal.dealer_id,
                 target=f"terminal {terminal.number}", after={"expires_in_hours": hours})
    return code.text


def _check_remote_rate(session: Session, remote: str, now: datetime) -> None:
    if not remote:
        return
    refused = session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "terminal.enroll", AuditEntry.outcome == "refused", AuditEntry.remote == remote,
        AuditEntry.at > now - ENROLL_WINDOW)) or 0
    if refused >= ENROLL_ATTEMPTS_PER_REMOTE:
        raise EnrollmentRefused(f"too many refused enrollment attempts from {remote}; wait {ENROLL_WINDOW}", 429)


def _open_code(session: Session, text: str, now: datetime) -> EnrollmentCode:
    """The code row a typed code opens; wrong secrets count against the row and block it."""
    try:
        lookup, secret = codes.split_code(text)
    except codes.CodeError as exc:
        raise EnrollmentRefused(str(exc), 400) from exc
    row = session.scalar(select(EnrollmentCode).where(EnrollmentCode.lookup == lookup).with_for_update())
    if row is None:
        raise EnrollmentRefused("unknown enrollment code")
    target = f"enrollment code {lookup}"
    if not codes.secret_matches(secret, row.code_hash):
        row.failed_attempts += 1
        if row.failed_attempts >= codes.MAX_FAILED_ATTEMPTS and row.state == "open":
            row.state = "blocked"
        # The attempt is counted even though the enrollment is refused: the caller commits it.
        raise EnrollmentRefused("wrong enrollment code", dealer_id=row.dealer_id, target=target)
    if row.state != "open":
        raise EnrollmentRefused(f"enrollment code {row.state}"
                                + ("; ask the dealer for a new one" if row.state != "used" else " already"),
                                dealer_id=row.dealer_id, target=target)
    if now >= row.expires_at:
        row.state = "expired"
        raise EnrollmentRefused(f"enrollment code expired at {row.expires_at.isoformat()}", dealer_id=row.dealer_id,
                                target=target)
    return row


def store_certificate(session: Session, terminal: Terminal, cert: x509.Certificate) -> str:
    """Keep an issued certificate (its fingerprint is the key id requests are signed with)."""
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    session.add(Certificate(dealer_id=terminal.dealer_id, terminal_id=terminal.id, serial=format(cert.serial_number, "x"),
                            fingerprint=key_id(cert), pem=pem, not_before=cert.not_valid_before_utc,
                            not_after=cert.not_valid_after_utc))
    return pem


def enroll(session: Session, ca: CertificateAuthority, code_text: str, csr_pem: bytes, now: datetime, remote: str,
           days: int) -> Issued:
    """Exchange a one-time code and a CSR for a terminal certificate."""
    _check_remote_rate(session, remote, now)
    row = _open_code(session, code_text, now)
    terminal = session.get(Terminal, row.terminal_id)
    dealer = session.get(Dealer, row.dealer_id)
    assert terminal is not None and dealer is not None  # foreign keys
    if terminal.status == "revoked":
        raise EnrollmentRefused(f"terminal {terminal.number} is revoked", dealer_id=dealer.id,
                                target=f"terminal {terminal.number}")
    try:
        cert = ca.issue_terminal(csr_pem, dealer.slug, terminal.number, days=days, now=now)
    except IdentityError as exc:
        raise EnrollmentRefused(str(exc), 400, dealer.id, f"terminal {terminal.number}") from exc
    row.state, row.used_at = "used", now
    pem = store_certificate(session, terminal, cert)
    before = terminal.status
    terminal.status = "enrolled"
    audit.record(session, actor=f"terminal {dealer.slug}/{terminal.number}", action="terminal.enroll",
                 dealer_id=dealer.id, target=f"terminal {terminal.number}", before={"status": before},
                 after={"status": "enrolled", "certificate": format(cert.serial_number, "x")}, remote=remote)
    return Issued(terminal, dealer, cert, pem)


def renew(session: Session, ca: CertificateAuthority, terminal_id: int, csr_pem: bytes, now: datetime,
          days: int) -> Issued:
    """A new certificate for an enrolled terminal (its older ones stay valid until they expire)."""
    terminal = session.get(Terminal, terminal_id)
    assert terminal is not None
    dealer = session.get(Dealer, terminal.dealer_id)
    assert dealer is not None
    try:
        cert = ca.issue_terminal(csr_pem, dealer.slug, terminal.number, days=days, now=now)
    except IdentityError as exc:
        raise EnrollmentRefused(str(exc), 400, dealer.id, f"terminal {terminal.number}") from exc
    pem = store_certificate(session, terminal, cert)
    audit.record(session, actor=f"terminal {dealer.slug}/{terminal.number}", action="terminal.renew",
                 dealer_id=dealer.id, target=f"terminal {terminal.number}",
                 after={"certificate": format(cert.serial_number, "x"), "not_after": cert.not_valid_after_utc})
    return Issued(terminal, dealer, cert, pem)


def revoke(session: Session, terminal: Terminal, actor: str, reason: str, now: datetime) -> None:
    """Refuse a terminal from now on: every certificate it holds goes on the CRL."""
    before = terminal.status
    terminal.status = "revoked"
    terminal.online = False
    session.execute(update(Certificate).where(Certificate.terminal_id == terminal.id, Certificate.revoked_at.is_(None))
                    .values(revoked_at=now, revocation_reason=reason))
    session.execute(update(EnrollmentCode).where(EnrollmentCode.terminal_id == terminal.id,
                                                 EnrollmentCode.state == "open").values(state="replaced"))
    audit.record(session, actor=actor, action="terminal.revoke", dealer_id=terminal.dealer_id,
                 target=f"terminal {terminal.number}", before={"status": before},
                 after={"status": "revoked", "reason": reason})


def certificate_revocation_list(session: Session, ca: CertificateAuthority) -> bytes:
    """The CRL in PEM: every revoked certificate this CA issued."""
    rows = session.execute(select(Certificate.serial, Certificate.revoked_at)
                           .where(Certificate.revoked_at.is_not(None))).all()
    return ca.crl([(int(serial, 16), when) for serial, when in rows if when is not None])
