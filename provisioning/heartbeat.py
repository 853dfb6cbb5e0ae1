"""The terminal heartbeat, the one request every enrolled terminal sends every minute, made cheap: the signature
checked against a per-process cache of enrolled keys, then revocation, the nonce, the terminal's online mark and
latest report, the heartbeat row and the state changes it carries in one database statement (PostgreSQL: written
from the event loop, batched with the heartbeats arriving meanwhile); and a plain ASGI route for it on the link
listener, in front of FastAPI (which still documents the same route in the OpenAPI document)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, case, select, text, update
from sqlalchemy import insert as plain_insert
from sqlalchemy.dialects import postgresql
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from provisioning import audit
from provisioning.context import Services
from provisioning.db.models import Certificate, Heartbeat, Terminal, utcnow
from provisioning.heartbeat_writer import BatchWriter
from provisioning.identity.requests import (
    REPLAYED,
    EnrolledKey,
    RequestRefused,
    check_signature,
    remember_nonce,
    revoked_reason,
)
from provisioning.link_events import ReportedEvent, events_json, parse_events, store_events

MAX_BODY = 256 * 1024
MAX_REPORT = 16 * 1024  # the report a heartbeat stores (its events aside): the keys of kiosk.dealer_link.status
PREFIX = "/api/v1/terminals/"
SUFFIX = "/heartbeat"

# Revocation read, nonce stored, terminal marked online with its latest report, heartbeat written, state changes
# stored (once each): one statement, so one round trip and atomic on its own. Nothing is written for a revoked certificate or a nonce seen before (data-modifying CTEs run
# once each, whether or not the final SELECT reads them).
_POSTGRESQL_WRITE = text("""
WITH state AS (
    SELECT c.revoked_at, c.revocation_reason, t.status, t.online, c.terminal_id, t.number, d.slug, c.not_before,
        c.not_after
    FROM certificates c JOIN terminals t ON t.id = c.terminal_id JOIN dealers d ON d.id = t.dealer_id
    WHERE c.id = :certificate_id
), nonce AS (
    INSERT INTO seen_nonces (key_id, nonce, seen_at)
    SELECT :key_id, :nonce, :now FROM state WHERE state.revoked_at IS NULL AND state.status <> 'revoked'
    ON CONFLICT DO NOTHING RETURNING 1
), touched AS (
    UPDATE terminals SET last_seen_at = :now, online = true,
        version = CASE WHEN CAST(:version AS text) = '' THEN version ELSE CAST(:version AS text) END,
        last_heartbeat = :payload,
        highest_operation = GREATEST(highest_operation, CAST(:operation AS bigint))
    WHERE id = :terminal_id AND EXISTS (SELECT 1 FROM nonce) RETURNING highest_operation
), beat AS (
    INSERT INTO heartbeats (terminal_id, received_at, payload)
    SELECT :terminal_id, :now, :payload WHERE EXISTS (SELECT 1 FROM nonce) RETURNING 1
), events AS (
    INSERT INTO terminal_events (terminal_id, event_id, at, kind, detail, received_at)
    SELECT :terminal_id, e.event_id, e.at, e.kind, e.detail, :now
    FROM jsonb_to_recordset(CAST(:events AS jsonb)) AS e(event_id text, at timestamptz, kind text, detail text)
    WHERE EXISTS (SELECT 1 FROM nonce)
    ON CONFLICT (terminal_id, event_id) DO NOTHING RETURNING 1
)
SELECT state.revoked_at, state.revocation_reason, state.status, state.online, EXISTS (SELECT 1 FROM nonce),
    (SELECT highest_operation FROM touched), state.terminal_id, state.number, state.slug, state.not_before,
    state.not_after
FROM state""")
# The same statement in psycopg's own parameter style, for the event loop's writer.
POSTGRESQL_WRITE_PSYCOPG = str(_POSTGRESQL_WRITE.compile(dialect=postgresql.psycopg.dialect()))


@dataclass(frozen=True)
class Written:
    """What the heartbeat's write found: a refusal (revoked, replayed) or whether the terminal was online before,
    and the highest operation number the terminal has ever reported (this heartbeat's included)."""

    refusal: str | None
    was_online: bool
    highest_operation: int = 0
    key_changed: bool = False  # the cached facts of the key no longer match its rows (changed by hand)


@dataclass(frozen=True)
class Beat:
    """A heartbeat whose signature, certificate and body were checked: what is written."""

    key: EnrolledKey
    nonce: str
    version: str
    operation: int
    report: str  # the payload as stored: JSON, without its events (those go to terminal_events)
    events: list[ReportedEvent]
    now: datetime

    def params(self) -> dict[str, Any]:
        """The PostgreSQL statement's parameters."""
        key = self.key
        return {"certificate_id": key.certificate_id, "terminal_id": key.terminal_id, "key_id": key.key_id,
                "nonce": self.nonce, "now": self.now, "version": self.version, "operation": self.operation,
                "payload": self.report, "events": events_json(self.events)}


def written_from_row(beat: Beat, row: Sequence[Any] | None) -> Written:
    """The PostgreSQL statement's one row, read (none: the certificate's row is gone)."""
    if row is None:
        return Written(f"certificate {beat.key.serial} is no longer on record", False, key_changed=True)
    revoked_at, reason, status, was_online, stored, highest, *facts = row
    refusal = revoked_reason(revoked_at, reason, status, beat.key.serial)
    if refusal is None and not stored:
        refusal = REPLAYED
    key = beat.key
    changed = facts != [key.terminal_id, key.number, key.dealer, key.not_before, key.not_after]
    return Written(refusal, bool(was_online), int(highest or 0), changed)


def _write_postgresql(connection: Connection, beat: Beat) -> Written:
    return written_from_row(beat, connection.execute(_POSTGRESQL_WRITE, beat.params()).first())


def _write_generic(connection: Connection, beat: Beat) -> Written:
    """The same steps as separate statements in one transaction (SQLite: no data-modifying CTEs)."""
    key = beat.key
    revoked_at, reason, status, was_online = connection.execute(
        select(Certificate.revoked_at, Certificate.revocation_reason, Terminal.status, Terminal.online)
        .join(Terminal, Certificate.terminal_id == Terminal.id).where(Certificate.id == key.certificate_id)).one()
    refusal = revoked_reason(revoked_at, reason, status, key.serial)
    if refusal is not None:
        return Written(refusal, bool(was_online))
    if not remember_nonce(connection, key.key_id, beat.nonce, beat.now):
        return Written(REPLAYED, bool(was_online))
    # The maximum is taken inside the UPDATE, so two heartbeats racing can never lower it.
    values: dict[str, Any] = {"last_seen_at": beat.now, "online": True, "last_heartbeat": beat.report,
                              "highest_operation": case((Terminal.highest_operation < beat.operation, beat.operation),
                                                        else_=Terminal.highest_operation)}
    if beat.version:
        values["version"] = beat.version
    highest = connection.execute(update(Terminal).where(Terminal.id == key.terminal_id).values(**values)
                                 .returning(Terminal.highest_operation)).scalar_one()
    connection.execute(plain_insert(Heartbeat).values(terminal_id=key.terminal_id, received_at=beat.now,
                                                      payload=beat.report))
    store_events(connection, key.terminal_id, beat.events, beat.now)
    return Written(None, bool(was_online), int(highest))


def check_heartbeat(svc: Services, lookup: Callable[[str], EnrolledKey | None], *, method: str, url: str,
                    headers: dict[str, str], body: bytes, dealer: str, number: str, now: datetime) -> Beat:
    """Everything before the write (no database I/O but `lookup`): RequestRefused for the signature and the
    certificate, HTTPException 400/413 for the body."""
    key, nonce = check_signature(lookup, svc.ca, method=method, url=url, headers=headers, body=body, dealer=dealer,
                                 number=number, now=now, max_age=svc.settings.signature_max_age)
    try:
        payload = json.loads(body or b"{}")
    except ValueError as exc:
        raise HTTPException(400, f"heartbeat body is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise HTTPException(400, "heartbeat body: expected a JSON object")
    carried = payload.pop("events", None)
    try:
        events = parse_events(carried)
    except ValueError as exc:
        raise HTTPException(400, f"heartbeat body: {exc}") from exc
    # Without events the body is the report as stored: kept as sent, not encoded again.
    report = body.decode() if carried is None and body[:1] == b"{" and body.isascii() else json.dumps(payload)
    if len(report) > MAX_REPORT:
        raise HTTPException(413, f"heartbeat report (without events) larger than {MAX_REPORT} characters")
    return Beat(key, nonce, str(payload.get("version", ""))[:40], _reported_operation(payload), report, events, now)


def record_heartbeat(svc: Services, *, method: str, url: str, headers: dict[str, str], body: bytes, dealer: str,
                     number: str, remote: str) -> dict[str, Any]:
    """Verify a heartbeat from terminal dealer/number and record it; the reply. Refusals are audited and raised as
    HTTPException with the reason. (Blocking: the SQLite path, and FastAPI's route.)"""
    try:
        beat = check_heartbeat(svc, lambda key_id: svc.keys.get(svc.db.session, key_id), method=method, url=url,
                               headers=headers, body=body, dealer=dealer, number=number, now=utcnow())
        with svc.db.write_engine.begin() as connection:
            write = _write_postgresql if connection.dialect.name == "postgresql" else _write_generic
            written = write(connection, beat)
        refuse_if(written, beat)
    except RequestRefused as refusal:
        audit_refusal(svc, refusal, dealer, number, remote)
        raise HTTPException(refusal.status, refusal.reason) from refusal
    if not written.was_online:
        audit_online(svc, beat, dealer, number)
    return reply(svc, beat, written)


def refuse_if(written: Written, beat: Beat) -> None:
    """Raise the refusal the write found (revoked, replayed)."""
    if written.refusal is not None:
        raise RequestRefused(written.refusal, beat.key.key_id, 401 if written.refusal == REPLAYED else 403)


def reply(svc: Services, beat: Beat, written: Written) -> dict[str, Any]:
    """The answer to a recorded heartbeat (the events it carried are stored: the terminal may forget them)."""
    renew = beat.key.not_after - beat.now < timedelta(days=svc.settings.renew_before_days)
    return {"server_time": beat.now.isoformat(), "heartbeat_interval": svc.settings.heartbeat_interval,
            "renew_certificate": renew, "highest_operation": written.highest_operation,
            "events_acknowledged": len(beat.events)}


def audit_refusal(svc: Services, refusal: RequestRefused, dealer: str, number: str, remote: str) -> None:
    """The audit record of a refused heartbeat (blocking)."""
    _audit(svc, actor=f"key {refusal.key_id[:16]}" if refusal.key_id else "unknown", action="terminal.request",
           target=f"terminal {number} {PREFIX}{dealer}/{number}{SUFFIX}", outcome="refused", reason=refusal.reason,
           remote=remote)


def audit_online(svc: Services, beat: Beat, dealer: str, number: str) -> None:
    """The audit record of a terminal coming online (blocking)."""
    _audit(svc, actor=f"terminal {dealer}/{number}", action="terminal.online", dealer_id=beat.key.dealer_id,
           target=f"terminal {number}", before={"online": False}, after={"online": True})


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


class _NotCached(Exception):
    """The request's key is not in this process's cache yet (HeartbeatRoute reads it, then checks again)."""


class HeartbeatRoute:
    """A plain ASGI route for heartbeats in front of the app: no dependency injection, no response models, no
    middleware stack. On PostgreSQL the heartbeat never leaves the event loop (signature checked on it, the write
    batched by a BatchWriter) unless the key is not cached yet or something must be audited. Every other request
    goes on to the app."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app, self.services = app, services
        self.writer = (BatchWriter(services.db.url, POSTGRESQL_WRITE_PSYCOPG) if services.db.is_postgresql
                       else None)

    async def close(self) -> None:
        """Finish the writes in flight and close the writer's connections (call on the server's loop)."""
        if self.writer is not None:
            await self.writer.close()

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
        request = {"method": "POST", "url": url, "headers": headers, "body": body, "dealer": target[0],
                   "number": target[1]}
        try:
            if self.writer is None:
                answer = await run_in_threadpool(lambda: record_heartbeat(self.services, remote=remote, **request))
            else:
                answer = await self._record(self.writer, request, remote)
        except HTTPException as exc:
            await _reply(exc.status_code, {"detail": exc.detail}, scope, receive, send)
            return
        await _reply(200, answer, scope, receive, send)

    async def _record(self, writer: BatchWriter, request: dict[str, Any], remote: str) -> dict[str, Any]:
        """record_heartbeat on the event loop: the same checks, the same statement, the same audit records."""
        svc, dealer, number = self.services, request["dealer"], request["number"]

        missed: list[str] = []

        def cached(key_id: str) -> EnrolledKey | None:
            # Past its TTL too: the statement returns the rows' facts, checked below, so a key is read again only
            # when its row changed, not every few minutes (0.8 ms of CPU each time, per terminal and process).
            key = svc.keys.peek(key_id, stale=True)
            if key is None:
                missed.append(key_id)
                # Stop here: checking on without the key would hand the request to the reference verifier only to
                # be refused (and the presented certificate checked against the CA) before the key is read anyway.
                raise _NotCached(key_id)
            return key

        try:
            try:
                beat = check_heartbeat(svc, cached, now=utcnow(), **request)
            except (RequestRefused, _NotCached):
                if not missed:
                    raise
                # not cached yet: read from the database off the loop, then checked again with what was read
                found = await run_in_threadpool(svc.keys.get, svc.db.session, missed[0])
                beat = check_heartbeat(svc, lambda key_id: found if key_id == missed[0] else None, now=utcnow(),
                                       **request)
            written = written_from_row(beat, await writer.write(beat.params()))
            if written.key_changed:
                svc.keys.forget(beat.key.key_id)  # the next request is checked against the rows as they are now
            refuse_if(written, beat)
        except RequestRefused as refusal:
            await run_in_threadpool(audit_refusal, svc, refusal, dealer, number, remote)
            raise HTTPException(refusal.status, refusal.reason) from refusal
        if not written.was_online:
            await run_in_threadpool(audit_online, svc, beat, dealer, number)
        return reply(svc, beat, written)


async def _reply(status: int, content: dict[str, Any], scope: Scope, receive: Receive, send: Send) -> None:
    body = json.dumps(content).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-length", str(len(body)).encode()), *_REPLY_HEADERS]})
    await send({"type": "http.response.body", "body": body})


# The reply's fixed headers, encoded once (the hot path answers with plain ASGI messages, no Response object).
_REPLY_HEADERS = ((b"content-type", b"application/json"), (b"x-content-type-options", b"nosniff"),
                  (b"cache-control", b"no-store"))
