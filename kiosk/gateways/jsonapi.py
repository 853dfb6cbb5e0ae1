"""Our own JSON-over-HTTP processing API (docs/jsonapi-openapi.yaml): HMAC-signed, idempotent by key.

Every request carries X-Kiosk-Key, X-Kiosk-Timestamp (unix milliseconds) and X-Kiosk-Signature =
hex HMAC-SHA256(secret, METHOD \\n TARGET \\n TIMESTAMP \\n hex SHA-256(body)), where TARGET is the path below
the API's base URL *percent-decoded* (so "/v1/payments/T1:2", whether it travelled as ":" or "%3A"; proxies
and servers differ in what they hand on, the decoded path is what both ends agree on). Every reply is signed
the same way over "REPLY \\n <request signature> \\n TIMESTAMP \\n hex SHA-256(body)", binding it to the request.
A status answer "not_found" voids every earlier pay with that key that is still in flight, which is what makes
it safe to treat as "never registered".
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote

import httpx

from kiosk.gateways.base import (
    Approved,
    CheckOutcome,
    Code,
    Declined,
    Gateway,
    Payable,
    PaymentRequest,
    PayOutcome,
    Refused,
    RetryLater,
    Route,
    Unknown,
    Unreachable,
)
from kiosk.gateways.transport import HttpStatus, Lost, NotSent, exchange, http_client, http_outcome, where
from kiosk.money import Money, MoneyError
from kiosk.utility import Debt, DebtError, parse_debt

log = logging.getLogger(__name__)

PREFIX = "/v1"
KEY_HEADER, TS_HEADER, SIG_HEADER, IDEMPOTENCY_HEADER = (
    "X-Kiosk-Key", "X-Kiosk-Timestamp", "X-Kiosk-Signature", "Idempotency-Key")
CODES = {code.value: code for code in Code}


def canonical_target(raw_path: str, raw_query: str = "") -> str:
    """The TARGET line: the path below the base URL percent-decoded once as UTF-8, then "?" and the raw query."""
    return unquote(raw_path, errors="strict") + (f"?{raw_query}" if raw_query else "")


def canonical(method: str, target: str, timestamp: str, body: bytes) -> bytes:
    """The signed string of a request: method, canonical target, timestamp, body hash, one per line."""
    return f"{method.upper()}\n{target}\n{timestamp}\n{hashlib.sha256(body).hexdigest()}".encode()


def reply_canonical(request_signature: str, timestamp: str, body: bytes) -> bytes:
    """The signed string of a reply, bound to the request it answers."""
    return f"REPLY\n{request_signature}\n{timestamp}\n{hashlib.sha256(body).hexdigest()}".encode()


def sign(secret: bytes, message: bytes) -> str:
    """Hex HMAC-SHA256."""
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def utility_body(details: Mapping[str, Any], credited: int) -> dict[str, Any]:
    """A payment's `split` and `readings` from the operation's details; a split is only sent when its parts add
    up to the amount sent (one journaled for another amount — say money paid on elsewhere — never is)."""
    out: dict[str, Any] = {}
    split = details.get("split")
    if isinstance(split, list) and split and sum(int(part.get("amount", 0)) for part in split) == credited:
        out["split"] = split
    if isinstance(details.get("readings"), list) and details["readings"]:
        out["readings"] = details["readings"]
    return out


class BadReply(Exception):
    """A reply that is unsigned, wrongly signed, stale or not the JSON the API defines."""


class JsonApiGateway(Gateway):
    """A dealer's own processing reached through the kiosk JSON API."""

    protocol = "json"

    def __init__(self, name: str, options: Mapping[str, Any], *, transport: httpx.BaseTransport | None = None):
        super().__init__(name, options)
        for key in ("url", "key_id", "hmac_secret"):
            if not options.get(key):
                raise ValueError(f"gateway {name}: option {key!r} is required")
        self.url = str(options["url"]).rstrip("/")
        self.key_id = str(options["key_id"])
        self._secret = str(options["hmac_secret"]).encode()
        self.window_ms = int(float(options.get("replay_window_seconds", 300)) * 1000)
        self.limit = int(options.get("max_reply_bytes", 1 << 20))
        self.currency = str(options.get("currency", "RUB"))
        self._client = http_client(options, transport)
        self._lock = threading.Lock()
        self._last_ms = 0
        self.options.pop("hmac_secret", None)  # keep the secret out of anything that prints options

    def __repr__(self) -> str:
        return f"JsonApiGateway({self.name!r}, {where(self.url)!r})"

    # -- verbs --------------------------------------------------------------------------------------
    def check(self, route: Route, account: str, amount: Money, fields: Mapping[str, str]) -> CheckOutcome:
        """POST /v1/check."""
        body = {"provider": route.provider_code, "account": account, "amount": amount.decimal_text(),
                "currency": amount.currency, "fields": dict(fields)}
        try:
            status, data = self._call("POST", "/check", body)
        except (NotSent, Lost, HttpStatus, BadReply) as exc:
            return Unreachable(str(exc))
        if status == 200 and data.get("result") == "payable":
            return Payable({str(k): str(v) for k, v in (data.get("details") or {}).items()},
                           str(data.get("provider_override") or ""), debt=self._debt(data.get("debt")))
        if status == 200 and data.get("result") == "refused":
            return Refused(CODES.get(str(data.get("code")), Code.OTHER), str(data.get("message", "")),
                           str(data.get("code", "")))
        if status == 400 and data.get("result") == "bad_request":
            return Refused(Code.OTHER, f"request refused as malformed: {data.get('message', '')}", "bad_request")
        return Unreachable(f"HTTP {status}: {data.get('result')}")

    def pay(self, request: PaymentRequest) -> PayOutcome:
        """POST /v1/payments with the operation's Idempotency-Key."""
        body = {"provider": request.route.provider_code, "account": request.account,
                "amount": request.credited.decimal_text(), "cash": request.cash.decimal_text(),
                "fee": request.fee.decimal_text(), "currency": request.credited.currency,
                "fields": dict(request.fields), "terminal": request.terminal, "operation": request.operation,
                "accepted_at": request.accepted_at.isoformat()}
        # utility bills: how the amount is split across services and the meter readings, as journaled
        body.update(utility_body(request.details, request.credited.minor))
        try:
            status, data = self._call("POST", "/payments", body, request.idempotency_key)
        except NotSent as exc:
            return RetryLater(str(exc), not_executed=True, gateway_code="not-sent")
        except (Lost, BadReply) as exc:
            return Unknown(str(exc))
        except HttpStatus as exc:
            return http_outcome(exc.status, resend=False)
        return self._outcome(status, data)

    def status(self, request: PaymentRequest) -> PayOutcome:
        """GET /v1/payments/{key}; not_found also voids any pay with that key still on its way."""
        try:
            status, data = self._call("GET", f"/payments/{quote(request.idempotency_key, safe='')}")
        except NotSent as exc:
            return RetryLater(str(exc), gateway_code="not-sent")  # the query did not leave; the payment may have
        except (Lost, BadReply) as exc:
            return Unknown(str(exc))
        except HttpStatus as exc:
            return http_outcome(exc.status, resend=True)
        if status == 404 and data.get("result") == "not_found":
            return RetryLater("not registered", not_executed=True, gateway_code="not_found")
        return self._outcome(status, data)

    def balance(self) -> Money | None:
        """GET /v1/balance; None when it cannot be read."""
        try:
            status, data = self._call("GET", "/balance")
            return Money.parse(str(data["balance"]), str(data.get("currency", self.currency))) if status == 200 else None
        except (NotSent, Lost, HttpStatus, BadReply, KeyError, MoneyError):
            return None

    def close(self) -> None:
        """Close pooled connections."""
        self._client.close()

    # -- internals ----------------------------------------------------------------------------------
    def _debt(self, data: Any) -> Debt | None:
        """The check's debt by service; one that breaks the protocol is left out (the account is still payable)."""
        if data is None:
            return None
        try:
            return parse_debt(data)
        except DebtError as exc:
            log.warning("json %s: the check's debt is not usable, shown without it: %s", self.name, exc)
            return None

    def _outcome(self, status: int, data: dict[str, Any]) -> PayOutcome:
        result = data.get("result")
        if status == 200 and result == "approved" and data.get("payment_id"):
            return Approved(str(data["payment_id"]), str(data.get("message", "")))
        if status == 200 and result == "declined":
            return Declined(CODES.get(str(data.get("code")), Code.OTHER), str(data.get("message", "")),
                            str(data.get("code", "")))
        if status == 200 and result == "retry":
            return RetryLater(str(data.get("message", "")), gateway_code=str(data.get("code", "")))
        if status == 400 and result == "bad_request":
            # the server read the request and refused it as a whole: nothing was booked, and a resend would not
            # be any better; support sees why
            return Declined(Code.OTHER, f"request refused as malformed: {data.get('message', '')}", "bad_request")
        if status == 409 and result == "superseded":
            # the server guarantees a superseded request is never booked
            return RetryLater("superseded by a status query", not_executed=True, gateway_code="superseded")
        return Unknown(f"HTTP {status}: unexpected result {result!r}")

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None,
              idempotency_key: str = "") -> tuple[int, dict[str, Any]]:
        target = PREFIX + path
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode() if body is not None else b""
        with self._lock:
            # strictly increasing, so a pay sent right after a not_found status is never taken for an old one
            self._last_ms = max(int(time.time() * 1000), self._last_ms + 1)
            timestamp = str(self._last_ms)
        signature = sign(self._secret, canonical(method, canonical_target(target), timestamp, raw))
        headers = {KEY_HEADER: self.key_id, TS_HEADER: timestamp, SIG_HEADER: signature,
                   "Content-Type": "application/json", "Accept": "application/json"}
        if idempotency_key:
            headers[IDEMPOTENCY_HEADER] = idempotency_key
        log.info("json %s: %s %s key=%s", self.name, method, target, idempotency_key or "-")
        reply = exchange(self._client, self._client.build_request(method, self.url + target, content=raw,
                                                                  headers=headers), self.limit)
        if reply.status >= 500 or reply.status in (401, 403):
            raise HttpStatus(reply.status)
        reply_ts = reply.headers.get(TS_HEADER, "")
        expected = sign(self._secret, reply_canonical(signature, reply_ts, reply.body))
        if not hmac.compare_digest(expected, reply.headers.get(SIG_HEADER, "")):
            log.warning("json %s: reply signature does not verify", self.name)
            raise BadReply("reply signature does not verify")
        if not reply_ts.isdigit() or abs(int(reply_ts) - int(timestamp)) > self.window_ms:
            raise BadReply("reply timestamp outside the replay window")
        try:
            data = json.loads(reply.body)
        except (ValueError, RecursionError) as exc:
            raise BadReply(f"reply is not JSON ({type(exc).__name__})") from exc
        if not isinstance(data, dict):
            raise BadReply("reply is not a JSON object")
        return reply.status, data
