"""OSMP (QIWI provider protocol): XML over HTTP, idempotent by txn_id.

status() has no query of its own in OSMP: it resends the identical pay (same txn_id, txn_date, account, sum),
which the protocol requires to be answered with result 0 and the same prv_txn if the first one was booked.
"""

from __future__ import annotations

import logging
import re
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element, ParseError
from zoneinfo import ZoneInfo

import httpx
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

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
from kiosk.gateways.deadline import SERVER_DATES, AttemptDeadline
from kiosk.money import Money

log = logging.getLogger(__name__)

RETRY = frozenset({1, 90})
DECLINES: dict[int, Code] = {
    4: Code.WRONG_FORMAT,
    5: Code.ACCOUNT_NOT_FOUND,
    7: Code.FORBIDDEN,
    8: Code.PROVIDER_UNAVAILABLE,
    31: Code.WRONG_FORMAT,
    32: Code.OTHER,
    79: Code.ACCOUNT_INACTIVE,
    241: Code.AMOUNT_TOO_SMALL,
    242: Code.AMOUNT_TOO_LARGE,
    243: Code.PROVIDER_UNAVAILABLE,
    300: Code.OTHER,
}
# Technical refusals say nothing about this payment; on a resend they must not end it.
TECHNICAL = frozenset({8, 243})
DUPLICATE = re.compile(r"dup|already|repeat|повтор|существ|дубл", re.IGNORECASE)
RESERVED = frozenset({"command", "txn_id", "txn_date", "account", "sum", "ccy", "prv_id"})


class NotSent(Exception):
    """The request provably never left (no connection was made)."""


class Lost(Exception):
    """The request may have been received; no usable reply came back."""


class HttpStatus(Exception):
    """The server answered with an HTTP error instead of a protocol reply."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


@dataclass(frozen=True, slots=True)
class Reply:
    """A bounded reply: status, headers, body."""

    status: int
    headers: httpx.Headers
    body: bytes


def http_client(options: Mapping[str, Any], transport: httpx.BaseTransport | None,
                auth: httpx.Auth | None = None) -> httpx.Client:
    """An httpx client from the common gateway options (timeouts, TLS, pool size)."""
    timeout = float(options.get("timeout", 60))
    verify: Any = options.get("verify", True)
    if isinstance(verify, str):
        verify = ssl.create_default_context(cafile=verify)  # a CA bundle path pinned by the dealer
    connections = int(options.get("max_connections", 16))
    return httpx.Client(
        auth=auth, transport=transport, verify=verify, follow_redirects=False, trust_env=False,
        timeout=httpx.Timeout(timeout, connect=float(options.get("connect_timeout", min(timeout, 10)))),
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )


NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def exchange(client: httpx.Client, request: httpx.Request, limit: int) -> Reply:
    """Send one request and read at most `limit` bytes of reply; faults become NotSent or Lost.

    The client's timeout is one deadline for the whole exchange (connect + send + the complete reply), not
    per socket read: a server trickling bytes cannot hold the attempt longer.
    """
    total = client.timeout.read or 60.0
    try:
        with AttemptDeadline(total) as deadline:
            try:
                response = client.send(request, stream=True)
                try:
                    deadline.watch(response)
                    SERVER_DATES.note(request.url.host, response.headers.get("date"))
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) > limit:
                            raise Lost(f"reply larger than {limit} bytes")
                finally:
                    response.close()
            except httpx.HTTPError as exc:
                if deadline.expired and not isinstance(exc, NOT_SENT):
                    raise Lost(f"no complete reply within the {total:g} s deadline") from exc
                raise
            if deadline.expired:
                raise Lost(f"no complete reply within the {total:g} s deadline")
        return Reply(response.status_code, response.headers, bytes(body))
    except NOT_SENT as exc:
        raise NotSent(f"{type(exc).__name__}: {exc}") from exc
    except httpx.HTTPError as exc:  # read/write timeouts, resets, protocol errors: it may have arrived
        raise Lost(f"{type(exc).__name__}: {exc}") from exc


def http_outcome(status: int, resend: bool) -> PayOutcome:
    """An HTTP error on pay: 5xx may come after the booking; 4xx means the request was not processed."""
    if status >= 500:
        return Unknown(f"HTTP {status}")
    if status in (401, 403) and not resend:
        # credentials refused before any processing: the outbox may try another route
        return Declined(Code.AUTH_FAILED, f"HTTP {status}", f"http-{status}")
    return RetryLater(f"HTTP {status}", gateway_code=f"http-{status}")


def where(url: str) -> str:
    """The URL without credentials or query, fit for logs."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{':' + str(parts.port) if parts.port else ''}{parts.path}"


class OsmpGateway(Gateway):
    """An OSMP provider or processing centre reached over HTTP(S) with optional Basic auth."""

    protocol = "osmp"

    def __init__(self, name: str, options: Mapping[str, Any], *, transport: httpx.BaseTransport | None = None):
        super().__init__(name, options)
        if not options.get("url"):
            raise ValueError(f"gateway {name}: option 'url' is required")
        self.url = str(options["url"])
        self.method = str(options.get("method", "GET")).upper()
        self.tz = ZoneInfo(options["timezone"]) if options.get("timezone") else None
        self.limit = int(options.get("max_reply_bytes", 1 << 20))
        self.ccy = str(options.get("ccy", ""))
        user = options.get("username", "")
        auth = httpx.BasicAuth(str(user), str(options.get("password", ""))) if user else None
        self._client = http_client(options, transport, auth)

    def __repr__(self) -> str:
        return f"OsmpGateway({self.name!r}, {where(self.url)!r})"

    # -- verbs --------------------------------------------------------------------------------------
    def check(self, route: Route, account: str, amount: Money, fields: Mapping[str, str]) -> CheckOutcome:
        """command=check; a temporary code or any fault is Unreachable, so the router may ask another route."""
        # check registers nothing, so it gets a throwaway txn_id rather than one of the journal's
        params = self._params("check", route, int(time.time() * 1000), account, amount, fields)
        try:
            root = self._call(route, params)
        except (NotSent, Lost, HttpStatus) as exc:
            return Unreachable(str(exc))
        result, comment = _result(root)
        if result == 0:
            return Payable(_fields(root))
        if result in DECLINES:
            return Refused(DECLINES[result], comment, str(result))
        return Unreachable(f"result {result}: {comment}")

    def pay(self, request: PaymentRequest) -> PayOutcome:
        """command=pay with the journal's txn_id."""
        return self._pay(request, resend=False)

    def status(self, request: PaymentRequest) -> PayOutcome:
        """Resend the identical pay: OSMP servers must answer a repeated txn_id with the first booking."""
        return self._pay(request, resend=True)

    def close(self) -> None:
        """Close pooled connections."""
        self._client.close()

    # -- internals ----------------------------------------------------------------------------------
    def _pay(self, request: PaymentRequest, resend: bool) -> PayOutcome:
        params = self._params("pay", request.route, request.txn_id, request.account, request.credited,
                              request.fields)
        when = request.accepted_at.astimezone(self.tz) if self.tz else request.accepted_at
        params["txn_date"] = when.strftime("%Y%m%d%H%M%S")
        try:
            root = self._call(request.route, params)
        except NotSent as exc:
            # Nothing left this time; but a resend stands for an earlier attempt that may have been booked.
            return RetryLater(str(exc), not_executed=not resend, gateway_code="not-sent")
        except Lost as exc:
            return Unknown(str(exc))
        except HttpStatus as exc:
            return http_outcome(exc.status, resend)
        result, comment = _result(root)
        echoed = root.findtext("osmp_txn_id")
        if echoed is not None and echoed.strip() not in ("", str(request.txn_id)):
            return Unknown(f"reply is for txn_id {echoed.strip()!r}, not {request.txn_id}")
        if result == 0:
            return Approved((root.findtext("prv_txn") or "").strip(), comment)
        if result in RETRY:
            return RetryLater(comment, gateway_code=str(result))
        if result == 300 and (resend or DUPLICATE.search(comment)):
            # Some servers answer a repeated txn_id with 300: the first attempt may well have been booked.
            return Unknown(f"result 300 on a possible duplicate: {comment}")
        if result in TECHNICAL and resend:
            return RetryLater(comment, gateway_code=str(result))
        if result in DECLINES:
            return Declined(DECLINES[result], comment, str(result))
        return Unknown(f"unexpected result {result}: {comment}")

    def _params(self, command: str, route: Route, txn_id: int, account: str, amount: Money,
                fields: Mapping[str, str]) -> dict[str, str]:
        params = {"command": command, "txn_id": str(txn_id), "account": account, "sum": amount.decimal_text()}
        if self.ccy:
            params["ccy"] = self.ccy
        if route.provider_code:
            params["prv_id"] = route.provider_code
        # Extra input fields travel as parameters named after the field; the protocol's own names win.
        params.update({k: v for k, v in fields.items() if k not in RESERVED})
        return params

    def _call(self, route: Route, params: dict[str, str]) -> Element:
        """One exchange; a reply that is not a clean OSMP document is Lost, never a decline."""
        url = str(route.options.get("url", self.url))
        if self.method == "POST":
            http_request = self._client.build_request("POST", url, data=params)
        else:
            http_request = self._client.build_request("GET", url, params=params)
        if log.isEnabledFor(logging.INFO):  # where() parses the URL; not worth it when nobody listens
            log.info("osmp %s: %s txn_id=%s sum=%s at %s", self.name, params["command"], params["txn_id"],
                     params["sum"], where(url))
        reply = exchange(self._client, http_request, self.limit)
        if reply.status != 200:
            raise HttpStatus(reply.status)
        try:
            root: Element = fromstring(reply.body, forbid_dtd=True)
        except (DefusedXmlException, ParseError, ValueError) as exc:
            log.warning("osmp %s: refused reply: %s", self.name, type(exc).__name__)
            raise Lost(f"unusable XML reply ({type(exc).__name__})") from exc
        if root.tag != "response" or not (root.findtext("result") or "").strip().isdigit():
            raise Lost("reply is not an OSMP <response> with a numeric <result>")
        return root


def _result(root: Element) -> tuple[int, str]:
    return int((root.findtext("result") or "").strip()), (root.findtext("comment") or "").strip()


def _fields(root: Element) -> dict[str, str]:
    """Extra data for the payer: <fields><field1 name="FIO">…</field1>…; unnamed ones become disp1…dispN."""
    out: dict[str, str] = {}
    container = root.find("fields")
    if container is None:
        return out
    for index, item in enumerate(container, 1):
        out[item.get("name") or f"disp{index}"] = (item.text or "").strip()
    return out
