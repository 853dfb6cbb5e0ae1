"""Sending a built registry: by e-mail (the file attached) through the configured SMTP server, or into a drop
folder (written atomically: a loader polling the folder never sees half a file, and the temporary name starts with
a dot). Each sending is a row claimed on its own and sent outside any transaction, like alert deliveries; the row
ends `sent` or `failed` with the reason. A failed one is sent again only when a person asks (the portal's button)."""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from kiosk.offline_queue.files import write_atomically
from provisioning.db import Database
from provisioning.db.models import utcnow
from provisioning.monitor.delivery import TIMEOUT, DeliveryFailed, smtp_send
from provisioning.registries.build import profile_of
from provisioning.registries.models import RegistryDelivery, RegistryFile, RegistryProfile
from provisioning.settings import Settings

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=6 * TIMEOUT)
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
    message["Subject"] = f"Registry {title} {file.day.isoformat()}: {file.payments} payments"
    message["Message-ID"] = f"<registry-{file.sha256[:24]}-{file.id}@kiosk-dealer>"
    message.set_content(f"The payment registry of {title} for {file.day.isoformat()}: {file.payments} payments, "
                        f"{file.amount / 100:.2f} credited, {file.fee / 100:.2f} fees.\n"
                        f"File {file.file_name}, SHA-256 {file.sha256}.\n")
    maintype, subtype = MEDIA[file.format]
    params = {"charset": encoding} if file.format == "csv" else {}
    message.add_attachment(content, maintype=maintype, subtype=subtype, filename=file.file_name, params=params)
    smtp_send(settings, message)


def _claim(db: Database, now: datetime) -> int | None:
    due = or_(RegistryDelivery.state == "pending",
              (RegistryDelivery.state == "sending") & (RegistryDelivery.lease_until < now))
    with db.session() as session:
        query = select(RegistryDelivery.id).where(due).order_by(RegistryDelivery.id).limit(1)
        if db.is_postgresql:
            query = query.with_for_update(skip_locked=True)
        delivery_id = session.scalar(query)
        if delivery_id is None:
            return None
        taken = session.execute(update(RegistryDelivery).where(RegistryDelivery.id == delivery_id, due)
                                .values(state="sending", lease_until=now + LEASE))
        return delivery_id if getattr(taken, "rowcount", 0) else None


def _send(db: Database, settings: Settings, delivery_id: int) -> None:
    with db.session() as session:
        delivery = session.get(RegistryDelivery, delivery_id)
        file = session.get(RegistryFile, delivery.file_id) if delivery else None
        if delivery is None or file is None:
            raise DeliveryFailed("the registry file is gone")
        content = file.content
        profile = profile_of(session, file.dealer_id, file.provider)
        title, encoding = profile.name or file.provider, profile.encoding
    if delivery.channel == "folder":
        drop(delivery.target, file.file_name, content, settings.registry_drop_root)
    else:
        mail(settings, delivery.target, file, content, title, encoding)


def deliver_due(db: Database, settings: Settings, limit: int = 20) -> int:
    """Send up to `limit` pending registry deliveries; how many were attempted. Runs in every server process."""
    attempted = 0
    while attempted < limit and (delivery_id := _claim(db, utcnow())) is not None:
        attempted += 1
        error = ""
        try:
            _send(db, settings, delivery_id)
        except DeliveryFailed as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - any fault is this sending's failure, recorded with its reason
            error = f"{type(exc).__name__}: {exc}"
        if error:
            log.warning("registry delivery %s failed: %s", delivery_id, error)
        with db.session() as session:
            session.execute(update(RegistryDelivery).where(RegistryDelivery.id == delivery_id,
                                                           RegistryDelivery.state == "sending")
                            .values(state="failed" if error else "sent", error=error[:500], lease_until=None,
                                    finished_at=utcnow()))
    return attempted
