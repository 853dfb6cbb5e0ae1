"""A server for the kiosk JSON processing API on loopback: signed, idempotent by key, with faults."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kiosk.emulators.processing.core import BalanceLow, ProcessingEmulator
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
from kiosk.utility_demo import demo_debt, demo_payee

KEY = re.compile(r"[A-Za-z0-9._:-]{1,64}")
AMOUNT = re.compile(r"\d{1,9}\.\d{2}")
CURRENCIES = frozenset({"RUB"})


class JsonApiEmulator(ProcessingEmulator):
    """The reference server of docs/jsonapi-openapi.yaml."""

    protocol = "json"

    def __init__(self, *args: Any, key_id: str = "demo", secret: str = "demo-secret", window_seconds: int = 300,
                 min_sum: int = 100, max_sum: int = 15_000_00, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_id, self.secret, self.window_ms = key_id, secret.encode(), window_seconds * 1000
        self.min_sum, self.max_sum = min_sum, max_sum
        self._key_locks: dict[str, asyncio.Lock] = {}

    def app(self) -> Starlette:
        """The ASGI app."""
        return Starlette(routes=[
            Route("/v1/check", self.endpoint, methods=["POST"]),
            Route("/v1/payments", self.endpoint, methods=["POST"]),
            Route("/v1/payments/{key}", self.endpoint, methods=["GET"]),
            Route("/v1/balance", self.endpoint, methods=["GET"]),
            Route("/_admin", self.admin, methods=["POST"]),
        ])

    async def endpoint(self, request: Request) -> Response:
        """Authenticate, apply faults, dispatch, sign the reply."""
        path = request.url.path
        command = {"/v1/check": "check", "/v1/payments": "pay", "/v1/balance": "balance"}.get(path, "status")
        fault = await self.prelude(command)
        body = await request.body()
        raw_path = request.scope.get("raw_path", path.encode()).decode("ascii", "replace").split("?")[0]
        try:
            target = canonical_target(raw_path, request.url.query)
        except UnicodeDecodeError:
            target = ""  # a path that is not UTF-8 once decoded cannot have been signed by a client
        timestamp = request.headers.get(TS_HEADER, "")
        signature = request.headers.get(SIG_HEADER, "")
        good = sign(self.secret, canonical(request.method, target, timestamp, body))
        if (request.headers.get(KEY_HEADER) != self.key_id or not hmac.compare_digest(good, signature)
                or not timestamp.isdigit() or abs(int(timestamp) - time.time() * 1000) > self.window_ms):
            return Response(b'{"result":"unauthorized"}', 401, media_type="application/json")
        early = await self.fault_before(request, fault)
        if early is not None:
            return early
        if command == "pay":
            key = request.headers.get(IDEMPOTENCY_HEADER, "")
            # one request per key at a time, so a status query never overtakes a pay being booked
            lock = self._key_locks.setdefault(key, asyncio.Lock())
            async with lock:
                status, data = self.pay(key, int(timestamp), body)
        elif command == "status":
            async with self._key_locks.setdefault(request.path_params["key"], asyncio.Lock()):
                status, data = self.status(request.path_params["key"], int(timestamp))
        elif command == "check":
            status, data = self.check(body)
        else:
            with self.ledger.lock:
                status, data = 200, {"balance": _text(self.ledger.balance), "currency": "RUB"}
        out = await self.fault_after(request, fault, json.dumps(data, ensure_ascii=False).encode())
        if out is None:
            return Response(b"")
        reply_ts = str(int(time.time() * 1000))
        reply_sig = sign(self.secret, reply_canonical(signature, reply_ts, out))
        if fault == "bad-signature":
            reply_sig = "0" * len(reply_sig)
        return Response(out, status, {TS_HEADER: reply_ts, SIG_HEADER: reply_sig}, media_type="application/json")

    # -- the API --------------------------------------------------------------------------------------
    def check(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """Is this account payable with this amount."""
        data, problem = _payment(body)
        if problem:
            return 400, {"result": "bad_request", "message": problem}
        refusal = self._refusal(data)
        if refusal:
            return 200, {"result": "refused", **refusal}
        subscriber = self.ledger.subscriber(data["account"])
        assert subscriber is not None
        payee = demo_payee(data["provider"], data["fields"])
        if payee == {}:  # the demo bank pays by bank details only with the bill's details
            return 200, {"result": "refused", "code": "forbidden",
                         "message": "payment by bank details: the bill's payee details are missing (scan the bill)"}
        if payee:
            return 200, {"result": "payable", "details": {k: v for k, v in payee.items() if v}}
        debt = demo_debt(data["provider"], data["account"])
        if debt is not None:  # a demo utility account: the debt by service and the meters (OpenAPI `debt`)
            return 200, {"result": "payable", "details": {"name": str(debt["payer"])}, "debt": debt}
        return 200, {"result": "payable", "details": {"name": subscriber.name, "debt": _text(subscriber.debt)}}

    def pay(self, key: str, timestamp: int, body: bytes) -> tuple[int, dict[str, Any]]:
        """Book once per key; a repeated identical request gets the first answer."""
        if not KEY.fullmatch(key):
            return 400, {"result": "bad_request", "message": "Idempotency-Key must match [A-Za-z0-9._:-]{1,64}"}
        data, problem = _payment(body)
        if problem:
            return 400, {"result": "bad_request", "message": problem}
        fingerprint = hashlib.sha256(json.dumps([data[k] for k in ("provider", "account", "amount")]).encode())
        with self.ledger.lock:
            results = self.ledger.extra.setdefault("results", {})
            voided = self.ledger.extra.setdefault("voided", {})
            if key in results:
                if results[key]["fingerprint"] != fingerprint.hexdigest():
                    return 422, {"result": "key_reused", "message": "Idempotency-Key used for another payment"}
                return 200, results[key]["reply"]
            if timestamp <= voided.get(key, -1):
                return 409, {"result": "superseded", "message": "a status query reported this key not found"}
            refusal = self._refusal(data)
            if refusal:
                reply = {"result": "declined", **refusal}
            else:
                try:
                    booking = self.ledger.book(key, data["account"], data["amount"], data["provider"])
                    reply = {"result": "approved", "payment_id": booking.external_id,
                             "balance": _text(self.ledger.balance)}
                except BalanceLow:
                    return 200, {"result": "declined", "code": "dealer_balance_low",
                                 "message": "dealer balance insufficient"}
            results[key] = {"fingerprint": fingerprint.hexdigest(), "reply": reply}
            if reply["result"] == "approved":
                # utility bills: kept as received, for the demo's registry and the tests
                results[key].update({name: data[name] for name in ("split", "readings") if data.get(name)})
            self.ledger.save()
            return 200, reply

    def status(self, key: str, timestamp: int) -> tuple[int, dict[str, Any]]:
        """The answer given to the key; not_found voids any older pay with that key still on its way."""
        with self.ledger.lock:
            found = self.ledger.extra.setdefault("results", {}).get(key)
            if found:
                return 200, found["reply"]
            voided = self.ledger.extra.setdefault("voided", {})
            voided[key] = max(timestamp, voided.get(key, -1))
            self.ledger.save()
        return 404, {"result": "not_found"}

    def _refusal(self, data: dict[str, Any]) -> dict[str, str] | None:
        if not re.fullmatch(r"[0-9A-Za-z]{1,40}", data["account"]):
            return {"code": "wrong_format", "message": "wrong account format"}
        if self.ledger.subscriber(data["account"]) is None:
            return {"code": "account_not_found", "message": "account not found"}
        if data["amount"] < self.min_sum:
            return {"code": "amount_too_small", "message": "amount too small"}
        if data["amount"] > self.max_sum:
            return {"code": "amount_too_large", "message": "amount too large"}
        return None


def _payment(body: bytes) -> tuple[dict[str, Any], str]:
    """The body of a check or pay as the schema defines it, or what is wrong with it (never a guess)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        return {}, f"body is not JSON: {exc}"
    if not isinstance(data, dict):
        return {}, "body must be a JSON object"
    for name in ("provider", "account", "amount", "currency"):
        if name not in data:
            return {}, f"{name} is required"
        if not isinstance(data[name], str):
            return {}, f"{name} must be a string, got {type(data[name]).__name__}"
    if not data["account"]:
        return {}, "account must not be empty"
    if not AMOUNT.fullmatch(data["amount"]):
        return {}, "amount must be a string like '10.45'"
    if data["currency"] not in CURRENCIES:
        return {}, f"unknown currency {data['currency']!r}; known: {', '.join(sorted(CURRENCIES))}"
    fields = data.get("fields", {})
    if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
        return {}, "fields must be an object of strings"
    try:
        amount = int(Decimal(data["amount"]) * 100)
    except InvalidOperation:
        return {}, "amount must be a string like '10.45'"
    utility = {name: data[name] for name in ("split", "readings") if isinstance(data.get(name), list)}
    return {"provider": data["provider"], "account": data["account"], "amount": amount, "fields": fields,
            **utility}, ""


def _text(kopecks: int) -> str:
    return f"{kopecks // 100}.{kopecks % 100:02d}"
