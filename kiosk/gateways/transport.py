"""HTTP transport shared by every HTTP gateway: one client per gateway, bounded replies, faults sorted by meaning.

A fault is sorted by what it says about the request: NotSent (provably never left: no connection was made) may
be retried anywhere; Lost (it may have arrived) must be resolved where it went; HttpStatus is an answer from
the server's HTTP layer rather than from the protocol.
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from kiosk.gateways.base import Code, Declined, PayOutcome, RetryLater, Unknown
from kiosk.gateways.deadline import SERVER_DATES, AttemptDeadline


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


class GatewayClient:
    """A gateway's connection pool: httpx's HTTP transport, and the little of httpx.Client a gateway needs.

    httpx.Client runs its cookie jar, auth flow and redirect handling on every request, a third of the CPU of a
    zero-latency exchange (bench/gateway_drain.py); a processing system needs none of it. Redirects are never
    followed (a payment must not land somewhere else), cookies must not carry from one payment to the next, and
    Basic credentials are one fixed header.
    """

    HEADERS = {"Accept": "*/*", "Accept-Encoding": "gzip, deflate", "User-Agent": "kiosk-terminal"}

    def __init__(self, options: Mapping[str, Any], transport: httpx.BaseTransport | None = None,
                 basic_auth: tuple[str, str] | None = None) -> None:
        seconds = float(options.get("timeout", 60))
        self.timeout = httpx.Timeout(seconds, connect=float(options.get("connect_timeout", min(seconds, 10))))
        self._extensions = {"timeout": self.timeout.as_dict()}
        headers = dict(self.HEADERS)
        if basic_auth is not None:
            pair = f"{basic_auth[0]}:{basic_auth[1]}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        self._headers = httpx.Headers(headers)  # validated once; each request copies the list
        if transport is None:
            verify: ssl.SSLContext | bool = bool(options.get("verify", True))
            if isinstance(options.get("verify"), str):
                verify = ssl.create_default_context(cafile=str(options["verify"]))  # a CA bundle pinned by the dealer
            connections = int(options.get("max_connections", 16))
            transport = httpx.HTTPTransport(
                verify=verify, trust_env=False,
                limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections))
        self._transport = transport

    def build_request(self, method: str, url: str, *, params: Mapping[str, str] | None = None,
                      data: Mapping[str, str] | None = None, content: bytes | None = None,
                      headers: Mapping[str, str] | None = None) -> httpx.Request:
        """A request carrying the gateway's headers and timeouts (given headers win over the defaults)."""
        merged = self._headers
        if headers:
            merged = self._headers.copy()
            merged.update(headers)
        return httpx.Request(method, url, params=params, data=data, content=content, headers=merged,
                             extensions=self._extensions)

    def send(self, request: httpx.Request) -> httpx.Response:
        """Send a request; the reply's body is still to be read (and the response closed) by the caller."""
        response = self._transport.handle_request(request)
        response.request = request
        return response

    def close(self) -> None:
        """Close the pool's connections."""
        self._transport.close()


def http_client(options: Mapping[str, Any], transport: httpx.BaseTransport | None,
                basic_auth: tuple[str, str] | None = None) -> GatewayClient:
    """A gateway's client from the common gateway options (timeouts, TLS, pool size)."""
    return GatewayClient(options, transport, basic_auth)


NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def exchange(client: GatewayClient, request: httpx.Request, limit: int) -> Reply:
    """Send one request and read at most `limit` bytes of reply; faults become NotSent or Lost.

    The client's timeout is one deadline for the whole exchange (connect + send + the complete reply), not
    per socket read: a server trickling bytes cannot hold the attempt longer.
    """
    total = client.timeout.read or 60.0
    try:
        with AttemptDeadline(total) as deadline:
            try:
                response = client.send(request)
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
