"""The terminal's journal upload route (signed, on the link listener): one gzip batch in, the acknowledged
position out."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel
from sqlalchemy.orm import Session

from provisioning.api import ServicesDep, _signed
from provisioning.identity.requests import VerifiedTerminal
from provisioning.journal.ingest import BatchRefused, decompress, store_text

router = APIRouter(prefix="/api/v1")


class UploadReply(BaseModel):
    """What the service holds now: the acknowledged position (and where to send from again, after a gap)."""

    acknowledged: int
    rows: int
    resend_from: int | None = None


@router.post("/terminals/{dealer}/{number}/journal", response_model=UploadReply,
             summary="A batch of journal changes (signed; gzip JSON)")
async def upload(dealer: str, number: str, request: Request, svc: ServicesDep) -> Any:
    """Store a batch of the terminal's journal changes; idempotent (a repeat changes nothing)."""
    encoding = request.headers.get("content-encoding", "")

    def work(session: Session, verified: VerifiedTerminal, body: bytes) -> UploadReply:
        try:
            stored = store_text(session.connection(), verified.dealer_id, verified.terminal_id, verified.number,
                                decompress(body, encoding))
        except BatchRefused as refused:
            raise HTTPException(refused.status, refused.reason) from refused
        return UploadReply(acknowledged=stored.acknowledged, rows=stored.rows, resend_from=stored.resend_from)

    return await _signed(request, svc, dealer, number, work)
