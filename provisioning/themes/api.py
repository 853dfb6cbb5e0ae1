"""The themes part of the terminal API (signed requests only): the pack the terminal is to show."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from provisioning.api import ServicesDep, _signed
from provisioning.db.models import utcnow
from provisioning.identity.requests import VerifiedTerminal
from provisioning.themes import service

router = APIRouter(prefix="/api/v1")


class ThemeReply(BaseModel):
    """The assigned pack: its theme id and SHA-256, and the zip (base64) unless the terminal has it already."""

    assigned: bool
    id: str = ""
    sha256: str = ""
    pack: str = Field(default="", description="base64 of the zip; empty when the terminal has this pack")


@router.get("/terminals/{dealer}/{number}/theme", response_model=ThemeReply,
            summary="The theme pack this terminal is to show (signed)")
async def theme(dealer: str, number: str, request: Request, svc: ServicesDep, have: str = "") -> Any:
    """`have` is the SHA-256 of the pack the terminal shows now; the same one is recorded as applied."""

    def work(session: Session, verified: VerifiedTerminal, body: bytes) -> Any:
        return service.for_terminal(session, verified.terminal_id, have[:64], utcnow())

    return await _signed(request, svc, dealer, number, work)
