"""The periodic job that builds each scheduled provider's registry for yesterday once its local time of day has
come (in the provider's zone), keeps it, and queues its deliveries; a provider's `last_built_day` makes it once."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioning.registries.build import RegistryError, build, zone_of
from provisioning.registries.delivery import queue
from provisioning.registries.models import RegistryFile, RegistryProfile
from provisioning.settings import Settings

log = logging.getLogger(__name__)


CATCH_UP = 7  # days a stopped service builds afterwards (older ones: by hand, `kiosk-dealer registry build`)


def due_days(profile: RegistryProfile, now: datetime) -> list[date]:
    """The provider's local dates whose registry is due: yesterday once its build time has come, and the days a
    stopped service missed since the last one built (at most CATCH_UP), oldest first."""
    local = now.astimezone(zone_of(profile.timezone))
    try:
        at = time.fromisoformat(profile.build_at)
    except ValueError:
        at = time(3, 0)
    last = local.date() - timedelta(days=1 if local.time() >= at else 2)
    if profile.last_built_day is None:  # newly scheduled: from yesterday on, once its time has come
        return [last] if local.time() >= at else []
    first = max(profile.last_built_day + timedelta(days=1), last - timedelta(days=CATCH_UP - 1))
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def build_scheduled(session: Session, now: datetime, settings: Settings) -> list[RegistryFile]:
    """Build and queue every registry that is due (runs inside the periodic job's claimed transaction)."""
    built: list[RegistryFile] = []
    for profile in session.scalars(select(RegistryProfile).where(RegistryProfile.scheduled.is_(True))
                                   .order_by(RegistryProfile.id)):
        try:
            for day in due_days(profile, now):
                files = []
                with session.begin_nested():  # one provider's fault (a bad zone, an encoding) spoils no other's
                    for fmt in [f.strip() for f in profile.formats.split(",") if f.strip()]:
                        files.append(build(session, profile.dealer_id, profile.provider, day, fmt, "schedule"))
                        queue(session, files[-1])
                    profile.last_built_day = day
                built += files
        except RegistryError as exc:
            log.warning("registry of %s (dealer %s) not built: %s", profile.provider, profile.dealer_id, exc)
    return built
