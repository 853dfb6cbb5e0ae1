"""The portal's corrections: the form (`/corrections/new?terminal=T&operation=N[&kind=K][&note=TEXT]`, linked from the
payment's story and the reconciliation report), the list with approvals waiting, one correction with its steps, the
second person's approve / reject; and the same as JSON under `/api/v1/corrections` (signed-in portal session; a POST
carries the session's CSRF token in the `X-CSRF-Token` header)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioning.corrections import service
from provisioning.corrections.models import KINDS
from provisioning.db.models import Terminal, utcnow
from provisioning.journal import lookup
from provisioning.portal import corrections_texts  # noqa: F401  (adds this area's words to the portal's)
from provisioning.portal.auth import Signed
from provisioning.portal.routes import ROUTE_PERMISSIONS, PortalError, render, signed

router = APIRouter(include_in_schema=False)
VIEW, REQUEST, APPROVE = "corrections.view", "corrections.request", "corrections.approve"


def page(method: str, path: str, permission: str) -> Callable[[Any], Any]:
    """Register a corrections route with the permission it needs (the authorization test walks them all)."""
    ROUTE_PERMISSIONS[(method, path)] = permission
    return router.api_route(path, methods=[method])


def _remote(request: Request) -> str:
    return request.client.host if request.client else ""


def _terminal(session: Session, who: Signed, number: str) -> Terminal | None:
    return session.scalar(select(Terminal).where(Terminal.dealer_id == who.dealer_id, Terminal.number == number))


def _ring(request: Request, terminal_id: int) -> None:
    """After the commit: a poll of the terminal waiting on this server hands the command out at once."""
    request.app.state.command_bell.ring(terminal_id)


def _form_context(session: Session, who: Signed, terminal: str, operation: str) -> dict[str, Any]:
    """The payment the form is about (its story's facts and the corrections offered for its state), if uploaded."""
    context: dict[str, Any] = {"payment": None, "offered": list(KINDS), "owner": None}
    owner = _terminal(session, who, terminal.strip()) if terminal.strip() else None
    if owner is not None and operation.strip().isdigit():
        found = lookup.by_number(session, who.dealer_id, owner.number, int(operation))
        if found:
            payment = found[-1][1]
            waiting = lookup.reversal(session, payment) is not None
            context.update(payment=payment, offered=service.offered(payment.state, waiting), owner=owner,
                           story=lookup.story(session, owner, payment))
    return context


@page("GET", "/corrections", VIEW)
def list_page(request: Request) -> Response:
    """The dealer's corrections: those waiting for a second person first, then the newest."""
    with signed(request, VIEW) as (session, who):
        rows = service.listing(session, who.dealer_id, utcnow())
        return render(request, "corrections_list.html", who, rows=rows,
                      waiting=[(c, n) for c, n in rows if c.state == "requested"])


@page("GET", "/corrections/new", REQUEST)
def new_page(request: Request, terminal: str = "", operation: str = "", kind: str = "", note: str = "") -> Response:
    """The form for one payment (terminal number + operation), optionally with the kind and a note filled in."""
    with signed(request, REQUEST) as (session, who):
        form = {"terminal": terminal, "operation": operation, "kind": kind if kind in KINDS else "", "note": note}
        return render(request, "corrections_new.html", who, form=form, error="",
                      **_form_context(session, who, terminal, operation))


@page("POST", "/corrections", REQUEST)
def create(request: Request, terminal: Annotated[str, Form(max_length=40)] = "",
           operation: Annotated[str, Form(max_length=20)] = "", kind: Annotated[str, Form(max_length=20)] = "",
           note: Annotated[str, Form(max_length=1000)] = "", gateway: Annotated[str, Form(max_length=64)] = "",
           account: Annotated[str, Form(max_length=100)] = "", how: Annotated[str, Form(max_length=20)] = "",
           returned_by: Annotated[str, Form(max_length=200)] = "",
           returned_at: Annotated[str, Form(max_length=40)] = "", csrf: Annotated[str, Form()] = "") -> Response:
    """Request a correction (audited); one that moves no money goes to the terminal at once."""
    given = {"gateway": gateway, "account": account, "how": how, "returned_by": returned_by,
             "returned_at": returned_at}
    with signed(request, REQUEST, csrf, post=True) as (session, who):
        owner = _terminal(session, who, terminal.strip())
        try:
            if owner is None or not operation.strip().isdigit():
                raise service.CorrectionError("terminal and operation: a terminal of yours and a number",
                                              "not_found", 404)
            with session.begin_nested():  # a refusal undoes only this correction's writes
                made = service.request(session, owner, int(operation), kind, given, note, who.email, utcnow(),
                                       _remote(request))
            made_id, terminal_id, sent = made.id, owner.id, made.state == "sent"
        except service.CorrectionError as exc:
            form = {"terminal": terminal, "operation": operation, "kind": kind, "note": note, **given}
            return render(request, "corrections_new.html", who, form=form, error=str(exc),
                          **_form_context(session, who, terminal, operation))
    if sent:
        _ring(request, terminal_id)
    return RedirectResponse(f"/corrections/{made_id}", 303)


@page("GET", "/corrections/{correction_id}", VIEW)
def one_page(correction_id: int, request: Request, error: str = "") -> Response:
    """One correction: what, for which payment, each step with who and when, the terminal's result."""
    with signed(request, VIEW) as (session, who):
        correction = _own(session, who, correction_id)
        terminal = session.get(Terminal, correction.terminal_id)
        result = json.loads(correction.result) if correction.result else None
        return render(request, "corrections_one.html", who, c=correction, terminal=terminal,
                      arguments=json.loads(correction.arguments), steps=service.steps(correction), result=result,
                      error=error, pending=correction.state == "sent")


def _own(session: Session, who: Signed, correction_id: int) -> Any:
    try:
        return service.one(session, who.dealer_id, correction_id, utcnow())
    except service.CorrectionError as exc:
        raise PortalError(404, "not_found") from exc


def _decide(request: Request, correction_id: int, csrf: str, decide: Callable[..., Any]) -> Response:
    terminal_id = 0
    with signed(request, APPROVE, csrf, post=True) as (session, who):
        correction = _own(session, who, correction_id)
        try:
            with session.begin_nested():
                decide(session, correction, who.email, utcnow(), _remote(request))
            terminal_id = correction.terminal_id if correction.state == "sent" else 0
        except service.CorrectionError as exc:
            return RedirectResponse(f"/corrections/{correction_id}?error={exc.key}", 303)
    if terminal_id:
        _ring(request, terminal_id)
    return RedirectResponse(f"/corrections/{correction_id}", 303)


@page("POST", "/corrections/{correction_id}/approve", APPROVE)
def approve(correction_id: int, request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    """The second person approves: the correction goes to the terminal (never the requester's own)."""
    return _decide(request, correction_id, csrf, service.approve)


@page("POST", "/corrections/{correction_id}/reject", APPROVE)
def reject(correction_id: int, request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    """The second person refuses: nothing is sent."""
    return _decide(request, correction_id, csrf, service.reject)


# -- the API (JSON; the same rules) ---------------------------------------------------------------------------------

@page("GET", "/api/v1/corrections", VIEW)
def api_list(request: Request) -> Response:
    """The dealer's corrections as JSON (waiting approvals first)."""
    with signed(request, VIEW) as (session, who):
        return JSONResponse({"corrections": [service.as_json(c, n)
                                             for c, n in service.listing(session, who.dealer_id, utcnow())]})


@page("GET", "/api/v1/corrections/{correction_id}", VIEW)
def api_one(correction_id: int, request: Request) -> Response:
    """One correction as JSON, with its steps."""
    with signed(request, VIEW) as (session, who):
        correction = _own(session, who, correction_id)
        terminal = session.get(Terminal, correction.terminal_id)
        steps = [{**s, "at": s["at"].isoformat()} for s in service.steps(correction)]
        return JSONResponse({**service.as_json(correction, terminal.number if terminal else ""), "steps": steps})


def _api_error(exc: service.CorrectionError) -> Response:
    return JSONResponse({"error": exc.key, "detail": str(exc)}, status_code=exc.status)


@router.post("/api/v1/corrections")
def api_create(request: Request, body: Annotated[dict[str, Any], Body()]) -> Response:
    """Request a correction: {"terminal", "operation", "kind", "note", "gateway" | "account" | refund's fields}."""
    sent = 0
    with signed(request, REQUEST, request.headers.get("x-csrf-token", ""), post=True) as (session, who):
        owner = _terminal(session, who, str(body.get("terminal", "")))
        try:
            if owner is None:
                raise service.CorrectionError("terminal: not one of yours", "not_found", 404)
            with session.begin_nested():
                made = service.request(session, owner, int(body.get("operation", 0)), str(body.get("kind", "")),
                                       body, str(body.get("note", "")), who.email, utcnow(), _remote(request))
        except (TypeError, ValueError) as exc:
            if isinstance(exc, service.CorrectionError):
                return _api_error(exc)
            return JSONResponse({"error": "bad_request", "detail": "operation: a number"}, status_code=400)
        reply = service.as_json(made, owner.number)
        sent = owner.id if made.state == "sent" else 0
    if sent:
        _ring(request, sent)
    return JSONResponse(reply, status_code=201)


def _api_decide(request: Request, correction_id: int, decide: Callable[..., Any]) -> Response:
    sent = 0
    with signed(request, APPROVE, request.headers.get("x-csrf-token", ""), post=True) as (session, who):
        correction = _own(session, who, correction_id)
        try:
            with session.begin_nested():
                decide(session, correction, who.email, utcnow(), _remote(request))
        except service.CorrectionError as exc:
            return _api_error(exc)
        terminal = session.get(Terminal, correction.terminal_id)
        reply = service.as_json(correction, terminal.number if terminal else "")
        sent = correction.terminal_id if correction.state == "sent" else 0
    if sent:
        _ring(request, sent)
    return JSONResponse(reply)


@router.post("/api/v1/corrections/{correction_id}/approve")
def api_approve(correction_id: int, request: Request) -> Response:
    """The second person approves (403 for the requester)."""
    return _api_decide(request, correction_id, service.approve)


@router.post("/api/v1/corrections/{correction_id}/reject")
def api_reject(correction_id: int, request: Request) -> Response:
    """The second person refuses."""
    return _api_decide(request, correction_id, service.reject)
