"""What the monitoring tests share: terminals enrolled for real and heartbeating through the link, a webhook
receiver and an SMTP server (aiosmtpd) on loopback ports chosen by the kernel, each recording what it received."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket
import threading
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope
from sqlalchemy import select

from kiosk.dealer_link.client import DealerLink
from kiosk.dealer_link.enroll import enroll
from provisioning import tenants
from provisioning.db.models import Dealer
from provisioning.identity import enrollment
from provisioning.identity.ca import CAFiles
from provisioning.server import DealerServer


def enrolled(server: DealerServer, database, folder: Path, number: str, dealer: str = "acme",
             group: str = "") -> DealerLink:
    """A terminal added to `dealer`, enrolled with a one-time code like a real one, and its signed link."""
    with database.session() as session:
        owner = session.scalar(select(Dealer).where(Dealer.slug == dealer)) or tenants.create_dealer(
            session, dealer, dealer.title())
        terminal = tenants.add_terminal(session, owner, number, f"Lenina {number}", "Europe/Moscow", group, "test")
        code = enrollment.new_enrollment_code(session, terminal, "test", dt.datetime.now(dt.UTC), 24)
    enroll(server.portal_url, code, CAFiles(server.settings.ca_dir).load().fingerprint, folder / number)
    return DealerLink(folder / number)


def payload(**overrides: Any) -> dict[str, Any]:
    """A healthy terminal's heartbeat (the agreed keys), with some of them changed."""
    base: dict[str, Any] = {
        "version": "1.4.0", "uptime_s": 3600,
        "validator": {"kind": "ccnet", "online": True, "state": "idling", "detail": ""},
        "printer": "ready", "paper": "ok", "cassette": {"count": 100, "kopecks": 5_000_000, "capacity": 1000},
        "outbox_depth": 0, "outbox_oldest_s": 0, "outbox_kopecks": 0, "needs_attention": 0, "uncertain_bills": 0,
        "free_disk_bytes": 10**10, "clock_skew_s": 0.4, "locked": False, "last_operation": 10, "events": []}
    return base | overrides


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        receiver: WebhookReceiver = self.server.receiver  # type: ignore[attr-defined]
        status = receiver.next_status()
        if status == 200:
            receiver.received.append((dict(self.headers), body))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


class WebhookReceiver:
    """An HTTP server on loopback that records every POST it accepts; `fail_next` refuses that many with 500."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.fail_next = 0
        self.refused = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
        self._server.receiver = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True)
        self._thread.start()

    def next_status(self) -> int:
        with self._lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                self.refused += 1
                return 500
            return 200

    def documents(self) -> list[dict[str, Any]]:
        """The JSON bodies received, in order."""
        return [json.loads(body) for _, body in self.received]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _Collect:
    def __init__(self, messages: list[Message], refuse: int = 0) -> None:
        self.messages = messages
        self.refuse = refuse  # this many messages are refused first (a mail server that is busy, then takes them)
        self.refused = 0

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd
        if self.refused < self.refuse:
            self.refused += 1
            return "451 4.3.0 mailbox busy, try again later"
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        self.messages.append(message_from_bytes(content, policy=policy.default))  # headers decoded, unfolded
        return "250 OK"


class SmtpServer:
    """aiosmtpd on a loopback port the kernel picks, in its own thread and event loop; `messages` it accepted."""

    def __init__(self, refuse: int = 0) -> None:
        self.messages: list[Message] = []
        self.handler = _Collect(self.messages, refuse)
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="smtp-server", daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            self._loop.create_server(lambda: SMTP(self.handler, hostname="smtp.test"), sock=self._sock))
        self._ready.set()
        self._loop.run_forever()
        self._server.close()
        self._loop.run_until_complete(self._server.wait_closed())
        self._loop.close()

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
