"""Dealers, users with roles, and terminals: the operations the CLI and the portal share (every change audited)."""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioning import audit
from provisioning.db.models import ROLES, Dealer, Membership, Terminal, TerminalGroup, User

HASHER = PasswordHasher()
NUMBER = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{0,39}$")
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
MIN_PASSWORD = 10


class TenantError(ValueError):
    """A request about dealers, users or terminals that cannot be done, saying which field and why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def create_dealer(session: Session, slug: str, name: str, actor: str = "cli") -> Dealer:
    """A new tenant."""
    if not SLUG.match(slug):
        raise TenantError("dealer", "lower-case letters, digits and dashes, at most 40")
    if session.scalar(select(Dealer).where(Dealer.slug == slug)) is not None:
        raise TenantError("dealer", f"{slug!r} exists already")
    dealer = Dealer(slug=slug, name=name or slug)
    session.add(dealer)
    session.flush()
    audit.record(session, actor=actor, action="dealer.create", dealer_id=dealer.id, target=slug, after={"name": name})
    return dealer


def dealer_by_slug(session: Session, slug: str) -> Dealer:
    """A dealer by its short name, or a clear error."""
    dealer = session.scalar(select(Dealer).where(Dealer.slug == slug))
    if dealer is None:
        raise TenantError("dealer", f"no dealer {slug!r}")
    return dealer


def add_user(session: Session, dealer: Dealer, email: str, password: str, role: str, actor: str,
             name: str = "", locale: str = "en") -> User:
    """A user with a role at a dealer (an existing user gets the role added)."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 200:
        raise TenantError("email", "expected an e-mail address")
    if role not in ROLES:
        raise TenantError("role", f"expected one of {', '.join(ROLES)}")
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        if len(password) < MIN_PASSWORD:
            raise TenantError("password", f"at least {MIN_PASSWORD} characters")
        user = User(email=email, name=name, password_hash=HASHER.hash(password), locale=locale)
        session.add(user)
        session.flush()
    elif session.scalar(select(Membership).where(Membership.user_id == user.id,
                                                 Membership.dealer_id == dealer.id)) is not None:
        raise TenantError("email", f"{email} already has a role at this dealer")
    session.add(Membership(user_id=user.id, dealer_id=dealer.id, role=role))
    audit.record(session, actor=actor, action="user.add", dealer_id=dealer.id, target=email, after={"role": role})
    return user


def set_role(session: Session, dealer: Dealer, user_id: int, role: str, actor: str) -> None:
    """Change a user's role at this dealer."""
    if role not in ROLES:
        raise TenantError("role", f"expected one of {', '.join(ROLES)}")
    membership = session.scalar(select(Membership).where(Membership.user_id == user_id,
                                                         Membership.dealer_id == dealer.id))
    if membership is None:
        raise TenantError("user", "not a user of this dealer")
    user = session.get(User, user_id)
    before = membership.role
    membership.role = role
    audit.record(session, actor=actor, action="user.role", dealer_id=dealer.id, target=user.email if user else "",
                 before={"role": before}, after={"role": role})


def add_terminal(session: Session, dealer: Dealer, number: str, address: str, timezone: str, group: str,
                 actor: str) -> Terminal:
    """A new terminal of this dealer, not yet enrolled."""
    number = number.strip()
    if not NUMBER.match(number):
        raise TenantError("number", "letters, digits, '-' or '_', at most 40")
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise TenantError("timezone", f"unknown time zone {timezone!r} (e.g. Europe/Moscow)") from exc
    if session.scalar(select(Terminal).where(Terminal.dealer_id == dealer.id, Terminal.number == number)):
        raise TenantError("number", f"terminal {number} exists already")
    group_id = None
    if group.strip():
        found = session.scalar(select(TerminalGroup).where(TerminalGroup.dealer_id == dealer.id,
                                                           TerminalGroup.name == group.strip()))
        if found is None:
            found = TerminalGroup(dealer_id=dealer.id, name=group.strip())
            session.add(found)
            session.flush()
        group_id = found.id
    terminal = Terminal(dealer_id=dealer.id, number=number, address=address.strip(), timezone=timezone,
                        group_id=group_id)
    session.add(terminal)
    session.flush()
    audit.record(session, actor=actor, action="terminal.add", dealer_id=dealer.id, target=f"terminal {number}",
                 after={"address": terminal.address, "timezone": timezone, "group": group.strip()})
    return terminal


def terminal_of_dealer(session: Session, dealer_id: int, terminal_id: int) -> Terminal | None:
    """A terminal only if it belongs to this dealer (tenant scoping)."""
    return session.scalar(select(Terminal).where(Terminal.id == terminal_id, Terminal.dealer_id == dealer_id))


def terminal_by_number(session: Session, dealer_id: int, number: str) -> Terminal:
    """A dealer's terminal by number, or a clear error."""
    terminal = session.scalar(select(Terminal).where(Terminal.dealer_id == dealer_id, Terminal.number == number))
    if terminal is None:
        raise TenantError("number", f"no terminal {number}")
    return terminal


def mark_online(terminal: Terminal, now: datetime, version: str) -> None:
    """A heartbeat arrived: the terminal is online now."""
    terminal.last_seen_at, terminal.online = now, True
    if version:
        terminal.version = version[:40]
