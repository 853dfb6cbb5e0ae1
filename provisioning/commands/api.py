"""The terminal's side of remote commands on the link: a signed long poll that answers at once when a command is
queued (else empty after `wait` seconds, holding no database connection meanwhile), and an idempotent result."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from provisioning import audit
from provisioning.commands.bell import CommandBell
from provisioning.commands.service import CommandError, Delivery, claim, record_result
from provisioning.context import Services
from provisioning.db.models import utcnow
from provisioning.identity.requests import RequestRefused, VerifiedTerminal, verify_terminal_request

router = APIRouter(prefix="/api/v1")
MAX_WAIT = 55.0  # under the signature's freshness window and common proxies' idle timeouts
MAX_RESULT_BODY = 12 * 1024 * 1024  # a full-HD screenshot as base64 PNG fits with room to spare
PNG = b"\x89PNG\r\n\x1a\n"


class CommandOut(BaseModel):
    """One command for the terminal."""

    id: str
    kind: str
    arguments: dict[str, Any]
    expires_at: str


class PollReply(BaseModel):
    """The commands to run now (empty when the wait ran out)."""

    commands: list[CommandOut]
    server_time: str


class ResultIn(BaseModel):
    """What became of a command on the terminal."""

    state: str = Field(description="done or failed")
    result: dict[str, Any] = Field(default_factory=dict)
    png_base64: str | None = Field(default=None, description="a screenshot, PNG, base64")


class ResultOut(BaseModel):
    """The command's state as the service keeps it (the same for a repeated report)."""

    id: str
    state: str


def install(app: FastAPI, db_url: str) -> None:
    """Add the commands routes and this process's bell to the app (one call in the app factory)."""
    app.state.command_bell = CommandBell(db_url)
    app.include_router(router)


def _services(request: Request) -> tuple[Services, CommandBell]:
    return request.app.state.services, request.app.state.command_bell


def _verified(svc: Services, request: Request, body: bytes, session: Session, dealer: str,
              number: str) -> VerifiedTerminal:
    return verify_terminal_request(session, svc.ca, method=request.method, url=str(request.url),
                                   headers=dict(request.headers), body=body, dealer=dealer, number=number,
                                   now=utcnow(), max_age=svc.settings.signature_max_age)


def _refused(svc: Services, request: Request, number: str, refusal: RequestRefused) -> HTTPException:
    # Its own transaction: the refused request's work was rolled back, the refusal must stay.
    with svc.db.session() as session:
        audit.record(session, actor=f"key {refusal.key_id[:16]}" if refusal.key_id else "unknown",
                     action="terminal.request", target=f"terminal {number} {request.url.path}"[:200],
                     outcome="refused", reason=refusal.reason,
                     remote=request.client.host if request.client else "")
    return HTTPException(refusal.status, refusal.reason)


@router.get("/terminals/{dealer}/{number}/commands", response_model=PollReply,
            summary="Long poll for remote commands (signed): at once when one is queued, else empty after `wait` s")
async def poll(dealer: str, number: str, request: Request,
               wait: Annotated[float, Query(ge=0, le=MAX_WAIT)] = 25.0,
               keepalive: Annotated[float, Query(ge=0.2, le=30)] = 5.0) -> Any:
    """Hand the terminal its queued commands (marked delivered), waiting up to `wait` seconds for one. While it
    waits, a space (JSON allows it before the value) goes out every `keepalive` seconds: the terminal notices a
    dead link, a NAT keeps the connection, and the terminal can hang up between two spaces when it stops."""
    svc, bell = _services(request)
    body = await request.body()

    def verify() -> int:
        try:
            with svc.db.session() as session:
                return _verified(svc, request, body, session, dealer, number).terminal_id
        except RequestRefused as refusal:
            raise _refused(svc, request, number, refusal) from refusal

    terminal_id = await run_in_threadpool(verify)  # refusals answer with their status, before any byte
    return StreamingResponse(_wait_and_reply(svc, bell, terminal_id, wait, keepalive),
                             media_type="application/json", headers={"Cache-Control": "no-store"})


async def _wait_and_reply(svc: Services, bell: CommandBell, terminal_id: int, wait: float,
                          keepalive: float) -> AsyncIterator[bytes]:
    """Spaces while nothing is queued, then the reply. The database is looked at first, then only when this process
    is rung or every `bell.recheck` seconds; no connection is held in between."""

    def claim_now() -> list[Delivery]:
        with svc.db.session() as session:
            return claim(session, terminal_id, utcnow())

    loop = asyncio.get_running_loop()
    with bell.waiter(terminal_id) as waiter:  # listening before the first look: nothing queued meanwhile is missed
        found = await run_in_threadpool(claim_now)
        now = loop.time()
        deadline, next_check = now + wait, now + bell.recheck
        while not found and now < deadline:
            rung = await waiter.wait(max(0.0, min(deadline - now, keepalive, next_check - now)))
            now = loop.time()
            if rung or now >= next_check:
                found = await run_in_threadpool(claim_now)
                next_check = now + bell.recheck
            if not found:
                yield b" "
    yield json.dumps({"commands": [d.as_json() for d in found], "server_time": utcnow().isoformat()}).encode()


@router.post("/terminals/{dealer}/{number}/commands/{command_id}/result", response_model=ResultOut,
             summary="Report a command's outcome (signed); repeating the report changes nothing")
async def result(dealer: str, number: str, command_id: str, request: Request) -> Any:
    """Record what became of a command on the terminal."""
    svc, _ = _services(request)
    body = await request.body()
    if len(body) > MAX_RESULT_BODY:
        raise HTTPException(413, f"body larger than {MAX_RESULT_BODY} bytes")

    def work() -> ResultOut:
        try:
            with svc.db.session() as session:
                verified = _verified(svc, request, body, session, dealer, number)
                try:
                    report = ResultIn.model_validate_json(body)
                except ValueError as exc:
                    raise HTTPException(400, f"result body: {exc}") from exc
                png = _png(report.png_base64)
                try:
                    command = record_result(session, verified.terminal_id, command_id, report.state, report.result,
                                            utcnow(), png, "image/png" if png is not None else "")
                except CommandError as exc:
                    raise HTTPException(exc.status, str(exc)) from exc
                return ResultOut(id=command.id, state=command.state)
        except RequestRefused as refusal:
            raise _refused(svc, request, number, refusal) from refusal

    return await run_in_threadpool(work)


def _png(encoded: str | None) -> bytes | None:
    if encoded is None:
        return None
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise HTTPException(400, f"png_base64: not base64: {exc}") from exc
    if not data.startswith(PNG):
        raise HTTPException(400, "png_base64: not a PNG image")
    return data
