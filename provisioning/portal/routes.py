"""The portal's pages. Every route names the permission it needs (auth.PERMISSIONS); every query is scoped by the
signed-in person's dealer, so another dealer's terminal is simply not found."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioning import tenants
from provisioning.commands.service import recent as recent_commands
from provisioning.context import Services
from provisioning.db.models import (
    ROLES,
    AuditEntry,
    Certificate,
    Dealer,
    EnrollmentCode,
    Membership,
    Terminal,
    TerminalGroup,
    User,
    utcnow,
)
from provisioning.identity import enrollment
from provisioning.monitor.rules import fiscal_threshold
from provisioning.monitor.state import fiscal_drive, latest_payloads
from provisioning.portal import auth
from provisioning.portal.i18n import LANGUAGES, pick_language, translator

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
LANG_COOKIE = "lang"
ROUTE_PERMISSIONS: dict[tuple[str, str], str] = {}  # (method, path) → permission; public pages are not listed
PUBLIC_PAGES = {("GET", "/login"), ("POST", "/login"), ("POST", "/logout"), ("GET", "/lang/{code}"), ("GET", "/"),
                ("POST", "/dealer")}


class PortalError(Exception):
    """Stops a page: redirect to sign-in (401), forbidden (403), not found (404), expired form (400)."""

    def __init__(self, status: int, key: str) -> None:
        super().__init__(key)
        self.status, self.key = status, key


def page(method: str, path: str, permission: str) -> Callable[[Any], Any]:
    """Register a portal route with the permission it needs."""
    ROUTE_PERMISSIONS[(method, path)] = permission
    return router.api_route(path, methods=[method])


def _svc(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def language(request: Request) -> str:
    """The page language: cookie, else the browser's preference."""
    return pick_language(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


@contextmanager
def signed(request: Request, permission: str, csrf: str | None = None,
           post: bool = False) -> Iterator[tuple[Session, auth.Signed]]:
    """A unit of work for a signed-in person allowed to do `permission` (and, for a POST, a valid CSRF token)."""
    with _svc(request).db.session() as session:
        who = auth.signed_in(session, request.cookies.get(auth.COOKIE), utcnow())
        if who is None:
            raise PortalError(401, "sign_in")
        if post and not auth.csrf_ok(who.csrf, csrf):
            raise PortalError(400, "csrf")
        if not who.may(permission):
            raise PortalError(403, "forbidden")
        yield session, who


def render(request: Request, name: str, who: auth.Signed | None, status: int = 200, **context: Any) -> Response:
    """A page in the person's language."""
    lang = language(request)
    return templates.TemplateResponse(request, name, {"t": translator(lang), "lang": lang, "languages": LANGUAGES,
                                                      "who": who, "path": request.url.path, **context},
                                      status_code=status)


def error_page(request: Request, error: PortalError) -> Response:
    """What a PortalError shows."""
    if error.status == 401:
        return RedirectResponse("/login", 303)
    return render(request, "error.html", None, status=error.status, message_key=error.key)


def _remote(request: Request) -> str:
    return request.client.host if request.client else ""


def _online(terminal: Terminal, now: datetime, offline_after: int) -> bool:
    return bool(terminal.last_seen_at and now - terminal.last_seen_at < timedelta(seconds=offline_after))


# ---- sign-in, language, dealer switch ---------------------------------------------------------------------------

@router.get("/")
def home() -> Response:
    """The terminals are the portal's front page."""
    return RedirectResponse("/terminals", 303)


@router.get("/login")
def login_form(request: Request) -> Response:
    """The sign-in form."""
    return render(request, "login.html", None)


@router.post("/login")
def login(request: Request, email: Annotated[str, Form(max_length=200)],
          password: Annotated[str, Form(max_length=200)]) -> Response:
    """Check the password; on success set the session cookie (HttpOnly, SameSite=Strict, Secure over TLS)."""
    svc = _svc(request)
    now = utcnow()
    refused: auth.LoginRefused | None = None
    with svc.db.session() as session:
        try:
            token = auth.sign_in(session, svc.settings, email, password, now, _remote(request))
        except auth.LoginRefused as exc:
            refused = exc  # the counted failure and the audit entry are committed
    if refused is not None:
        return render(request, "login.html", None, status=401, email=email, failed=True,
                      locked_until=refused.locked_until)
    response = RedirectResponse("/terminals", 303)
    response.set_cookie(auth.COOKIE, token, max_age=svc.settings.session_hours * 3600, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")
    return response


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    """End the session (with the form's CSRF token, so another site cannot sign people out)."""
    with _svc(request).db.session() as session:
        who = auth.signed_in(session, request.cookies.get(auth.COOKIE), utcnow())
        if who is not None and auth.csrf_ok(who.csrf, csrf):
            auth.sign_out(session, request.cookies.get(auth.COOKIE))
    response = RedirectResponse("/login", 303)
    response.delete_cookie(auth.COOKIE)
    return response


@router.get("/lang/{code}")
def set_language(code: str, request: Request, next: str = "/terminals") -> Response:
    """Switch the portal's language (a cookie; only local paths are followed afterwards)."""
    target = next if next.startswith("/") and not next.startswith("//") else "/terminals"
    response = RedirectResponse(target, 303)
    if code in LANGUAGES:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="lax")
    return response


@router.post("/dealer")
def switch_dealer(request: Request, dealer_id: Annotated[int, Form()], csrf: Annotated[str, Form()] = "") -> Response:
    """Work as another dealer the person has a role at."""
    with _svc(request).db.session() as session:
        token = request.cookies.get(auth.COOKIE)
        who = auth.signed_in(session, token, utcnow())
        if who is None:
            raise PortalError(401, "sign_in")
        if not auth.csrf_ok(who.csrf, csrf):
            raise PortalError(400, "csrf")
        if not auth.switch_dealer(session, token or "", dealer_id):
            raise PortalError(403, "forbidden")
    return RedirectResponse("/terminals", 303)


# ---- terminals ---------------------------------------------------------------------------------------------------

def _terminal_rows(session: Session, dealer_id: int, now: datetime, offline_after: int) -> list[dict[str, Any]]:
    groups = dict(session.execute(select(TerminalGroup.id, TerminalGroup.name)
                                  .where(TerminalGroup.dealer_id == dealer_id)).all())
    rows = []
    for terminal in session.scalars(select(Terminal).where(Terminal.dealer_id == dealer_id).order_by(Terminal.number)):
        rows.append({"terminal": terminal, "group": groups.get(terminal.group_id or 0, ""),
                     "online": _online(terminal, now, offline_after)})
    return rows


@page("GET", "/terminals", "terminals.view")
def terminals(request: Request) -> Response:
    """The dealer's terminals: number, address, group, online or not, version."""
    with signed(request, "terminals.view") as (session, who):
        svc = _svc(request)
        return render(request, "terminals.html", who,
                      rows=_terminal_rows(session, who.dealer_id, utcnow(), svc.settings.offline_after), form={})


def _code_page(request: Request, who: auth.Signed, terminal: Terminal, code: str) -> Response:
    svc = _svc(request)
    portal = str(request.base_url).rstrip("/")
    return render(request, "code.html", who, terminal=terminal, code=code, fingerprint=svc.ca.fingerprint,
                  expires=utcnow() + timedelta(hours=svc.settings.code_hours), dealer_url=portal)


@page("POST", "/terminals", "terminals.add")
def add_terminal(request: Request, number: Annotated[str, Form(max_length=40)],
                 address: Annotated[str, Form(max_length=300)] = "",
                 timezone: Annotated[str, Form(max_length=64)] = "Europe/Moscow",
                 group: Annotated[str, Form(max_length=100)] = "", csrf: Annotated[str, Form()] = "") -> Response:
    """Add a terminal and show its one-time enrollment code."""
    svc = _svc(request)
    with signed(request, "terminals.add", csrf, post=True) as (session, who):
        dealer = session.get(Dealer, who.dealer_id)
        assert dealer is not None
        try:
            with session.begin_nested():
                terminal = tenants.add_terminal(session, dealer, number, address, timezone, group, who.email)
        except tenants.TenantError as exc:
            rows = _terminal_rows(session, who.dealer_id, utcnow(), svc.settings.offline_after)
            return render(request, "terminals.html", who, status=400, rows=rows, error=exc,
                          form={"number": number, "address": address, "timezone": timezone, "group": group})
        code = enrollment.new_enrollment_code(session, terminal, who.email, utcnow(), svc.settings.code_hours)
        return _code_page(request, who, terminal, code)


def _own_terminal(session: Session, who: auth.Signed, terminal_id: int) -> Terminal:
    terminal = tenants.terminal_of_dealer(session, who.dealer_id, terminal_id)
    if terminal is None:
        raise PortalError(404, "not_found")
    return terminal


@page("GET", "/terminals/{terminal_id}", "terminals.view")
def terminal_page(terminal_id: int, request: Request) -> Response:
    """One terminal: identity, certificates, link state."""
    svc = _svc(request)
    with signed(request, "terminals.view") as (session, who):
        terminal = _own_terminal(session, who, terminal_id)
        certs = session.scalars(select(Certificate).where(Certificate.terminal_id == terminal.id)
                                .order_by(Certificate.not_before.desc())).all()
        group = session.get(TerminalGroup, terminal.group_id) if terminal.group_id else None
        return render(request, "terminal.html", who, terminal=terminal, certs=certs, group=group.name if group else "",
                      online=_online(terminal, utcnow(), svc.settings.offline_after),
                      commands=recent_commands(session, terminal.id, 10) if who.may("commands.view") else [],
                      drive=fiscal_drive(latest_payloads(session, [terminal.id]).get(terminal.id, {})),
                      fiscal_days=fiscal_threshold(session, who.dealer_id))


@page("POST", "/terminals/{terminal_id}/code", "terminals.code")
def new_code(terminal_id: int, request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    """A new one-time enrollment code (the previous one stops working)."""
    svc = _svc(request)
    with signed(request, "terminals.code", csrf, post=True) as (session, who):
        terminal = _own_terminal(session, who, terminal_id)
        if terminal.status == "revoked":
            raise PortalError(400, "status_revoked")
        code = enrollment.new_enrollment_code(session, terminal, who.email, utcnow(), svc.settings.code_hours)
        return _code_page(request, who, terminal, code)


@page("POST", "/terminals/{terminal_id}/revoke", "terminals.revoke")
def revoke(terminal_id: int, request: Request, reason: Annotated[str, Form(max_length=200)] = "",
           csrf: Annotated[str, Form()] = "") -> Response:
    """Revoke a terminal: refused at once, its certificates on the CRL."""
    with signed(request, "terminals.revoke", csrf, post=True) as (session, who):
        terminal = _own_terminal(session, who, terminal_id)
        enrollment.revoke(session, terminal, who.email, reason.strip() or "revoked in the portal", utcnow())
    return RedirectResponse(f"/terminals/{terminal_id}", 303)


@page("GET", "/codes", "codes.view")
def codes(request: Request) -> Response:
    """Enrollment codes: for which terminal, by whom, until when, used or not (never the code itself)."""
    with signed(request, "codes.view") as (session, who):
        rows = session.execute(select(EnrollmentCode, Terminal.number)
                               .join(Terminal, EnrollmentCode.terminal_id == Terminal.id)
                               .where(EnrollmentCode.dealer_id == who.dealer_id)
                               .order_by(EnrollmentCode.created_at.desc()).limit(200)).all()
        return render(request, "codes.html", who, rows=rows, now=utcnow())


# ---- users and audit ---------------------------------------------------------------------------------------------

def _users(session: Session, dealer_id: int) -> list[Any]:
    return list(session.execute(select(User, Membership.role).join(Membership, Membership.user_id == User.id)
                                .where(Membership.dealer_id == dealer_id).order_by(User.email)).all())


@page("GET", "/users", "users.view")
def users(request: Request) -> Response:
    """The dealer's users and their roles."""
    with signed(request, "users.view") as (session, who):
        return render(request, "users.html", who, rows=_users(session, who.dealer_id), roles=ROLES, form={})


@page("POST", "/users", "users.change")
def add_user(request: Request, email: Annotated[str, Form(max_length=200)],
             password: Annotated[str, Form(max_length=200)], role: Annotated[str, Form(max_length=20)],
             name: Annotated[str, Form(max_length=200)] = "", csrf: Annotated[str, Form()] = "") -> Response:
    """Give a person a role at this dealer."""
    with signed(request, "users.change", csrf, post=True) as (session, who):
        dealer = session.get(Dealer, who.dealer_id)
        assert dealer is not None
        try:
            with session.begin_nested():
                tenants.add_user(session, dealer, email, password, role, who.email, name=name)
        except tenants.TenantError as exc:
            return render(request, "users.html", who, status=400, rows=_users(session, who.dealer_id), roles=ROLES,
                          error=exc, form={"email": email, "name": name, "role": role})
    return RedirectResponse("/users", 303)


@page("POST", "/users/{user_id}/role", "users.change")
def change_role(user_id: int, request: Request, role: Annotated[str, Form(max_length=20)],
                csrf: Annotated[str, Form()] = "") -> Response:
    """Change a user's role at this dealer."""
    with signed(request, "users.change", csrf, post=True) as (session, who):
        dealer = session.get(Dealer, who.dealer_id)
        assert dealer is not None
        try:
            tenants.set_role(session, dealer, user_id, role, who.email)
        except tenants.TenantError as exc:
            raise PortalError(404 if exc.field == "user" else 400, "not_found") from exc
    return RedirectResponse("/users", 303)


@page("GET", "/audit", "audit.view")
def audit_log(request: Request) -> Response:
    """The dealer's audit log, newest first."""
    with signed(request, "audit.view") as (session, who):
        rows = session.scalars(select(AuditEntry).where(AuditEntry.dealer_id == who.dealer_id)
                               .order_by(AuditEntry.id.desc()).limit(300)).all()
        return render(request, "audit.html", who, rows=rows)
