"""The updates part of the terminal API (signed requests only): the TUF repository's files, and each step a
terminal reports, answered with the channels it takes releases from."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from provisioning.api import ServicesDep, _signed
from provisioning.context import Services
from provisioning.identity.requests import VerifiedTerminal
from provisioning.updates import service
from provisioning.updates.repository import Repository

router = APIRouter(prefix="/api/v1")


def repository(svc: Services) -> Repository:
    """The service's TUF repository (in its state folder)."""
    return Repository(svc.settings.state_dir / "updates")


class StepReport(BaseModel):
    """One step of a terminal's update, and what it runs now."""

    running: str = Field(max_length=40)
    step: str = Field(max_length=30, description="checked, downloading, downloaded, installed, switched, healthy, "
                                                 "rolled_back, failed")
    version: str = Field(default="", max_length=40, description="the release the step is about")
    detail: str = Field(default="", max_length=500)
    bad: list[str] = Field(default_factory=list, max_length=50, description="versions this terminal refuses")


class ChannelsReply(BaseModel):
    """The release channels this terminal follows (pilot terminals also take pilot releases)."""

    channels: list[str]


@router.get("/terminals/{dealer}/{number}/tuf/{path:path}", summary="A file of the TUF repository (signed)",
            response_class=Response)
async def tuf_file(dealer: str, number: str, path: str, request: Request, svc: ServicesDep) -> Response:
    """Metadata (`metadata/N.role.json`, `metadata/timestamp.json`, `metadata/root.json`: the newest root, to
    pin) and targets (`targets/<dir>/<sha256>.<name>`, byte ranges for resumed downloads)."""
    repo = repository(svc)

    def locate(session: Session, verified: VerifiedTerminal, body: bytes) -> Any:
        if path == "metadata/root.json" and repo.exists():
            return repo.root_bytes()
        return repo.serve_path(path)

    found = await _signed(request, svc, dealer, number, locate)
    if found is None:
        raise HTTPException(404, f"{path}: not in the update repository")
    if isinstance(found, bytes):
        return Response(found, media_type="application/json")
    return FileResponse(found, media_type="application/octet-stream")


@router.post("/terminals/{dealer}/{number}/updates", response_model=ChannelsReply,
             summary="Report an update step (signed); the reply names the terminal's channels")
async def report_step(dealer: str, number: str, request: Request, svc: ServicesDep) -> Any:
    """Record where this terminal's update stands (the portal shows it; every step is kept)."""

    def work(session: Session, verified: VerifiedTerminal, body: bytes) -> ChannelsReply:
        try:
            report = StepReport.model_validate_json(body)
        except ValueError as exc:
            raise HTTPException(400, f"update step: {exc}") from exc
        service.record_step(session, verified.terminal_id, report.running, report.step, report.version,
                            report.detail, report.bad)
        return ChannelsReply(channels=service.channels_for(session, verified.terminal_id))

    return await _signed(request, svc, dealer, number, work)
