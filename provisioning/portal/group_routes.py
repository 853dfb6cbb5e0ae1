"""The portal's terminal groups: create, rename, delete (only an empty one), move terminals between groups, and
assign a configuration version or a theme pack to a group — one form per change, each audited."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioning import groups
from provisioning.config import store
from provisioning.config.models import ConfigAssignment, ConfigDocument, ConfigVersion
from provisioning.db.models import Terminal
from provisioning.portal import auth
from provisioning.portal.group_texts import install as install_texts
from provisioning.portal.routes import ROUTE_PERMISSIONS, render, signed
from provisioning.themes import service as themes

router = APIRouter(include_in_schema=False)
install_texts()
ROUTE_PERMISSIONS[("GET", "/groups")] = "terminals.view"
ROUTE_PERMISSIONS[("POST", "/groups")] = "groups.change"


def _page(request: Request, session: Session, who: auth.Signed, status: int = 200,
          error: groups.GroupError | store.StoreError | None = None) -> Response:
    terminals = list(session.scalars(select(Terminal).where(Terminal.dealer_id == who.dealer_id)
                                     .order_by(Terminal.number)))
    members: dict[int | None, list[str]] = {}
    for terminal in terminals:
        members.setdefault(terminal.group_id, []).append(terminal.number)
    versions = session.execute(select(ConfigVersion.id, ConfigDocument.name, ConfigVersion.number)
                               .join(ConfigDocument, ConfigVersion.document_id == ConfigDocument.id)
                               .where(ConfigVersion.dealer_id == who.dealer_id)
                               .order_by(ConfigDocument.name, ConfigVersion.number.desc())).all()
    labels = {vid: f"{name} v{number}" for vid, name, number in versions}
    assigned = dict(session.execute(select(ConfigAssignment.group_id, ConfigAssignment.version_id)
                                    .where(ConfigAssignment.dealer_id == who.dealer_id,
                                           ConfigAssignment.group_id.is_not(None))).all())
    return render(request, "groups.html", who, status=status, groups=groups.listing(session, who.dealer_id),
                  members=members, terminals=terminals, labels=labels, assigned=assigned,
                  packs=themes.packs(session, who.dealer_id), error=error)


@router.get("/groups")
def groups_page(request: Request) -> Response:
    """The dealer's groups, their terminals and their configuration."""
    with signed(request, "terminals.view") as (session, who):
        return _page(request, session, who)


def _change(session: Session, who: auth.Signed, form: dict[str, Any], remote: str) -> None:
    action = str(form.get("action", ""))
    if action == "create":
        groups.create(session, who.dealer_id, str(form.get("name", "")), who.email, remote)
        return
    numbers = [str(n) for n in form.get("terminals", [])]
    if action == "move":
        raw = str(form.get("group", ""))
        target = groups.own(session, who.dealer_id, int(raw)) if raw.isdigit() else None
        if not numbers:
            raise groups.GroupError("terminal", "choose the terminals to move")
        groups.move(session, who.dealer_id, numbers, target, who.email, remote)
        return
    raw = str(form.get("group", ""))
    if not raw.isdigit():
        raise groups.GroupError("group", "choose a group")
    group = groups.own(session, who.dealer_id, int(raw))
    if action == "rename":
        groups.rename(session, group, str(form.get("name", "")), who.email, remote)
    elif action == "delete":
        groups.delete(session, group, who.email, remote)
    elif action == "config":
        version = str(form.get("version", ""))
        if not version.isdigit():
            raise groups.GroupError("version", "choose a configuration version")
        store.assign(session, who.dealer_id, int(version), who.email, group_id=group.id)
    elif action == "theme":
        pack = str(form.get("pack", ""))
        if not pack.isdigit():
            raise groups.GroupError("pack", "choose a theme pack")
        groups.assign_theme(session, group, int(pack), who.email, remote)
    else:
        raise groups.GroupError("action", f"unknown action {action!r}")


@router.post("/groups")
async def change(request: Request) -> Response:
    """One change to the groups (create, rename, delete, move, config, theme); the page with the error otherwise."""
    posted = await request.form()
    form: dict[str, Any] = {k: str(v) for k, v in posted.items()}
    form["terminals"] = [str(v) for v in posted.getlist("terminals")]
    remote = request.client.host if request.client else ""

    def work() -> Response:
        with signed(request, "groups.change", str(form.get("csrf", "")), post=True) as (session, who):
            try:  # every change is checked before it writes anything
                _change(session, who, form, remote)
            except (groups.GroupError, store.StoreError) as exc:
                return _page(request, session, who, 400, exc)
            return RedirectResponse("/groups", 303)

    return await run_in_threadpool(work)
