"""Sending alert events: a webhook (HTTP POST of JSON, signed with HMAC-SHA256 of the timestamp and body) and
e-mail through the configured SMTP server. Each delivery row is claimed on its own (SKIP LOCKED on PostgreSQL, a
conditional update everywhere) and sent outside any transaction, so a slow receiver never holds a database lock
and every server process may send without two of them sending the same row. A failure is retried with back-off.

Delivery is at least once: a server that dies between sending and recording sends again after its lease, so every
message carries a stable id (`X-Kiosk-Delivery`, `Message-ID`) for receivers to drop a repeat."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
from sqlalchemy import or_, select, update

from provisioning.db import Database
from provisioning.db.models import Dealer, Terminal, utcnow
from provisioning.monitor.alerts import one_line
from provisioning.monitor.models import Alert, AlertChannel, AlertDelivery
from provisioning.settings import Settings

log = logging.getLogger(__name__)
TIMEOUT = 10.0  # seconds for one webhook request or one SMTP conversation
LEASE = timedelta(seconds=3 * TIMEOUT)  # a claimed row left longer than this was abandoned by a dead server
MAX_ATTEMPTS = 12
SIGNATURE_HEADER = "X-Kiosk-Signature"


class DeliveryFailed(Exception):
    """A message the receiver did not take (a refusal, a timeout, a connection fault), with the reason; `final`
    when trying again cannot help (the channel was removed)."""

    def __init__(self, reason: str, final: bool = False) -> None:
        super().__init__(reason)
        self.final = final


def backoff(attempts: int) -> timedelta:
    """How long to wait after the n-th failed attempt: 30 s, doubling, at most an hour."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The webhook's signature header value: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>." + body>."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes) -> bool:
    """What a receiver does: recompute the signature over the header's timestamp and the body, compare."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    return hmac.compare_digest(sign(secret, parts.get("t", ""), body), header)


@dataclass(frozen=True)
class Message:
    """One event about one alert, as every channel says it."""

    delivery_id: str
    document: dict[str, Any]
    subject: str
    text: str


def message(alert: Alert, event: str, terminal: Terminal, dealer: Dealer) -> Message:
    """The event as a JSON document, an e-mail subject and a plain-text body (times in UTC, ISO 8601)."""
    delivery_id = f"alert-{alert.id}-{event}"
    document = {"id": delivery_id, "event": event, "dealer": dealer.slug, "terminal": terminal.number,
                "address": terminal.address, "alert": {
                    "id": alert.id, "kind": alert.kind, "detail": alert.detail,
                    "opened_at": alert.opened_at.isoformat(),
                    "closed_at": alert.closed_at.isoformat() if alert.closed_at else None,
                    "close_detail": alert.close_detail}}
    what = "ALERT" if event == "opened" else "resolved"
    subject = one_line(f"[kiosk {dealer.slug}] {what}: terminal {terminal.number} {alert.kind} — {alert.detail}")[:200]
    lines = [f"Terminal {terminal.number} ({terminal.address})", f"Alert: {alert.kind} — {alert.detail}",
             f"Opened: {alert.opened_at.isoformat()}"]
    if alert.closed_at:
        lines.append(f"Closed: {alert.closed_at.isoformat()} ({alert.close_detail})")
    return Message(delivery_id, document, subject, "\n".join(lines) + "\n")


def send_webhook(url: str, secret: str, msg: Message, now: datetime) -> None:
    """POST the event; any 2xx is taken, anything else raises DeliveryFailed."""
    body = json.dumps(msg.document, sort_keys=True).encode()
    timestamp = str(int(now.timestamp()))
    headers = {"Content-Type": "application/json", "X-Kiosk-Delivery": msg.delivery_id,
               "X-Kiosk-Timestamp": timestamp, "User-Agent": "kiosk-dealer alerts"}
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, timestamp, body)
    try:
        reply = httpx.post(url, content=body, headers=headers, timeout=TIMEOUT, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
    if not 200 <= reply.status_code < 300:
        raise DeliveryFailed(f"HTTP {reply.status_code}")


def send_email(settings: Settings, recipients: list[str], msg: Message) -> None:
    """Send the event by e-mail through the configured SMTP server (STARTTLS and login when configured)."""
    if not settings.smtp_host:
        raise DeliveryFailed("no SMTP server configured (smtp_host in service.json)")
    mail = EmailMessage()
    mail["From"] = settings.smtp_from or f"kiosk-dealer@{settings.smtp_host}"
    mail["To"] = ", ".join(recipients)
    mail["Subject"] = msg.subject
    mail["Message-ID"] = f"<{msg.delivery_id}@kiosk-dealer>"
    mail.set_content(msg.text + "\n" + json.dumps(msg.document, indent=2, ensure_ascii=False) + "\n")
    smtp_send(settings, mail)


def smtp_send(settings: Settings, mail: EmailMessage) -> None:
    """Hand one message to the configured SMTP server (STARTTLS and login when configured)."""
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
            smtp.send_message(mail)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc


def _claim(db: Database, now: datetime) -> tuple[int, int] | None:
    """Take the oldest due delivery for this process: (id, attempt number), or None when nothing is due."""
    due = or_(AlertDelivery.state == "pending",
              (AlertDelivery.state == "sending") & (AlertDelivery.lease_until < now))
    with db.session() as session:
        query = (select(AlertDelivery.id, AlertDelivery.attempts)
                 .where(due, AlertDelivery.next_attempt_at <= now).order_by(AlertDelivery.id).limit(1))
        if db.is_postgresql:
            query = query.with_for_update(skip_locked=True)
        row = session.execute(query).first()
        if row is None:
            return None
        delivery_id, attempts = row
        # Conditional: on SQLite another process may have read the same row before this one took the write lock.
        taken = session.execute(update(AlertDelivery).where(AlertDelivery.id == delivery_id,
                                                            AlertDelivery.attempts == attempts, due)
                                .values(state="sending", attempts=attempts + 1, lease_until=now + LEASE))
        return (delivery_id, attempts + 1) if getattr(taken, "rowcount", 0) else None


def _send(db: Database, settings: Settings, delivery_id: int, now: datetime) -> None:
    with db.session() as session:
        delivery = session.get(AlertDelivery, delivery_id)
        alert = session.get(Alert, delivery.alert_id) if delivery else None
        terminal = session.get(Terminal, alert.terminal_id) if alert else None
        dealer = session.get(Dealer, alert.dealer_id) if alert else None
        channel = session.get(AlertChannel, alert.dealer_id) if alert else None
    if delivery is None or alert is None or terminal is None or dealer is None:
        raise DeliveryFailed("the alert is gone", final=True)
    msg = message(alert, delivery.event, terminal, dealer)
    if delivery.channel == "webhook":
        if channel is None or not channel.webhook_url:
            raise DeliveryFailed("the dealer has no webhook any more", final=True)
        send_webhook(channel.webhook_url, channel.webhook_secret, msg, now)
    else:
        recipients = [a.strip() for a in (channel.emails if channel else "").split(",") if a.strip()]
        if not recipients:
            raise DeliveryFailed("the dealer has no e-mail addresses any more", final=True)
        send_email(settings, recipients, msg)


def _record(db: Database, delivery_id: int, attempt: int, error: str | None, now: datetime,
            final: bool = False) -> None:
    if error is None:
        values: dict[str, Any] = {"state": "sent", "sent_at": now, "lease_until": None, "last_error": ""}
    elif final or attempt >= MAX_ATTEMPTS:
        values = {"state": "failed", "lease_until": None, "last_error": error[:300]}
    else:
        values = {"state": "pending", "lease_until": None, "last_error": error[:300],
                  "next_attempt_at": now + backoff(attempt)}
    with db.session() as session:
        # Only the holder of this attempt records it (a server whose lease ran out may not overwrite a newer one).
        session.execute(update(AlertDelivery).where(AlertDelivery.id == delivery_id, AlertDelivery.attempts == attempt,
                                                    AlertDelivery.state == "sending").values(**values))


def deliver_due(db: Database, settings: Settings, limit: int = 20,
                clock: Callable[[], datetime] = utcnow) -> int:
    """Send up to `limit` due deliveries, one claim each; how many were attempted. Runs in every server process."""
    attempted = 0
    while attempted < limit:
        now = clock()
        claimed = _claim(db, now)
        if claimed is None:
            break
        delivery_id, attempt = claimed
        attempted += 1
        error: str | None = None
        final = False
        try:
            _send(db, settings, delivery_id, now)
        except DeliveryFailed as exc:
            error, final = str(exc), exc.final
        except Exception as exc:  # noqa: BLE001 - any fault is this attempt's failure, recorded and retried
            error = f"{type(exc).__name__}: {exc}"
        if error is not None:
            log.warning("alert delivery %s attempt %s failed: %s", delivery_id, attempt, error)
        _record(db, delivery_id, attempt, error, clock(), final)
    return attempted
