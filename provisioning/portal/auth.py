"""Portal sign-in: argon2 passwords, lockout after repeated failures, sessions stored in the database (every
server sees them), CSRF tokens per session, and the role each page needs."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from provisioning import audit
from provisioning.db.models import Dealer, Membership, User, WebSession
from provisioning.settings import Settings
from provisioning.tenants import HASHER

COOKIE = "kiosk_dealer_session"

# What each action needs. Every portal route names one of these; the authorization test walks them all.
PERMISSIONS: dict[str, frozenset[str]] = {
    "terminals.view": frozenset({"admin", "support", "technician"}),
    "terminals.add": frozenset({"admin", "technician"}),
    "terminals.code": frozenset({"admin", "technician"}),
    "terminals.revoke": frozenset({"admin"}),
    "groups.change": frozenset({"admin", "technician"}),
    "codes.view": frozenset({"admin", "technician"}),
    "users.view": frozenset({"admin"}),
    "users.change": frozenset({"admin"}),
    "audit.view": frozenset({"admin", "support"}),
    "updates.view": frozenset({"admin", "support", "technician"}),
    "updates.change": frozenset({"admin"}),
    # support reads what terminals did (to answer a payer); only those who run the fleet send commands
    "commands.view": frozenset({"admin", "support", "technician"}),
    "commands.send": frozenset({"admin", "technician"}),
    "commands.fiscal": frozenset({"admin"}),  # settling a fiscal intent decides whether a receipt is made again
    "fleet.view": frozenset({"admin", "support", "technician"}),
    "alerts.view": frozenset({"admin", "support", "technician"}),
    "alerts.rules": frozenset({"admin"}),
    "config.view": frozenset({"admin", "support", "technician"}),
    "config.change": frozenset({"admin", "technician"}),
    "config.secrets": frozenset({"admin"}),  # gateway secrets: write-only, but whoever sets them controls money
    "lookup.view": frozenset({"admin", "support"}),
    # corrections: support asks; money-moving ones need a second person with the approving permission
    "corrections.view": frozenset({"admin", "support"}),
    "corrections.request": frozenset({"admin", "support"}),
    "corrections.approve": frozenset({"admin"}),
    "themes.view": frozenset({"admin", "support", "technician"}),
    "themes.change": frozenset({"admin", "technician"}),
    # registries and reconciliation are money: support builds and reconciles, only admins change where they go
    "registries.view": frozenset({"admin", "support"}),
    "registries.build": frozenset({"admin", "support"}),
    "registries.change": frozenset({"admin"}),
    "reconcile.view": frozenset({"admin", "support"}),
    "reconcile.import": frozenset({"admin", "support"}),
    "turnover.view": frozenset({"admin", "support"}),
    # support answers payers about their debts; what payers are shown as owed is loaded by admins only
    "charges.view": frozenset({"admin", "support"}),
    "charges.load": frozenset({"admin"}),
    "charges.keys": frozenset({"admin"}),  # a key's secret lets a terminal book payments here
}
_DUMMY_HASH = HASHER.hash("timing equaliser: unknown users cost as much as known ones")


class LoginRefused(Exception):
    """A sign-in that did not succeed (wrong password, unknown user, locked account)."""

    def __init__(self, reason: str, locked_until: datetime | None = None) -> None:
        super().__init__(reason)
        self.locked_until = locked_until


@dataclass
class Signed:
    """A signed-in person at one dealer, as a page sees them."""

    user_id: int
    email: str
    dealer_id: int
    dealer_slug: str
    dealer_name: str
    role: str
    csrf: str
    dealers: list[tuple[int, str]]

    def may(self, permission: str) -> bool:
        """Whether this role allows the action."""
        return self.role in PERMISSIONS[permission]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sign_in(session: Session, settings: Settings, email: str, password: str, now: datetime,
            remote: str) -> str:
    """Check a password and open a session; the returned token goes into the cookie."""
    email = email.strip().lower()
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        try:
            HASHER.verify(_DUMMY_HASH, password)
        except VerificationError:
            pass
        audit.record(session, actor=email[:200] or "-", action="user.sign_in", outcome="refused",
                     reason="unknown user", remote=remote)
        raise LoginRefused("unknown user")
    memberships = session.scalars(select(Membership).where(Membership.user_id == user.id)
                                  .order_by(Membership.dealer_id)).all()
    first_dealer = memberships[0].dealer_id if memberships else None
    if user.locked_until is not None and user.locked_until > now:
        audit.record(session, actor=email, action="user.sign_in", dealer_id=first_dealer, outcome="refused",
                     reason="account locked", remote=remote)
        raise LoginRefused("locked", user.locked_until)
    try:
        HASHER.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        user.failed_logins += 1
        reason = f"wrong password ({user.failed_logins} in a row)"
        if user.failed_logins >= settings.max_failed_logins:
            user.locked_until = now + timedelta(minutes=settings.lockout_minutes)
            user.failed_logins = 0
            reason += f"; locked until {user.locked_until.isoformat()}"
        audit.record(session, actor=email, action="user.sign_in", dealer_id=first_dealer, outcome="refused",
                     reason=reason, remote=remote)
        raise LoginRefused("wrong password", user.locked_until if user.locked_until and user.locked_until > now
                           else None) from None
    if not memberships:
        raise LoginRefused("no role at any dealer")
    user.failed_logins, user.locked_until = 0, None
    if HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = HASHER.hash(password)
    token = secrets.token_urlsafe(32)
    session.add(WebSession(token_hash=_hash(token), user_id=user.id, dealer_id=memberships[0].dealer_id,
                           csrf_token=secrets.token_urlsafe(24), created_at=now,
                           expires_at=now + timedelta(hours=settings.session_hours)))
    audit.record(session, actor=email, action="user.sign_in", dealer_id=memberships[0].dealer_id, remote=remote)
    return token


def signed_in(session: Session, token: str | None, now: datetime) -> Signed | None:
    """The person behind a session cookie, or None when it is missing, unknown or expired."""
    if not token:
        return None
    row = session.get(WebSession, _hash(token))
    if row is None or row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    found = session.execute(select(Membership, Dealer).join(Dealer, Membership.dealer_id == Dealer.id)
                            .where(Membership.user_id == row.user_id).order_by(Dealer.slug)).all()
    current = next(((m, d) for m, d in found if d.id == row.dealer_id), None)
    if user is None or current is None:
        return None  # the role was taken away: the session ends
    membership, dealer = current
    return Signed(user.id, user.email, dealer.id, dealer.slug, dealer.name, membership.role, row.csrf_token,
                  [(d.id, d.slug) for _, d in found])


def switch_dealer(session: Session, token: str, dealer_id: int) -> bool:
    """Move a session to another dealer the user has a role at."""
    row = session.get(WebSession, _hash(token))
    if row is None or session.scalar(select(Membership).where(Membership.user_id == row.user_id,
                                                              Membership.dealer_id == dealer_id)) is None:
        return False
    row.dealer_id = dealer_id
    return True


def sign_out(session: Session, token: str | None) -> None:
    """End a session."""
    if token:
        session.execute(delete(WebSession).where(WebSession.token_hash == _hash(token)))


def csrf_ok(expected: str, given: str | None) -> bool:
    """Constant-time comparison of the form's CSRF token with the session's."""
    return bool(given) and hmac.compare_digest(expected, given or "")
