"""The portal's updates page: which terminal runs which version, who is updating and how far, every release, and
the dealer's pilot group (terminals that take pilot releases first)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from provisioning.db.models import TerminalGroup
from provisioning.portal.routes import ROUTE_PERMISSIONS, PortalError, render, signed
from provisioning.updates import service
from provisioning.updates.models import UpdateChannel
from provisioning.updates.repository import RepositoryError

router = APIRouter(include_in_schema=False)


def page(method: str, path: str, permission: str) -> Any:
    """Register an updates route with the permission it needs (in the portal's one permission table)."""
    ROUTE_PERMISSIONS[(method, path)] = permission
    return router.api_route(path, methods=[method])


@page("GET", "/updates", "updates.view")
def updates(request: Request) -> Response:
    """Releases, the pilot group, and each terminal's version and update step."""
    with signed(request, "updates.view") as (session, who):
        groups = list(session.scalars(select(TerminalGroup).where(TerminalGroup.dealer_id == who.dealer_id)
                                      .order_by(TerminalGroup.name)))
        channel = session.get(UpdateChannel, who.dealer_id)
        pilot = next((g.name for g in groups if channel and g.id == channel.pilot_group_id), "")
        return render(request, "updates_page.html", who, releases=service.releases(session), groups=groups,
                      pilot=pilot, fleet=service.fleet(session, who.dealer_id))


@page("POST", "/updates/pilot", "updates.change")
def pilot_group(request: Request, group: Annotated[str, Form(max_length=100)] = "",
                csrf: Annotated[str, Form()] = "") -> Response:
    """Choose the pilot group ("" for none); audited."""
    with signed(request, "updates.change", csrf, post=True) as (session, who):
        try:
            service.set_pilot_group(session, who.dealer_id, group, who.email)
        except RepositoryError as exc:
            raise PortalError(404, "not_found") from exc
    return RedirectResponse("/updates", 303)
