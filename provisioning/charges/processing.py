"""The debt lookup as a JSON processing API (docs/jsonapi-openapi.yaml) under /api/processing: a terminal's jsonapi
gateway with base URL `https://<portal>/api/processing` checks accounts against the loaded charge registries and books
payments here, once per Idempotency-Key. Requests and replies are signed with the per-provider key's secret."""

from __future__ import annotations

import hmac
import json
import re
import time
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from kiosk.gateways.jsonapi import (
    IDEMPOTENCY_HEADER,
    KEY_HEADER,
    SIG_HEADER,
    TS_HEADER,
    canonical,
    canonical_target,
    reply_canonical,
    sign,
)
from provisioning.charges import booking, store
from provisioning.config.vault import vault_of
from provisioning.context import Services

BASE = "/api/processing"
router = APIRouter(prefix=BASE, include_in_schema=False)
WINDOW_MS = 300_000
MAX_BODY = 64 * 1024
KEY = re.compile(r"[A-Za-z0-9._:-]{1,64}")
AMOUNT = re.compile(r"\d{1,9}\.\d{2}")
DECIMAL = re.compile(r"\d{1,9}(\.\d{1,3})?")


class BadRequest(Exception):
    """A body that is not what the API defines (answered 400 bad_request, naming the field)."""


def _kopecks(text: str) -> int:
    return int(Decimal(text) * 100)


def parse_body(body: bytes) -> dict[str, Any]:
    """The common part of check and pay, checked as the schema says (amount in kopecks)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    for name in ("provider", "account", "amount", "currency"):
        if not isinstance(data.get(name), str):
            raise BadRequest(f"{name} is required and must be a string")
    if not AMOUNT.fullmatch(data["amount"]):
        raise BadRequest("amount must be a string like '10.45'")
    if data["currency"] != "RUB":
        raise BadRequest(f"unknown currency {data['currency']!r}; known: RUB")
    fields = data.get("fields", {})
    if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
        raise BadRequest("fields must be an object of strings")
    return {**data, "amount": _kopecks(data["amount"]), "fields": fields}


def _split(value: Any, amount: int) -> list[dict[str, Any]]:
    """The payment's split across services: each part named, in kopecks, adding up to the amount."""
    if not isinstance(value, list):
        raise BadRequest("split must be a list")
    parts = []
    for index, part in enumerate(value):
        if not (isinstance(part, dict) and isinstance(part.get("service"), str)
                and isinstance(part.get("amount"), int) and not isinstance(part.get("amount"), bool)
                and part["amount"] >= 0):
            raise BadRequest(f"split[{index}] must be {{service: text, name: text, amount: kopecks}}")
        parts.append({"service": part["service"], "name": str(part.get("name", "")), "amount": part["amount"]})
    if sum(p["amount"] for p in parts) != amount:
        raise BadRequest(f"split adds up to {sum(p['amount'] for p in parts)} kopecks, the amount is {amount}")
    return parts


def _readings(value: Any) -> list[dict[str, Any]]:
    """Meter readings: each names its meter, the value a decimal string (never a float)."""
    if not isinstance(value, list):
        raise BadRequest("readings must be a list")
    for index, reading in enumerate(value):
        if not (isinstance(reading, dict) and isinstance(reading.get("meter"), str)
                and isinstance(reading.get("value"), str) and DECIMAL.fullmatch(reading["value"])):
            raise BadRequest(f"readings[{index}] must name its meter and give value as a decimal string")
    return list(value)


def check(svc: Services, holder: booking.KeyHolder, body: bytes) -> tuple[int, dict[str, Any]]:
    """Payable with the debt from the newest registry, or refused for an account no registry has."""
    data = parse_body(body)
    if data["provider"] != holder.provider:
        return 200, {"result": "refused", "code": "forbidden", "message": "this key is not for that provider"}
    if data["amount"] <= 0:
        return 200, {"result": "refused", "code": "amount_too_small", "message": "amount must be positive"}
    with svc.db.session() as session:
        found = store.current(session, holder.dealer_id, holder.provider, data["account"])
        if found is None:
            return 200, {"result": "refused", "code": "account_not_found",
                         "message": "the account is in none of the provider's charge registries"}
        account, registry = found
        debt = store.debt_object(account, registry)
    # shown to the payer by any terminal; "debt" itself is left to the object (the operation's details.debt is one)
    details = {"name": debt["payer"], "address": debt["address"], "period": f"{debt['period'][:2]}.{debt['period'][2:]}",
               "to_pay": store.rub(debt["total"])}
    return 200, {"result": "payable", "details": details, "debt": debt}


def pay(svc: Services, holder: booking.KeyHolder, key: str, timestamp: int, body: bytes) -> tuple[int, dict[str, Any]]:
    """Book once per key: a payment for an account no registry has is declined (and stays declined)."""
    if not KEY.fullmatch(key):
        raise BadRequest("Idempotency-Key must match [A-Za-z0-9._:-]{1,64}")
    data = parse_body(body)
    details: dict[str, Any] = {"fields": data["fields"]}
    if "split" in data:
        details["split"] = _split(data["split"], data["amount"])
    if "readings" in data:
        details["readings"] = _readings(data["readings"])
    operation = data.get("operation")
    if operation is not None and (not isinstance(operation, int) or isinstance(operation, bool)):
        raise BadRequest("operation must be an integer")
    terminal = str(data.get("terminal") or "")
    decline: tuple[str, str] | None = None
    registry_id = None
    with svc.db.session() as session:
        if data["provider"] != holder.provider or (holder.terminal and terminal != holder.terminal):
            decline = ("forbidden", "this key is not for that provider or terminal")
        elif data["amount"] <= 0:
            decline = ("amount_too_small", "amount must be positive")
        else:
            found = store.current(session, holder.dealer_id, holder.provider, data["account"])
            if found is None:
                decline = ("account_not_found", "the account is in none of the provider's charge registries")
            else:
                registry_id = found[1].id
        request = booking.Pay(key, timestamp, data["provider"], data["account"][:40], data["amount"], terminal[:40],
                              operation, details, registry_id, holder.key_id)
        return booking.book(session, holder.dealer_id, request, decline)


def status(svc: Services, holder: booking.KeyHolder, key: str, timestamp: int) -> tuple[int, dict[str, Any]]:
    """The answer given to a key, or not_found (which voids older pays with it)."""
    with svc.db.session() as session:
        return booking.status(session, holder.dealer_id, key, timestamp)


def _unauthorized() -> Response:
    return Response(b'{"result":"unauthorized"}', 401, media_type="application/json")


async def _serve(request: Request, command: str, key: str = "") -> Response:
    body = await request.body()
    if len(body) > MAX_BODY:
        return Response(b'{"result":"bad_request","message":"body too large"}', 413, media_type="application/json")
    svc: Services = request.app.state.services
    raw_path = request.scope.get("raw_path", request.url.path.encode()).decode("ascii", "replace").split("?")[0]
    try:
        target = canonical_target(raw_path.removeprefix(BASE), request.url.query)
    except UnicodeDecodeError:
        return _unauthorized()
    timestamp = request.headers.get(TS_HEADER, "")
    signature = request.headers.get(SIG_HEADER, "")
    key_id = request.headers.get(KEY_HEADER, "")

    def work() -> Response:
        with svc.db.session() as session:
            holder = booking.holder(session, vault_of(svc.settings.state_dir), key_id) if key_id else None
        if holder is None or not timestamp.isdigit() or abs(int(timestamp) - time.time() * 1000) > WINDOW_MS:
            return _unauthorized()
        good = sign(holder.secret, canonical(request.method, target, timestamp, body))
        if not hmac.compare_digest(good, signature):
            return _unauthorized()
        try:
            if command == "check":
                status_code, data = check(svc, holder, body)
            elif command == "pay":
                status_code, data = pay(svc, holder, request.headers.get(IDEMPOTENCY_HEADER, ""), int(timestamp), body)
            elif command == "balance":
                # no dealer balance to run out of: the dealer collects for the provider itself (the route stays)
                status_code, data = 404, {"result": "not_found", "message": "no dealer balance at this processing"}
            else:
                status_code, data = status(svc, holder, key, int(timestamp))
        except BadRequest as exc:
            status_code, data = 400, {"result": "bad_request", "message": str(exc)}
        out = json.dumps(data, ensure_ascii=False).encode()
        reply_ts = str(int(time.time() * 1000))
        return Response(out, status_code, {TS_HEADER: reply_ts,
                                           SIG_HEADER: sign(holder.secret, reply_canonical(signature, reply_ts, out))},
                        media_type="application/json")

    response: Response = await run_in_threadpool(work)
    return response


@router.post("/v1/check")
async def check_route(request: Request) -> Response:
    """Is this account payable: the debt by service from the newest charge registry."""
    return await _serve(request, "check")


@router.post("/v1/payments")
async def pay_route(request: Request) -> Response:
    """Book a payment once per Idempotency-Key."""
    return await _serve(request, "pay")


@router.get("/v1/payments/{key}")
async def status_route(key: str, request: Request) -> Response:
    """The answer given to a key; not_found voids older pays with it."""
    return await _serve(request, "status", key)


@router.get("/v1/balance")
async def balance_route(request: Request) -> Response:
    """Signed not_found: a terminal reads "no balance reported" and keeps the route."""
    return await _serve(request, "balance")
