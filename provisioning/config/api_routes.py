"""The terminal API of pushed configuration: the signed bundle (strong ETag, 304 on If-None-Match) and the
terminal's report of what it did with it (applied, or refused with the reason)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from provisioning.api import ServicesDep, _signed
from provisioning.config import bundles, store
from provisioning.config.vault import vault_of
from provisioning.db.models import Terminal
from provisioning.identity.requests import VerifiedTerminal

router = APIRouter(prefix="/api/v1")
BUNDLE_TYPE = "application/vnd.kiosk.config-bundle+json"


class ConfigReportBody(BaseModel):
    """What the terminal did with a bundle."""

    version: int | None = Field(default=None, description="the bundle's version id (None if it could not be read)")
    etag: str = Field(default="", max_length=80)
    outcome: str = Field(pattern="^(applied|refused)$")
    reason: str = Field(default="", max_length=2000)


def _matches(if_none_match: str | None, etag: str) -> bool:
    tags = [tag.strip() for tag in (if_none_match or "").split(",")]
    return "*" in tags or etag in tags


@router.get("/terminals/{dealer}/{number}/config", summary="The terminal's signed configuration bundle (signed "
            "request; ETag / If-None-Match; 204 when nothing is assigned)", response_class=Response)
async def config_bundle(dealer: str, number: str, request: Request, svc: ServicesDep) -> Any:
    """The bundle: the assigned document and this terminal's gateway secrets, signed by the dealer's key."""
    if_none_match = request.headers.get("if-none-match")

    def work(session: Any, verified: VerifiedTerminal, body: bytes) -> Response:
        terminal = session.get(Terminal, verified.terminal_id)
        bundle = bundles.build(session, svc.ca, terminal, vault_of(svc.settings.state_dir))
        if bundle is None:
            return Response(status_code=204)
        headers = {"ETag": bundle.etag, "Cache-Control": "no-store"}  # secrets inside: no cache may keep it
        if _matches(if_none_match, bundle.etag):
            return Response(status_code=304, headers=headers)
        return Response(bundle.body, media_type=BUNDLE_TYPE, headers=headers)

    return await _signed(request, svc, dealer, number, work)


@router.post("/terminals/{dealer}/{number}/config/report", summary="The terminal reports a bundle applied or "
             "refused (signed)")
async def config_report(dealer: str, number: str, request: Request, svc: ServicesDep) -> Any:
    """Record what the terminal did with a bundle."""

    def work(session: Any, verified: VerifiedTerminal, body: bytes) -> dict[str, Any]:
        try:
            report = ConfigReportBody.model_validate_json(body)
        except ValueError as exc:
            raise HTTPException(400, f"report body: {exc}") from exc
        terminal = session.get(Terminal, verified.terminal_id)
        row = store.record_report(session, terminal, report.version, report.etag, report.outcome, report.reason)
        session.flush()
        return {"recorded": row.id}

    return await _signed(request, svc, dealer, number, work)
