"""Support's pages over uploaded journals: one search box (terminal/operation, the receipt's QR, processing ids),
searches, the payment's whole story, the fleet's needs-attention queue, a terminal's encashments; and the same
lookup as JSON for programs. Scoped by the signed-in person's dealer like every portal page."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from provisioning.corrections import service as correction_service
from provisioning.db.models import utcnow
from provisioning.journal import lookup
from provisioning.portal import lookup_texts  # noqa: F401  (adds this area's words to the portal's)
from provisioning.portal.routes import ROUTE_PERMISSIONS, PortalError, _own_terminal, language, render, signed

router = APIRouter(include_in_schema=False)
VIEW = "lookup.view"


def page(method: str, path: str, permission: str) -> Any:
    """Register a route of this area with the permission it needs (the authorization test walks them all)."""
    ROUTE_PERMISSIONS[(method, path)] = permission
    return router.api_route(path, methods=[method])


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError as exc:
        raise PortalError(400, "not_found") from exc


def _kopecks(text: str) -> int | None:
    try:
        return int(Decimal(text.replace(",", ".").replace(" ", "")) * 100) if text.strip() else None
    except InvalidOperation as exc:
        raise PortalError(400, "not_found") from exc


def _find(request: Request, dealer_id: int, text: str) -> list[Any]:
    """The payments a search text names, read in one round trip per statement (the hot path of support's desk)."""
    return request.app.state.services.db.read(lambda session: lookup.find(session, dealer_id, text))


@page("GET", "/lookup", VIEW)
def search_page(request: Request, q: str = "", account: str = "", since: str = "", until: str = "",
                amount: str = "", state: str = "", provider: str = "", gateway: str = "") -> Response:
    """The search box; a text naming exactly one payment opens its story."""
    with signed(request, VIEW) as (session, who):
        rows: list[Any] = []
        searched = False
        if q.strip():
            searched = True
            rows = _find(request, who.dealer_id, q)
            if len(rows) == 1:
                terminal, op = rows[0]
                return RedirectResponse(f"/lookup/terminals/{terminal.id}/operations/{op.operation}", 303)
        elif any((account, since, until, amount, state, provider, gateway)):
            searched = True
            rows = lookup.search(session, who.dealer_id, lookup.Search(
                account=account, since=_date(since), until=_date(until), amount=_kopecks(amount), state=state,
                provider=provider, gateway=gateway))
        form = {"q": q, "account": account, "since": since, "until": until, "amount": amount, "state": state,
                "provider": provider, "gateway": gateway}
        return render(request, "lookup_search.html", who, rows=rows, searched=searched, form=form)


@page("GET", "/lookup/terminals/{terminal_id}/operations/{operation}", VIEW)
def story_page(terminal_id: int, operation: int, request: Request) -> Response:
    """The payment's whole story (every operation with this number: a number reused after a restore shows both)."""
    with signed(request, VIEW) as (session, who):
        terminal = _own_terminal(session, who, terminal_id)
        stories = [(lookup.story(session, terminal, op, language(request)), lookup.versions(session, terminal, op))
                   for _, op in lookup.by_number(session, who.dealer_id, terminal.number, operation)]
        corrections = correction_service.for_payment(session, terminal.id, operation, utcnow())
        for story, _ in stories:
            story.corrections = correction_service.story_events(corrections)
        return render(request, "lookup_story.html", who, terminal=terminal, operation=operation, stories=stories,
                      corrections=corrections, offered=correction_service.offered)


@page("GET", "/lookup/attention", VIEW)
def attention_page(request: Request) -> Response:
    """The fleet's payments that need a person, oldest first, with age and reason."""
    with signed(request, VIEW) as (session, who):
        rows = lookup.attention(session, who.dealer_id, lang=language(request))
        return render(request, "lookup_attention.html", who, rows=rows)


@page("GET", "/lookup/terminals/{terminal_id}/encashments", VIEW)
def encashments_page(terminal_id: int, request: Request) -> Response:
    """A terminal's encashments with their differences."""
    with signed(request, VIEW) as (session, who):
        terminal = _own_terminal(session, who, terminal_id)
        return render(request, "lookup_encashments.html", who, terminal=terminal,
                      rows=lookup.encashments(session, terminal))


@page("GET", "/api/v1/lookup", VIEW)
def lookup_api(request: Request, q: str = "") -> Response:
    """The same lookup as JSON (signed-in portal session): every story the text names, money in kopecks."""
    with signed(request, VIEW) as (session, who):
        found = []
        for terminal, op in _find(request, who.dealer_id, q) if q.strip() else []:
            story = lookup.story(session, terminal, op)
            story.corrections = correction_service.story_of(session, terminal.id, op.operation, utcnow())
            versions = [{**v, "received_at": v["received_at"].isoformat()}
                        for v in lookup.versions(session, terminal, op)]
            found.append({"terminal_timezone": terminal.timezone, **story.as_json(), "versions": versions})
        return JSONResponse({"query": q, "found": found})
