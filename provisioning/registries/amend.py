"""Amended registries: a payment of a day whose registry is already built (delivered late, uploaded late by a terminal
that was offline, or refunded since) changes what that day's registry should hold. The periodic job compares each
recently built day with what the service holds now and, where they differ, builds a new version of that day's file
marked as an amendment, kept beside the first and delivered the way the first was. A file already built or sent is
never changed: the provider receives a new file that names itself an amendment."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioning.registries.build import (
    RegistryError,
    build,
    digest,
    fingerprint,
    payments,
    profile_of,
    zone_of,
)
from provisioning.registries.delivery import queue
from provisioning.registries.models import RegistryDelivery, RegistryFile
from provisioning.settings import Settings

log = logging.getLogger(__name__)
DAYS = 7  # how far back built days are watched (the schedule's catch-up window); older ones: by hand
ACTOR = "amendment"


def _latest(session: Session, dealer_id: int, provider: str, day: date) -> RegistryFile | None:
    return session.scalar(select(RegistryFile).where(
        RegistryFile.dealer_id == dealer_id, RegistryFile.provider == provider, RegistryFile.day == day)
        .order_by(RegistryFile.id.desc()).limit(1))


def changed(session: Session, latest: RegistryFile) -> bool:
    """Whether the day's payments now differ from what its latest file holds: the database's count first (most
    days have not changed), then the payments themselves (files from before digests were kept: count and amount)."""
    profile = profile_of(session, latest.dealer_id, latest.provider)
    zone = zone_of(profile.timezone)
    sign = fingerprint(session, latest.dealer_id, latest.provider, latest.day, zone)
    if latest.fingerprint == sign:
        return False
    found = payments(session, latest.dealer_id, latest.provider, latest.day, zone)
    if latest.digest:
        differs = digest(found) != latest.digest
    else:
        differs = (len(found), sum(p.amount for p in found)) != (latest.payments, latest.amount)
    if not differs:  # rows changed, lines did not (a receipt's state): remember, so the next look is the cheap one
        latest.fingerprint = sign
    return differs


def _was_sent(session: Session, dealer_id: int, provider: str, day: date) -> bool:
    """Whether any file of the day was queued for delivery (an amendment then goes the same way)."""
    files = select(RegistryFile.id).where(RegistryFile.dealer_id == dealer_id, RegistryFile.provider == provider,
                                          RegistryFile.day == day)
    return session.scalar(select(RegistryDelivery.id).where(RegistryDelivery.file_id.in_(files)).limit(1)) is not None


def amend(session: Session, dealer_id: int, provider: str, day: date) -> list[RegistryFile]:
    """The day's amended files (one per format the provider gets), queued for delivery if the first was sent;
    none when the day's latest file still holds what the service holds."""
    latest = _latest(session, dealer_id, provider, day)
    if latest is None or not changed(session, latest):
        return []
    profile = profile_of(session, dealer_id, provider)
    sent = _was_sent(session, dealer_id, provider, day)
    made = []
    with session.begin_nested():  # all formats or none: a half-amended day would be noticed again anyway
        for fmt in [f.strip() for f in profile.formats.split(",") if f.strip()] or [latest.format]:
            made.append(build(session, dealer_id, provider, day, fmt, ACTOR, amendment=True))
            if sent:
                queue(session, made[-1])
    log.info("registry of %s for %s (dealer %s) amended: %d payments now, %d before", provider, day, dealer_id,
             made[0].payments, latest.payments)
    return made


def amend_recent(session: Session, now: datetime, settings: Settings) -> list[RegistryFile]:
    """The periodic job: every provider-day built in the last DAYS days that changed since gets its amendment."""
    since = now.date() - timedelta(days=DAYS)
    days = session.execute(select(RegistryFile.dealer_id, RegistryFile.provider, RegistryFile.day)
                           .where(RegistryFile.day >= since).distinct()
                           .order_by(RegistryFile.dealer_id, RegistryFile.provider, RegistryFile.day)).all()
    made: list[RegistryFile] = []
    for dealer_id, provider, day in days:
        try:
            made += amend(session, dealer_id, provider, day)
        except RegistryError as exc:  # one provider's bad settings spoil no other's amendments
            log.warning("registry of %s for %s (dealer %s) not amended: %s", provider, day, dealer_id, exc)
    return made
