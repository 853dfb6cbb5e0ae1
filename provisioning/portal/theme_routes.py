"""The portal's themes pages: upload a pack, see its preview drawn by the terminal's own screens, assign it to a
terminal, and see which terminal shows which pack."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from kiosk.screens.theme_pack import MAX_PACK_BYTES, ThemePackError
from provisioning.db.models import Terminal
from provisioning.portal.routes import ROUTE_PERMISSIONS, PortalError, render, signed
from provisioning.themes import service

router = APIRouter(include_in_schema=False)


def page(method: str, path: str, permission: str) -> Any:
    """Register a themes route with the permission it needs (in the portal's one permission table)."""
    ROUTE_PERMISSIONS[(method, path)] = permission
    return router.api_route(path, methods=[method])


def _remote(request: Request) -> str:
    return request.client.host if request.client else ""


def _list(request: Request, session: Any, who: Any, status: int = 200, **extra: Any) -> Response:
    terminals = list(session.scalars(select(Terminal).where(Terminal.dealer_id == who.dealer_id)
                                     .order_by(Terminal.number)))
    packs = {p.id: p for p in service.packs(session, who.dealer_id)}
    return render(request, "themes_list.html", who, status=status, packs=list(packs.values()), terminals=terminals,
                  assigned=service.assignments(session, who.dealer_id), by_id=packs, **extra)


@page("GET", "/themes", "themes.view")
def themes(request: Request) -> Response:
    """The dealer's packs, the upload form, and each terminal's pack."""
    with signed(request, "themes.view") as (session, who):
        return _list(request, session, who)


@page("POST", "/themes", "themes.change")
async def upload(request: Request, pack: Annotated[UploadFile, File()],
                 slug: Annotated[str, Form(max_length=40)] = "", csrf: Annotated[str, Form()] = "") -> Response:
    """Upload a pack: checked by the terminal's code, its preview drawn, then shown; a refusal says why."""
    data = await pack.read(MAX_PACK_BYTES + 1)
    return await run_in_threadpool(_upload, request, data, slug.strip(), csrf)


def _upload(request: Request, data: bytes, slug: str, csrf: str) -> Response:
    with signed(request, "themes.change", csrf, post=True) as (session, who):
        dealer_id, actor = who.dealer_id, who.email
    try:
        pack = service.check(slug, data)
        with signed(request, "themes.change", csrf, post=True) as (session, who):
            kept = service.existing(session, dealer_id, pack.sha256)
            if kept is not None:
                return RedirectResponse(f"/themes/{kept.id}", 303)  # the same zip again: the pack kept before
        prepared = service.prepare(slug, data, pack)
    except ThemePackError as exc:
        with signed(request, "themes.change", csrf, post=True) as (session, who):
            service.refused(session, dealer_id, slug, exc, actor, _remote(request))
            return _list(request, session, who, status=400, error=str(exc), slug=slug)
    with signed(request, "themes.change", csrf, post=True) as (session, who):
        row = service.store(session, dealer_id, prepared, actor, _remote(request))
        return RedirectResponse(f"/themes/{row.id}", 303)


@page("GET", "/themes/{pack_id}", "themes.view")
def theme_page(pack_id: int, request: Request) -> Response:
    """One pack: its preview in both languages, and the form that assigns it to a terminal."""
    with signed(request, "themes.view") as (session, who):
        row = service.pack(session, who.dealer_id, pack_id)
        if row is None:
            raise PortalError(404, "not_found")
        terminals = list(session.scalars(select(Terminal).where(Terminal.dealer_id == who.dealer_id)
                                         .order_by(Terminal.number)))
        return render(request, "themes_one.html", who, pack=row, shots=service.shots(session, row.id),
                      terminals=terminals, assigned=service.assignments(session, who.dealer_id))


@page("GET", "/themes/{pack_id}/preview/{shot}", "themes.view")
def preview(pack_id: int, shot: str, request: Request) -> Response:
    """One preview picture (PNG)."""
    with signed(request, "themes.view") as (session, who):
        png = service.preview(session, who.dealer_id, pack_id, shot.removesuffix(".png"))
        if png is None:
            raise PortalError(404, "not_found")
        return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


@page("POST", "/themes/{pack_id}/assign", "themes.change")
def assign(pack_id: int, request: Request, terminal: Annotated[int, Form()] = 0,
           csrf: Annotated[str, Form()] = "") -> Response:
    """Assign the pack to one of the dealer's terminals; it switches between payments."""
    with signed(request, "themes.change", csrf, post=True) as (session, who):
        if not service.assign(session, who.dealer_id, terminal, pack_id, who.email, _remote(request)):
            raise PortalError(404, "not_found")
    return RedirectResponse(f"/themes/{pack_id}", 303)
