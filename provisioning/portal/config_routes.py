"""Portal pages of pushed configuration: documents and their versions, a quick-edit form and the document's text
(errors next to the field, from the terminal's own loaders), diffs, assignment to terminals and groups, what each
terminal applied, and write-only gateway secrets."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioning.config import form as quick
from provisioning.config import store
from provisioning.config.bundles import assigned_version, rotate_signing_key
from provisioning.config.models import ConfigAssignment, ConfigDocument, ConfigVersion, DealerSigningKey
from provisioning.config.vault import vault_of
from provisioning.db.models import Dealer, Heartbeat, Terminal, TerminalGroup
from provisioning.portal import auth
from provisioning.portal.config_texts import install as install_texts
from provisioning.portal.routes import ROUTE_PERMISSIONS, PortalError, _own_terminal, _svc, render, signed

router = APIRouter(include_in_schema=False)
install_texts()


def page(method: str, path: str, permission: str) -> Callable[[Any], Any]:
    """Register a page of this router with the permission it needs (the authorization matrix walks them all)."""
    ROUTE_PERMISSIONS[(method, path)] = permission
    return router.api_route(path, methods=[method])


def _document(session: Session, who: auth.Signed, document_id: int) -> ConfigDocument:
    document = session.get(ConfigDocument, document_id)
    if document is None or document.dealer_id != who.dealer_id:
        raise PortalError(404, "not_found")
    return document


def _labels(session: Session, dealer_id: int) -> dict[int, str]:
    rows = session.execute(select(ConfigVersion.id, ConfigDocument.name, ConfigVersion.number)
                           .join(ConfigDocument, ConfigVersion.document_id == ConfigDocument.id)
                           .where(ConfigVersion.dealer_id == dealer_id)).all()
    return {vid: f"{name} v{number}" for vid, name, number in rows}


def _targets(session: Session, dealer_id: int) -> dict[str, list[Any]]:
    return {"terminals": list(session.scalars(select(Terminal).where(Terminal.dealer_id == dealer_id)
                                              .order_by(Terminal.number))),
            "groups": list(session.scalars(select(TerminalGroup).where(TerminalGroup.dealer_id == dealer_id)
                                           .order_by(TerminalGroup.name)))}


@page("GET", "/configs", "config.view")
def configs(request: Request) -> Response:
    """The dealer's configuration documents and what is assigned where."""
    with signed(request, "config.view") as (session, who):
        return _list(request, session, who)


def _list(request: Request, session: Session, who: auth.Signed, status: int = 200, **extra: Any) -> Response:
    documents = list(session.scalars(select(ConfigDocument).where(ConfigDocument.dealer_id == who.dealer_id)
                                     .order_by(ConfigDocument.name)))
    latest = {d.id: store.latest(session, d) for d in documents}
    assignments = list(session.scalars(select(ConfigAssignment).where(ConfigAssignment.dealer_id == who.dealer_id)))
    targets = _targets(session, who.dealer_id)
    names = {("terminal", t.id): t.number for t in targets["terminals"]}
    names.update({("group", g.id): g.name for g in targets["groups"]})
    rows = [{"target": ("terminal", a.terminal_id) if a.terminal_id else ("group", a.group_id),
             "version": a.version_id, "by": a.assigned_by, "at": a.assigned_at} for a in assignments]
    signer = session.get(DealerSigningKey, who.dealer_id)
    return render(request, "config_list.html", who, status=status, documents=documents, latest=latest, rows=rows,
                  names=names, labels=_labels(session, who.dealer_id), signer=signer,
                  rotated=request.query_params.get("rotated") == "1", **extra)


@page("POST", "/configs", "config.change")
async def create(request: Request) -> Response:
    """A new document (its first version is the starter configuration)."""
    posted = dict(await request.form())

    def work() -> Response:
        with signed(request, "config.change", str(posted.get("csrf", "")), post=True) as (session, who):
            try:  # refused before anything is written: no savepoint needed
                document = store.create_document(session, who.dealer_id, str(posted.get("name", "")), who.email)
            except store.StoreError as exc:
                return _list(request, session, who, status=400, error=exc)
            return RedirectResponse(f"/configs/{document.id}", 303)

    return await run_in_threadpool(work)


def _document_page(request: Request, session: Session, who: auth.Signed, document: ConfigDocument,
                   status: int = 200, shown: dict[str, str] | None = None, text: str | None = None,
                   errors: dict[str, str] | None = None, text_error: str = "") -> Response:
    versions = store.versions(session, document)
    base = versions[0]
    body = quick.values(store.parse_text(base.body))
    fields = list(body)
    return render(request, "config_document.html", who, status=status, document=document, versions=versions,
                  base=base, values={**body, **(shown or {})}, fields=fields, text=base.body if text is None else text,
                  errors=errors or {}, text_error=text_error, kinds=quick.FEE_KINDS,
                  providers=quick.providers(store.parse_text(base.body)), targets=_targets(session, who.dealer_id))


@page("GET", "/configs/{document_id}", "config.view")
def document_page(document_id: int, request: Request) -> Response:
    """A document: its versions, the quick-edit form, its text, and where to assign it."""
    with signed(request, "config.view") as (session, who):
        return _document_page(request, session, who, _document(session, who, document_id))


@page("POST", "/configs/{document_id}/versions", "config.change")
async def save(document_id: int, request: Request) -> Response:
    """Save a new version from the quick-edit form or from the text; refused with the error next to its field."""
    posted = {k: str(v) for k, v in (await request.form()).items()}

    def work() -> Response:
        with signed(request, "config.change", posted.get("csrf", ""), post=True) as (session, who):
            document = _document(session, who, document_id)
            base = store.versions(session, document)[0]
            comment = posted.get("comment", "")
            if posted.get("mode") == "text":
                text = posted.get("text", "")
            else:
                try:
                    text = store.render(quick.apply(store.parse_text(base.body), posted))
                except quick.FormErrors as exc:
                    return _document_page(request, session, who, document, 400, posted, errors=exc.errors)
            try:  # refused before anything is written
                store.save_version(session, document, text, who.email, comment)
            except store.StoreError as exc:
                if posted.get("mode") == "text":
                    return _document_page(request, session, who, document, 400, text=text,
                                          text_error=f"{exc.field}: {exc.message}" if exc.field else exc.message)
                fields = list(quick.values(store.parse_text(base.body)))
                key = quick.field_for(exc.field, fields)
                errors = {key: exc.message} if key else {"": str(exc)}
                return _document_page(request, session, who, document, 400, posted, errors=errors)
            return RedirectResponse(f"/configs/{document_id}", 303)

    return await run_in_threadpool(work)


@page("GET", "/configs/{document_id}/diff", "config.view")
def diff(document_id: int, request: Request, a: int = 0, b: int = 0) -> Response:
    """Two versions side by side: every changed key, and the unified diff of their texts."""
    with signed(request, "config.view") as (session, who):
        document = _document(session, who, document_id)
        versions = {v.number: v for v in store.versions(session, document)}
        newest = max(versions)
        new = versions.get(b or newest)
        old = versions.get(a or max(1, (b or newest) - 1))
        if new is None or old is None:
            raise PortalError(404, "not_found")
        return render(request, "config_diff.html", who, document=document, old=old, new=new,
                      changes=store.field_diff(old.body, new.body),
                      unified=store.unified_diff(old.body, new.body, (f"v{old.number}", f"v{new.number}")),
                      numbers=sorted(versions))


def _assign_target(raw: str) -> tuple[int | None, int | None]:
    kind, _, ident = raw.partition(":")
    if kind not in ("terminal", "group") or not ident.isdigit():
        raise store.StoreError("target", "choose a terminal or a group")
    return (int(ident), None) if kind == "terminal" else (None, int(ident))


@page("POST", "/configs/{document_id}/assign", "config.change")
async def assign(document_id: int, request: Request) -> Response:
    """Assign a version of this document to a terminal or a group."""
    posted = {k: str(v) for k, v in (await request.form()).items()}

    def work() -> Response:
        with signed(request, "config.change", posted.get("csrf", ""), post=True) as (session, who):
            document = _document(session, who, document_id)
            versions = {str(v.number): v for v in store.versions(session, document)}
            version = versions.get(posted.get("version", ""))
            if version is None:
                raise PortalError(404, "not_found")
            try:
                terminal_id, group_id = _assign_target(posted.get("target", ""))
                store.assign(session, who.dealer_id, version.id, who.email, terminal_id=terminal_id,
                             group_id=group_id)
            except store.StoreError as exc:
                raise PortalError(404, "not_found") from exc
            return RedirectResponse(f"/configs/{document_id}", 303)

    return await run_in_threadpool(work)


@page("GET", "/terminals/{terminal_id}/config", "config.view")
def terminal_config(terminal_id: int, request: Request) -> Response:
    """A terminal's configuration: what is assigned, what it applied or refused, its gateway secrets (never shown)."""
    with signed(request, "config.view") as (session, who):
        terminal = _own_terminal(session, who, terminal_id)
        return _terminal_page(request, session, who, terminal)


def _terminal_page(request: Request, session: Session, who: auth.Signed, terminal: Terminal, status: int = 200,
                   error: store.StoreError | None = None) -> Response:
    version = assigned_version(session, terminal)
    own = session.scalar(select(ConfigAssignment).where(ConfigAssignment.terminal_id == terminal.id))
    latest = session.scalars(select(Heartbeat.payload).where(Heartbeat.terminal_id == terminal.id)
                             .order_by(Heartbeat.id.desc()).limit(1)).first()
    payload = json.loads(latest) if latest else {}
    gateways = sorted(payload.get("gateways", {})) if isinstance(payload.get("gateways"), dict) else []
    return render(request, "config_terminal.html", who, status=status, terminal=terminal, version=version,
                  own=own is not None, labels=_labels(session, who.dealer_id),
                  applied=store.last_report(session, terminal, "applied"), last=store.last_report(session, terminal),
                  heartbeat_version=payload.get("config_version"), secrets=store.secrets_set(session, terminal),
                  gateways=gateways, error=error)


@page("POST", "/terminals/{terminal_id}/secrets", "config.secrets")
async def set_secret(terminal_id: int, request: Request) -> Response:
    """Set one gateway secret of this terminal (write-only: it is never shown again)."""
    posted = {k: str(v) for k, v in (await request.form()).items()}
    svc = _svc(request)

    def work() -> Response:
        with signed(request, "config.secrets", posted.get("csrf", ""), post=True) as (session, who):
            terminal = _own_terminal(session, who, terminal_id)
            try:  # refused before anything is written
                store.set_secret(session, terminal, posted.get("gateway", ""), posted.get("name", ""),
                                 posted.get("value", ""), who.email, vault_of(svc.settings.state_dir))
            except store.StoreError as exc:
                return _terminal_page(request, session, who, terminal, 400, exc)
            return RedirectResponse(f"/terminals/{terminal_id}/config", 303)

    return await run_in_threadpool(work)


@page("POST", "/terminals/{terminal_id}/secrets/delete", "config.secrets")
async def delete_secret(terminal_id: int, request: Request) -> Response:
    """Delete one gateway secret of this terminal (audited; the terminal drops it with its next bundle)."""
    posted = {k: str(v) for k, v in (await request.form()).items()}

    def work() -> Response:
        with signed(request, "config.secrets", posted.get("csrf", ""), post=True) as (session, who):
            terminal = _own_terminal(session, who, terminal_id)
            gateway, name = posted.get("gateway", ""), posted.get("name", "")
            # a second click (a page shown before the first delete) finds it gone: nothing more to do
            if any(s.gateway == gateway and s.name == name for s in store.secrets_set(session, terminal)):
                store.delete_secret(session, terminal, gateway, name, who.email,
                                    request.client.host if request.client else "")
            return RedirectResponse(f"/terminals/{terminal_id}/config", 303)

    return await run_in_threadpool(work)


@page("POST", "/configs/signing-key", "config.secrets")
async def rotate_key(request: Request) -> Response:
    """Replace the dealer's bundle-signing key (terminals re-pin the new one and then refuse the old); audited."""
    posted = {k: str(v) for k, v in (await request.form()).items()}
    svc = _svc(request)

    def work() -> Response:
        with signed(request, "config.secrets", posted.get("csrf", ""), post=True) as (session, who):
            dealer = session.get(Dealer, who.dealer_id)
            assert dealer is not None
            rotate_signing_key(session, svc.ca, dealer, vault_of(svc.settings.state_dir), who.email,
                               request.client.host if request.client else "")
            return RedirectResponse("/configs?rotated=1", 303)

    return await run_in_threadpool(work)
