"""The portal's charge registry pages: upload a provider's registry (accepted whole or refused with row-level errors),
the list of uploads, one upload with its errors or accounts, one account's debt, meters, history and payments; and
the same as JSON under /api/v1/charges for programs (signed-in portal session, like the lookup API)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from provisioning import tenants
from provisioning.charges import booking, store
from provisioning.charges.models import ChargeAccount, ChargeRegistry
from provisioning.charges.parse import MAX_BYTES
from provisioning.config.vault import vault_of
from provisioning.db.models import Terminal
from provisioning.portal import charges_texts  # noqa: F401  (adds this area's words to the portal's)
from provisioning.portal.routes import (
    ROUTE_PERMISSIONS,
    PortalError,
    _remote,
    _svc,
    render,
    signed,
    templates,
)

router = APIRouter(include_in_schema=False)
VIEW, LOAD, KEYS = "charges.view", "charges.load", "charges.keys"


templates.env.filters["charges_rub"] = store.rub  # money on these pages: exact decimal text of kopecks


def page(method: str, path: str, permission: str) -> Any:
    """Register a charges route with the permission it needs (in the portal's one permission table)."""
    ROUTE_PERMISSIONS[(method, path)] = permission
    return router.api_route(path, methods=[method])


def _list(request: Request, session: Any, who: Any, status: int = 200, **extra: Any) -> Response:
    return render(request, "charges_list.html", who, status=status, rows=store.registries(session, who.dealer_id),
                  providers=store.providers(session, who.dealer_id), splits=store.SPLITS, **extra)


async def _read(file: UploadFile | None) -> tuple[str, bytes]:
    if file is None:
        return "", b""
    return (file.filename or "registry")[:200], await file.read(MAX_BYTES + 1)


def _load(request: Request, csrf: str, provider: str, split: str, filename: str, data: bytes) -> store.Loaded:
    with signed(request, LOAD, csrf, post=True) as (session, who):
        return store.load(session, who.dealer_id, provider, filename, data, who.email, split, _remote(request))


@page("GET", "/charges", VIEW)
def charges(request: Request) -> Response:
    """The dealer's uploads, newest first, the upload form and the account search."""
    with signed(request, VIEW) as (session, who):
        return _list(request, session, who)


@page("POST", "/charges", LOAD)
async def upload(request: Request, registry: Annotated[UploadFile | None, File()] = None,
                 provider: Annotated[str, Form(max_length=64)] = "", split: Annotated[str, Form()] = "proportional",
                 csrf: Annotated[str, Form()] = "") -> Response:
    """Upload a registry: an accepted or refused one opens its page (a refused one lists its errors)."""
    filename, data = await _read(registry)
    try:
        loaded = await run_in_threadpool(_load, request, csrf, provider.strip(), split, filename, data)
    except store.ChargesError as exc:
        with signed(request, LOAD, csrf, post=True) as (session, who):
            return _list(request, session, who, status=400, error=str(exc), provider=provider)
    return RedirectResponse(f"/charges/{loaded.registry.id}", 303)


@page("GET", "/charges/keys", KEYS)
def keys_page(request: Request) -> Response:
    """The keys terminals sign the debt lookup with (their secrets are never shown again)."""
    with signed(request, KEYS) as (session, who):
        return _keys(request, session, who)


def _keys(request: Request, session: Any, who: Any, status: int = 200, **extra: Any) -> Response:
    terminals = {t.id: t.number for t in session.scalars(select(Terminal).where(Terminal.dealer_id == who.dealer_id))}
    return render(request, "charges_keys.html", who, status=status, keys=booking.keys(session, who.dealer_id),
                  terminals=terminals, **extra)


@page("POST", "/charges/keys", KEYS)
def add_key(request: Request, provider: Annotated[str, Form(max_length=64)] = "",
            terminal: Annotated[str, Form(max_length=40)] = "", csrf: Annotated[str, Form()] = "") -> Response:
    """A new key for a provider (optionally one terminal): its secret is shown on this answer only."""
    with signed(request, KEYS, csrf, post=True) as (session, who):
        try:
            store.check_provider(provider.strip())
            bound = tenants.terminal_by_number(session, who.dealer_id, terminal.strip()) if terminal.strip() else None
        except tenants.TenantError as exc:
            return _keys(request, session, who, status=400, error=str(exc))
        key_id, secret = booking.create_key(session, vault_of(_svc(request).settings.state_dir), who.dealer_id,
                                            provider.strip(), who.email, bound)
        session.flush()
        return _keys(request, session, who, created=(key_id, secret))


@page("POST", "/charges/keys/revoke", KEYS)
def revoke_key(request: Request, key_id: Annotated[str, Form(max_length=64)] = "",
               csrf: Annotated[str, Form()] = "") -> Response:
    """Stop accepting a key at once."""
    with signed(request, KEYS, csrf, post=True) as (session, who):
        if not booking.revoke_key(session, who.dealer_id, key_id, who.email):
            raise PortalError(404, "not_found")
    return RedirectResponse("/charges/keys", 303)


@page("GET", "/charges/accounts", VIEW)
def account_page(request: Request, provider: str = "", account: str = "") -> Response:
    """An account's current debt by service, its meters, every registry that stated it, and payments booked here."""
    with signed(request, VIEW) as (session, who):
        found = store.history(session, who.dealer_id, provider.strip(), account.strip())
        views = [(a, r, store.debt_object(a, r), json.loads(a.services)) for a, r in found]
        paid = store.payments(session, who.dealer_id, provider.strip(), account.strip())
        return render(request, "charges_account.html", who, provider=provider,
                      account=account, views=views, payments=[(p, json.loads(p.details)) for p in paid])


@page("GET", "/charges/{registry_id}", VIEW)
def registry_page(registry_id: int, request: Request, account: str = "") -> Response:
    """One upload: its errors when refused, its accounts when accepted."""
    with signed(request, VIEW) as (session, who):
        row = store.registry(session, who.dealer_id, registry_id)
        if row is None:
            raise PortalError(404, "not_found")
        return render(request, "charges_registry.html", who, registry=row, errors=store.errors_of(row),
                      accounts=store.accounts(session, row.id, account.strip()), search=account)


# ---- the same for programs -------------------------------------------------------------------------------------------

def _registry_json(row: ChargeRegistry) -> dict[str, Any]:
    return {"id": row.id, "provider": row.provider, "period": row.period, "split": row.split, "status": row.status,
            "filename": row.filename, "sha256": row.sha256, "accounts": row.accounts, "total": row.total,
            "uploaded_by": row.uploaded_by, "uploaded_at": row.uploaded_at.isoformat(), "errors": store.errors_of(row)}


@page("POST", "/api/v1/charges/registries", LOAD)
async def upload_api(request: Request, registry: Annotated[UploadFile | None, File()] = None,
                     provider: Annotated[str, Form(max_length=64)] = "",
                     split: Annotated[str, Form()] = "proportional", csrf: Annotated[str, Form()] = "") -> Response:
    """Upload a registry (multipart: registry, provider, split, csrf); 200 accepted, 422 refused with its errors."""
    filename, data = await _read(registry)
    try:
        loaded = await run_in_threadpool(_load, request, csrf, provider.strip(), split, filename, data)
    except store.ChargesError as exc:
        return JSONResponse({"status": "refused", "errors": [{"line": 0, "column": exc.field,
                                                              "message": exc.message}]}, 400)
    return JSONResponse(_registry_json(loaded.registry), 200 if loaded.accepted else 422)


@page("GET", "/api/v1/charges/registries/{registry_id}", VIEW)
def registry_api(registry_id: int, request: Request) -> Response:
    """One upload as JSON (money in kopecks)."""
    with signed(request, VIEW) as (session, who):
        row = store.registry(session, who.dealer_id, registry_id)
        if row is None:
            raise PortalError(404, "not_found")
        return JSONResponse(_registry_json(row))


@page("GET", "/api/v1/charges/accounts", VIEW)
def account_api(request: Request, provider: str = "", account: str = "") -> Response:
    """An account's debt objects (the protocol's shape), newest period first; an empty list when none has it."""
    with signed(request, VIEW) as (session, who):
        found: list[tuple[ChargeAccount, ChargeRegistry]] = store.history(session, who.dealer_id, provider, account)
        return JSONResponse({"provider": provider, "account": account,
                             "registries": [{"registry": r.id, **store.debt_object(a, r)} for a, r in found]})
