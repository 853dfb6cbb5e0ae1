"""The terminal heartbeat, the one request every enrolled terminal sends every minute, made cheap: the signature
checked against a per-process cache of enrolled keys, then revocation, the nonce, the terminal's online mark and
the heartbeat row in one database statement (PostgreSQL: one round trip in autocommit); and a plain ASGI route for
it on the link listener, in front of FastAPI (which still documents the same route in the OpenAPI document)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, case, select, text, update
from sqlalchemy import insert as plain_insert
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from provisioning import audit
from provisioning.context import Services
from provisioning.db.models import Certificate, Heartbeat, Terminal, utcnow
from provisioning.identity.requests import (
    REPLAYED,
    EnrolledKey,
    RequestRefused,
    check_signature,
    remember_nonce,
    revoked_reason,
)

MAX_BODY = 256 * 1024
PREFIX = "/api/v1/terminals/"
SUFFIX = "/heartbeat"

# Revocation read, nonce stored, terminal marked online, heartbeat written: one statement, so one round trip and
# atomic on its own. Nothing is written for a revoked certificate or a nonce seen before (data-modifying CTEs run
# once each, whether or not the final SELECT reads them).
_POSTGRESQL_WRITE = text("""
WITH state AS (
    SELECT c.revoked_at, c.revocation_reason, t.status, t.online
    FROM certificates c JOIN terminals t ON t.id = c.terminal_id WHERE c.id = :certificate_id
), nonce AS (
    INSERT INTO seen_nonces (key_id, nonce, seen_at)
    SELECT :key_id, :nonce, :now FROM state WHERE state.revoked_at IS NULL AND state.status <> 'revoked'
    ON CONFLICT DO NOTHING RETURNING 1
), touched AS (
    UPDATE terminals SET last_seen_at = :now, online = true,
        version = CASE WHEN CAST(:version AS text) = '' THEN version ELSE CAST(:version AS text) END,
        highest_operation = GREATEST(highest_operation, CAST(:operation AS bigint))
    WHERE id = :terminal_id AND EXISTS (SELECT 1 FROM nonce) RETURNING highest_operation
), beat AS (
    INSERT INTO heartbeats (terminal_id, received_at, payload)
    SELECT :terminal_id, :now, :payload WHERE EXISTS (SELECT 1 FROM nonce) RETURNING 1
)
SELECT state.revoked_at, state.revocation_reason, state.status, state.online, EXISTS (SELECT 1 FROM nonce),
    (SELECT highest_operation FROM touched)
FROM state""")


@dataclass(frozen=True)
class Written:
    """What the heartbeat's write found: a refusal (revoked, replayed) or whether the terminal was online before,
    and the highest operation number the terminal has ever reported (this heartbeat's included)."""

    refusal: str | None
    was_online: bool
    highest_operation: int = 0


def _write_postgresql(connection: Connection, key: EnrolledKey, nonce: str, version: str, operation: int,
                      payload: str, now: datetime) -> Written:
    row = connection.execute(_POSTGRESQL_WRITE, {
        "certificate_id": key.certificate_id, "terminal_id": key.terminal_id, "key_id": key.key_id, "nonce": nonce,
        "now": now, "version": version, "operation": operation, "payload": payload}).one()
    revoked_at, reason, status, was_online, stored, highest = row
    refusal = revoked_reason(revoked_at, reason, status, key.serial)
    if refusal is None and not stored:
        refusal = REPLAYED
    return Written(refusal, bool(was_online), int(highest or 0))


def _write_generic(connection: Connection, key: EnrolledKey, nonce: str, version: str, operation: int,
                   payload: str, now: datetime) -> Written:
    """The same steps as separate statements in one transaction (SQLite: no data-modifying CTEs)."""
    revoked_at, reason, status, was_online = connection.execute(
        select(Certificate.revoked_at, Certificate.revocation_reason, Terminal.status, Terminal.online)
        .join(Terminal, Certificate.terminal_id == Terminal.id).where(Certificate.id == key.certificate_id)).one()
    refusal = revoked_reason(revoked_at, reason, status, key.serial)
    if refusal is not None:
        return Written(refusal, bool(was_online))
    if not remember_nonce(connection, key.key_id, nonce, now):
        return Written(REPLAYED, bool(was_online))
    # The maximum is taken inside the UPDATE, so two heartbeats racing can never lower it.
    values: dict[str, Any] = {"last_seen_at": now, "online": True, "highest_operation": case(
        (Terminal.highest_operation < operation, operation), else_=Terminal.highest_operation)}
    if version:
        values["version"] = version
    highest = connection.execute(update(Terminal).where(Terminal.id == key.terminal_id).values(**values)
                                 .returning(Terminal.highest_operation)).scalar_one()
    connection.execute(plain_insert(Heartbeat).values(terminal_id=key.terminal_id, received_at=now, payload=payload))
    return Written(None, bool(was_online), int(highest))


def record_heartbeat(svc: Services, *, method: str, url: str, headers: dict[str, str], body: bytes, dealer: str,
                     number: str, remote: str) -> dict[str, Any]:
    """Verify a heartbeat from terminal dealer/number and record it; the reply. Refusals are audited and raised as
    HTTPException with the reason."""
    now = utcnow()
    try:
        key, nonce = check_signature(lambda key_id: svc.keys.get(svc.db.session, key_id), svc.ca, method=method,
                                     url=url, headers=headers, body=body, dealer=dealer, number=number, now=now,
                                     max_age=svc.settings.signature_max_age)
        try:
            payload = json.loads(body or b"{}")
        except ValueError as exc:
            raise HTTPException(400, f"heartbeat body is not JSON: {exc}") from exc
        if not isinstance(payload, dict):
            raise HTTPException(400, "heartbeat body: expected a JSON object")
        version, text_payload = str(payload.get("version", ""))[:40], json.dumps(payload)[:8000]
        operation = _reported_operation(payload)
        with svc.db.write_engine.begin() as connection:
            write = _write_postgresql if connection.dialect.name == "postgresql" else _write_generic
            written = write(connection, key, nonce, version, operation, text_payload, now)
        if written.refusal is not None:
            raise RequestRefused(written.refusal, key.key_id, 401 if written.refusal == REPLAYED else 403)
    except RequestRefused as refusal:
        _audit(svc, actor=f"key {refusal.key_id[:16]}" if refusal.key_id else "unknown", action="terminal.request",
               target=f"terminal {number} {PREFIX}{dealer}/{number}{SUFFIX}", outcome="refused",
               reason=refusal.reason, remote=remote)
        raise HTTPException(refusal.status, refusal.reason) from refusal
    if not written.was_online:
        _audit(svc, actor=f"terminal {dealer}/{number}", action="terminal.online", dealer_id=key.dealer_id,
               target=f"terminal {number}", before={"online": False}, after={"online": True})
    renew = key.not_after - now < timedelta(days=svc.settings.renew_before_days)
    return {"server_time": now.isoformat(), "heartbeat_interval": svc.settings.heartbeat_interval,
            "renew_certificate": renew, "highest_operation": written.highest_operation}


def _reported_operation(payload: dict[str, Any]) -> int:
    """The heartbeat's `last_operation` (0 when absent: terminals older than this field)."""
    value = payload.get("last_operation", 0)
    # bool is an int in Python; a BIGINT column holds what a journal can number
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise HTTPException(400, f"heartbeat body: last_operation must be a whole number >= 0, got {value!r}")
    return value


def _audit(svc: Services, **entry: Any) -> None:
    # Its own transaction: a refusal's record stays although nothing else was written.
    with svc.db.session() as session:
        audit.record(session, **entry)


def heartbeat_target(scope: Scope) -> tuple[str, str] | None:
    """(dealer, number) when the request is POST /api/v1/terminals/{dealer}/{number}/heartbeat."""
    path: str = scope["path"]
    if scope["method"] != "POST" or not path.startswith(PREFIX) or not path.endswith(SUFFIX):
        return None
    parts = path[len(PREFIX):-len(SUFFIX)].split("/")
    return (parts[0], parts[1]) if len(parts) == 2 and all(parts) else None


class HeartbeatRoute:
    """A plain ASGI route for heartbeats in front of the app: no dependency injection, no response models, no
    middleware stack. Every other request goes on to the app."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app, self.services = app, services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = heartbeat_target(scope) if scope["type"] == "http" else None
        if target is None:
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_BODY:
                await _reply(413, {"detail": f"body larger than {MAX_BODY} bytes"}, scope, receive, send)
                return
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        query = scope.get("query_string", b"").decode("latin-1")
        url = f"{scope['scheme']}://{host}{scope['path']}" + (f"?{query}" if query else "")
        remote = scope["client"][0] if scope.get("client") else ""
        try:
            reply = await run_in_threadpool(
                record_heartbeat, self.services, method="POST", url=url, headers=headers, body=body,
                dealer=target[0], number=target[1], remote=remote)
        except HTTPException as exc:
            await _reply(exc.status_code, {"detail": exc.detail}, scope, receive, send)
            return
        await _reply(200, reply, scope, receive, send)


async def _reply(status: int, content: dict[str, Any], scope: Scope, receive: Receive, send: Send) -> None:
    response = JSONResponse(content, status_code=status, headers={"X-Content-Type-Options": "nosniff",
                                                                  "Cache-Control": "no-store"})
    await response(scope, receive, send)
