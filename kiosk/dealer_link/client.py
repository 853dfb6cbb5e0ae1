"""Signed, mutually authenticated requests from an enrolled terminal to its dealer service, and the heartbeat loop
that runs beside the payment core (its own thread; a slow or absent service never delays a payment)."""

from __future__ import annotations

import functools
import importlib.metadata
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kiosk import __version__
from kiosk.dealer_link.identity import LinkError, TerminalIdentity
from kiosk.dealer_link.signing import CLIENT_CERT_HEADER, client_cert_header, sign
from kiosk.dealer_link.tls_session import resuming_client_context

log = logging.getLogger(__name__)
TIMEOUT = 15.0
WATCH_INTERVAL = 5.0  # seconds between looks at the terminal's state (no device I/O: cheap)
MIN_INTERVAL, MAX_INTERVAL = 5, 3600  # heartbeat intervals a service reply may set
# An idle connection is kept this much longer than the heartbeat interval, so each heartbeat goes over the
# connection the previous one opened (no TLS handshake: most of a heartbeat's cost to the service). The service
# keeps idle link connections longer still (provisioning.server), so the terminal is the side that lets go.
KEEP_ALIVE_MARGIN = 20.0
# TCP keepalive probes on the idle connection: a NAT box or firewall keeps its mapping, and a connection that died
# silently is noticed before the next heartbeat is written into it (seconds idle, between probes, probes).
TCP_KEEPALIVE = (30, 10, 3)


def _socket_options() -> list[tuple[int, int, int]]:
    options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    if hasattr(socket, "TCP_KEEPIDLE"):  # Linux (the terminals); elsewhere the system's keepalive timing
        idle, interval, count = TCP_KEEPALIVE
        options += [(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle),
                    (socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, interval),
                    (socket.IPPROTO_TCP, socket.TCP_KEEPCNT, count)]
    return options


@functools.cache
def package_version() -> str:
    """The installed kiosk package's version, which a release's wheel carries (read once, off the UI thread)."""
    try:
        return importlib.metadata.version("kiosk")
    except importlib.metadata.PackageNotFoundError:
        return __version__


def _key_id(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


class DealerLink:
    """The terminal's authenticated connection: every request over mTLS and signed (RFC 9421)."""

    def __init__(self, folder: Path) -> None:
        self.identity = TerminalIdentity(folder)
        self.settings = self.identity.settings()
        self._client: httpx.Client | None = None
        self._load()

    def _load(self) -> None:
        self.key, self.cert = self.identity.load()
        self.key_id = _key_id(self.cert)
        self._cert_header = client_cert_header(self.cert.public_bytes(serialization.Encoding.DER))
        if self._client is not None:
            self._client.close()
        # A new context with each identity: a renewed certificate is never hidden behind a resumed session.
        self.tls = resuming_client_context(self.identity.ca, self.identity.identity)
        expiry = self.settings.heartbeat_interval + KEEP_ALIVE_MARGIN
        transport = httpx.HTTPTransport(verify=self.tls, limits=httpx.Limits(keepalive_expiry=expiry),
                                        socket_options=_socket_options())
        self._client = httpx.Client(base_url=self.settings.link_url, transport=transport, timeout=TIMEOUT)

    @property
    def terminal_path(self) -> str:
        """The API path of this terminal."""
        return f"/api/v1/terminals/{self.settings.dealer}/{self.settings.number}"

    @contextmanager
    def stream(self, path: str, headers: dict[str, str] | None = None) -> Iterator[httpx.Response]:
        """A signed GET whose reply body is read in pieces (files: update metadata and bundles); transport
        faults raise LinkError, the status is the caller's to judge."""
        try:
            with self.http.stream("GET", path, headers={**(headers or {}),
                                                           **self.signed_headers("GET", path, b"")}) as reply:
                yield reply
        except httpx.HTTPError as exc:
            raise LinkError(f"dealer service unreachable at {self.settings.link_url}: {exc}") from exc

    def request(self, method: str, path: str, payload: Any = None, timeout: float | None = None, *,
                content: bytes | None = None, content_encoding: str = "") -> dict[str, Any]:
        """Send one signed request (a long poll gives a longer timeout; `content`: JSON bytes as they are, e.g.
        gzip with its `content_encoding`); a refusal raises LinkError with the service's reason."""
        body = content if content is not None else b"" if payload is None else json.dumps(payload).encode()
        headers = self.signed_headers(method, path, body)
        if content_encoding:
            headers["Content-Encoding"] = content_encoding
        try:
            reply = self.http.request(method, path, content=body, headers=headers, timeout=timeout or TIMEOUT)
        except httpx.HTTPError as exc:
            raise LinkError(f"dealer service unreachable at {self.settings.link_url}: {exc}") from exc
        if reply.status_code >= 400:
            try:
                detail = reply.json().get("detail", reply.text)
            except ValueError:
                detail = reply.text
            raise LinkError(f"{method} {path} refused ({reply.status_code}): {detail}")
        result: dict[str, Any] = reply.json()
        return result

    def signed_headers(self, method: str, path: str, body: bytes = b"") -> dict[str, str]:
        """Headers that sign one request to `path` (RFC 9421) and present the certificate (RFC 9440)."""
        headers = sign(method, f"{self.settings.link_url}{path}", body, self.key, self.key_id)
        headers[CLIENT_CERT_HEADER] = self._cert_header
        if body:
            headers["Content-Type"] = "application/json"
        return headers

    @property
    def http(self) -> httpx.Client:
        """The mutually authenticated connection pool (for a caller that streams a reply, e.g. a long poll)."""
        if self._client is None:
            raise LinkError("the dealer link is closed")
        return self._client

    def heartbeat(self, status: dict[str, Any] | None = None) -> dict[str, Any]:
        """Report that the terminal is alive (and renew the certificate when the service says it is time)."""
        reply = self.request("POST", f"{self.terminal_path}/heartbeat",
                             {"version": package_version(), **(status or {})})
        if reply.get("renew_certificate"):
            self.renew()
        return reply

    def renew(self) -> None:
        """A new key and certificate before the old one expires (the old key signs the request)."""
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kiosk terminal")]))
               .sign(key, hashes.SHA256()))
        reply = self.request("POST", f"{self.terminal_path}/certificate",
                             {"csr": csr.public_bytes(serialization.Encoding.PEM).decode()})
        cert = x509.load_pem_x509_certificate(reply["certificate"].encode())
        self.identity.save(key, cert)
        self._load()
        log.info("dealer link: certificate renewed, valid until %s", cert.not_valid_after_utc)

    def close(self) -> None:
        """Close the connection pool (idempotent)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> DealerLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class HeartbeatLoop:
    """Sends a heartbeat every interval from its own thread (the service's reply may change the interval); between
    heartbeats calls `watch` every few seconds (state changes are noted when they happen, not a minute later).
    Failures are logged and retried next time: missed heartbeats are not replayed."""

    def __init__(self, folder: Path, status: Callable[[], dict[str, Any]] | None = None,
                 interval: float | None = None, on_reply: Callable[[dict[str, Any]], object] | None = None,
                 watch: Callable[[], object] | None = None, watch_interval: float = WATCH_INTERVAL) -> None:
        self.link = DealerLink(folder)
        self.status = status or (lambda: {})
        self.on_reply = on_reply or (lambda reply: None)
        self.watch = watch
        self.fixed_interval = interval is not None
        self.interval = float(interval or self.link.settings.heartbeat_interval)
        self.watch_interval = watch_interval
        self.started = time.monotonic()
        self.sent = 0
        self.last_error = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dealer-heartbeat", daemon=True)
        self.companions: list[Any] = []  # other loops on the link (remote commands …), closed with this one

    def start(self) -> HeartbeatLoop:
        """Start sending (the first heartbeat goes at once)."""
        self._thread.start()
        return self

    def beat(self) -> bool:
        """One heartbeat now; True if the service accepted it."""
        try:
            reply = self.link.heartbeat({"uptime_s": int(time.monotonic() - self.started), **self.status()})
        except LinkError as exc:
            self.last_error = str(exc)
            log.warning("dealer link: %s", exc)
            return False
        self.sent += 1
        self.last_error = ""
        interval = reply.get("heartbeat_interval")
        if not self.fixed_interval and isinstance(interval, int) and not isinstance(interval, bool) \
                and MIN_INTERVAL <= interval <= MAX_INTERVAL:
            self.interval = float(interval)  # the dealer sets it for the fleet
        try:
            self.on_reply(reply)
        except Exception:  # the heartbeat thread outlives any fault in what the reply triggers; it retries next time
            log.exception("dealer link: acting on the heartbeat reply failed")
        return True

    def _run(self) -> None:
        due = 0.0
        while not self._stop.is_set():
            if time.monotonic() >= due:
                due = time.monotonic() + self.interval
                self.beat()
            elif self.watch is not None:
                try:
                    self.watch()
                except Exception:  # a failing read of the terminal's state must not end the heartbeat
                    log.exception("dealer link: watching the terminal's state failed")
            wait = due - time.monotonic()
            self._stop.wait(max(0.0, min(wait, self.watch_interval) if self.watch is not None else wait))

    def close(self) -> None:
        """Stop the loop and close the connection."""
        self._stop.set()
        for companion in self.companions:
            companion.close()
        if self._thread.is_alive():
            self._thread.join(timeout=TIMEOUT + 5)
        self.link.close()


def start_if_enrolled(folder: Path, status: Callable[[], dict[str, Any]] | None = None,
                      on_reply: Callable[[dict[str, Any]], object] | None = None,
                      watch: Callable[[], object] | None = None) -> HeartbeatLoop | None:
    """The composition root's one call: a running heartbeat loop when this terminal is enrolled, else None."""
    if not TerminalIdentity(folder).enrolled():
        return None
    return HeartbeatLoop(folder, status=status, on_reply=on_reply, watch=watch).start()
