"""Sending a built registry: by e-mail (the file attached) through the configured SMTP server, or into a drop
folder (written atomically: a loader polling the folder never sees half a file, and the temporary name starts with
a dot). Each sending is a row claimed on its own and sent outside any transaction, like alert deliveries. A failed
attempt is tried again after a back-off (30 s, doubling, at most an hour) up to ATTEMPTS times; then the row ends
`failed` with the reason and the dealer's alert channels are told. "Send again" in the portal queues new rows."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from kiosk.offline_queue.files import write_atomically
from provisioning.db import Database
from provisioning.db.models import Dealer, utcnow
from provisioning.monitor.alerts import one_line
from provisioning.monitor.delivery import (
    TIMEOUT,
    DeliveryFailed,
    Message,
    backoff,
    send_email,
    send_webhook,
    smtp_send,
)
from provisioning.monitor.models import AlertChannel
from provisioning.registries.build import profile_of
from provisioning.registries.models import RegistryDelivery, RegistryFile, RegistryProfile
from provisioning.settings import Settings

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=6 * TIMEOUT)
ATTEMPTS = 6  # tries of one sending before it is shown as failed and alerted (about 16 minutes of back-off)
MEDIA = {"csv": ("text", "csv"), "xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")}


def recipients(profile: RegistryProfile) -> list[str]:
    """The profile's e-mail addresses (comma or space separated)."""
    return [a for a in profile.emails.replace(",", " ").split() if a]


def queue(session: Session, file: RegistryFile) -> list[RegistryDelivery]:
    """A delivery row for each channel the provider's settings name (none when it has neither)."""
    profile = profile_of(session, file.dealer_id, file.provider)
    rows = []
    if recipients(profile):
        rows.append(RegistryDelivery(file_id=file.id, channel="email", target=", ".join(recipients(profile))))
    if profile.drop_dir.strip():
        rows.append(RegistryDelivery(file_id=file.id, channel="folder", target=profile.drop_dir.strip()))
    for row in rows:
        row.state, row.error, row.created_at = "pending", "", utcnow()
        session.add(row)
    session.flush()
    return rows


def inside_root(folder: str, root: str) -> Path:
    """The drop folder, resolved, when it lies inside the service's `registry_drop_root`; else DeliveryFailed."""
    if not root:
        raise DeliveryFailed("drop folders are off: set registry_drop_root in service.json")
    target = Path(folder)
    if not target.is_absolute():
        raise DeliveryFailed(f"drop folder {folder!r} is not an absolute path")
    resolved, base = target.resolve(), Path(root).resolve()
    if resolved != base and base not in resolved.parents:
        raise DeliveryFailed(f"drop folder {folder} is not inside {root} (registry_drop_root)")
    return resolved


def drop(folder: str, name: str, content: bytes, root: str) -> Path:
    """Write the file into the drop folder atomically (readable by the folder's group: the loader's account)."""
    target = inside_root(folder, root)
    if not target.is_dir():
        raise DeliveryFailed(f"drop folder {folder} does not exist")
    path = target / name
    try:
        write_atomically(path, content)
        os.chmod(path, 0o640)
    except OSError as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
    return path


def mail(settings: Settings, to: str, file: RegistryFile, content: bytes, title: str, encoding: str) -> None:
    """E-mail the registry as an attachment (a CSV's charset named, so a mail reader shows it right)."""
    if not settings.smtp_host:
        raise DeliveryFailed("no SMTP server configured (smtp_host in service.json)")
    message = EmailMessage()
    message["From"] = settings.smtp_from or f"kiosk-dealer@{settings.smtp_host}"
    message["To"] = to
    kind = "Amended registry" if file.amendment else "Registry"
    message["Subject"] = f"{kind} {title} {file.day.isoformat()}: {file.payments} payments"
    message["Message-ID"] = f"<registry-{file.sha256[:24]}-{file.id}@kiosk-dealer>"
    # an amendment says so in words: payments of the day reached the service after the first file was sent
    amends = (f"AMENDMENT (version {file.version}): it replaces the registry sent earlier for this day, which "
              "lacked payments that reached the service after it was built (or listed one refunded since).\n"
              if file.amendment else "")
    message.set_content(f"{amends}The payment registry of {title} for {file.day.isoformat()}: {file.payments} "
                        f"payments, {file.amount / 100:.2f} credited, {file.fee / 100:.2f} fees.\n"
                        f"File {file.file_name}, SHA-256 {file.sha256}.\n")
    maintype, subtype = MEDIA[file.format]
    params = {"charset": encoding} if file.format == "csv" else {}
    message.add_attachment(content, maintype=maintype, subtype=subtype, filename=file.file_name, params=params)
    smtp_send(settings, message)


def _claim(db: Database, now: datetime) -> int | None:
    due = or_((RegistryDelivery.state == "pending") & (RegistryDelivery.next_attempt_at.is_(None)
                                                       | (RegistryDelivery.next_attempt_at <= now)),
              (RegistryDelivery.state == "sending") & (RegistryDelivery.lease_until < now))
    with db.session() as session:
        query = select(RegistryDelivery.id).where(due).order_by(RegistryDelivery.id).limit(1)
        if db.is_postgresql:
            query = query.with_for_update(skip_locked=True)
        delivery_id = session.scalar(query)
        if delivery_id is None:
            return None
        taken = session.execute(update(RegistryDelivery).where(RegistryDelivery.id == delivery_id, due)
                                .values(state="sending", lease_until=now + LEASE,
                                        attempts=RegistryDelivery.attempts + 1))
        return delivery_id if getattr(taken, "rowcount", 0) else None


def _send(db: Database, settings: Settings, delivery_id: int) -> None:
    with db.session() as session:
        delivery = session.get(RegistryDelivery, delivery_id)
        file = session.get(RegistryFile, delivery.file_id) if delivery else None
        if delivery is None or file is None:
            raise DeliveryFailed("the registry file is gone", final=True)
        content = file.content
        profile = profile_of(session, file.dealer_id, file.provider)
        title, encoding = profile.name or file.provider, profile.encoding
    if delivery.channel == "folder":
        drop(delivery.target, file.file_name, content, settings.registry_drop_root)
    else:
        mail(settings, delivery.target, file, content, title, encoding)


def _record(db: Database, delivery_id: int, error: str, final: bool, now: datetime) -> bool:
    """The attempt's outcome: sent, pending again after a back-off, or failed for good (True: alert about it)."""
    with db.session() as session:
        delivery = session.get(RegistryDelivery, delivery_id)
        if delivery is None or delivery.state != "sending":
            return False
        delivery.lease_until, delivery.error = None, error[:500]
        if not error:
            delivery.state, delivery.finished_at = "sent", now
            return False
        if final or delivery.attempts >= ATTEMPTS:
            delivery.state, delivery.finished_at = "failed", now
            return True
        delivery.state, delivery.next_attempt_at = "pending", now + backoff(delivery.attempts)
        return False


def alert_message(db: Database, delivery_id: int) -> tuple[Message, AlertChannel | None]:
    """What the dealer's alert channels are told about a registry delivery given up on, and those channels."""
    with db.session() as session:
        delivery = session.get(RegistryDelivery, delivery_id)
        file = session.get(RegistryFile, delivery.file_id) if delivery else None
        if delivery is None or file is None:
            raise DeliveryFailed("the registry file is gone")
        dealer = session.get(Dealer, file.dealer_id)
        channel = session.get(AlertChannel, file.dealer_id)
        session.expunge_all()
    document = {"id": f"registry-delivery-{delivery.id}", "event": "registry_delivery_failed",
                "dealer": dealer.slug if dealer else "", "registry": {
                    "file": file.file_name, "provider": file.provider, "day": file.day.isoformat(),
                    "channel": delivery.channel, "target": delivery.target, "attempts": delivery.attempts,
                    "error": delivery.error}}
    subject = one_line(f"[kiosk {document['dealer']}] ALERT: registry {file.file_name} not delivered by "
                       f"{delivery.channel} after {delivery.attempts} attempts — {delivery.error}")[:200]
    text = (f"Registry {file.file_name} ({file.provider}, {file.day.isoformat()}) could not be delivered by "
            f"{delivery.channel} to {delivery.target} after {delivery.attempts} attempts.\nLast error: "
            f"{delivery.error}\nThe portal's registries page has a \"Send again\" button.\n")
    return Message(str(document["id"]), document, subject, text), channel


def _alert(db: Database, settings: Settings, delivery_id: int, now: datetime) -> None:
    """Tell the dealer's alert channels (webhook, e-mail) once; a channel that fails too is logged."""
    try:
        msg, channel = alert_message(db, delivery_id)
    except DeliveryFailed:
        return
    log.error("%s", msg.subject)
    if channel is None:
        return
    targets: list[tuple[str, Callable[[], None]]] = []
    if channel.webhook_url:
        targets.append(("webhook", lambda: send_webhook(channel.webhook_url, channel.webhook_secret, msg, now)))
    emails = [a.strip() for a in channel.emails.split(",") if a.strip()]
    if emails:
        targets.append(("e-mail", lambda: send_email(settings, emails, msg)))
    for name, send in targets:
        try:
            send()
        except DeliveryFailed as exc:
            log.error("registry delivery %s: the alert by %s failed too: %s", delivery_id, name, exc)


def deliver_due(db: Database, settings: Settings, limit: int = 20, clock: Callable[[], datetime] = utcnow) -> int:
    """Send up to `limit` due registry deliveries; how many were attempted. Runs in every server process."""
    attempted = 0
    while attempted < limit and (delivery_id := _claim(db, clock())) is not None:
        attempted += 1
        error, final = "", False
        try:
            _send(db, settings, delivery_id)
        except DeliveryFailed as exc:
            error, final = str(exc) or type(exc).__name__, exc.final
        except Exception as exc:  # noqa: BLE001 - any fault is this sending's failure, recorded with its reason
            error = f"{type(exc).__name__}: {exc}"
        if error:
            log.warning("registry delivery %s failed: %s", delivery_id, error)
        now = clock()
        if _record(db, delivery_id, error, final, now):
            _alert(db, settings, delivery_id, now)
    return attempted
