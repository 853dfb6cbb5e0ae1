"""Releases and channels on the service side: signing a bundle into the repository, pointing a channel at it,
the pilot group of each dealer, and what each terminal reported about its update."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioning import audit
from provisioning.db.models import Terminal, TerminalGroup, utcnow
from provisioning.updates.bundle import channel_target, release_target
from provisioning.updates.models import Release, TerminalUpdate, UpdateChannel, UpdateStep
from provisioning.updates.repository import Repository, RepositoryError

CHANNELS = ("stable", "pilot")


def add_release(session: Session, repo: Repository, bundle: bytes, version: str, channel: str, actor: str) -> Release:
    """Sign a bundle into the repository as `releases/kiosk-V.tar` and point the channel at it (pilot terminals
    follow pilot and stable; the others stable only)."""
    if channel not in CHANNELS:
        raise RepositoryError(f"channel {channel!r}: expected one of {CHANNELS}")
    if session.scalar(select(Release).where(Release.version == version)) is not None:
        raise RepositoryError(f"release {version} exists already: a version is signed once")
    target = release_target(version)
    repo.add_target(target, bundle, {"kind": "release", "version": version, "channel": channel})
    point_channel(repo, channel, version)
    release = Release(version=version, channel=channel, target=target, size=len(bundle),
                      sha256=hashlib.sha256(bundle).hexdigest(), created_by=actor)
    session.add(release)
    audit.record(session, actor=actor, action="release.add", target=f"release {version}",
                 after={"channel": channel, "size": len(bundle), "sha256": release.sha256})
    return release


def point_channel(repo: Repository, channel: str, version: str) -> None:
    """Sign a channel's pointer: the release its terminals should run."""
    pointer = json.dumps({"channel": channel, "version": version, "target": release_target(version)},
                         sort_keys=True).encode()
    repo.add_target(channel_target(channel), pointer, {"kind": "channel"})


def promote(session: Session, repo: Repository, version: str, actor: str) -> Release:
    """A pilot release becomes stable: every terminal takes it."""
    release = session.scalar(select(Release).where(Release.version == version))
    if release is None:
        raise RepositoryError(f"no release {version}")
    point_channel(repo, "stable", version)
    audit.record(session, actor=actor, action="release.promote", target=f"release {version}",
                 before={"channel": release.channel}, after={"channel": "stable"})
    release.channel = "stable"
    return release


def set_pilot_group(session: Session, dealer_id: int, group: str, actor: str) -> None:
    """Make a terminal group the dealer's pilot group ("" for none)."""
    group_id = None
    if group:
        row = session.scalar(select(TerminalGroup).where(TerminalGroup.dealer_id == dealer_id,
                                                         TerminalGroup.name == group))
        if row is None:
            raise RepositoryError(f"no terminal group {group!r} at this dealer")
        group_id = row.id
    channel = session.get(UpdateChannel, dealer_id)
    before = channel.pilot_group_id if channel else None
    if channel is None:
        session.add(UpdateChannel(dealer_id=dealer_id, pilot_group_id=group_id))
    else:
        channel.pilot_group_id = group_id
    audit.record(session, actor=actor, action="updates.pilot_group", dealer_id=dealer_id, target="pilot group",
                 before={"group_id": before}, after={"group": group})


def channels_for(session: Session, terminal_id: int) -> list[str]:
    """The channels a terminal follows: pilot too when it is in its dealer's pilot group."""
    terminal = session.get(Terminal, terminal_id)
    if terminal is None:
        return ["stable"]
    channel = session.get(UpdateChannel, terminal.dealer_id)
    if channel is not None and channel.pilot_group_id is not None and terminal.group_id == channel.pilot_group_id:
        return ["stable", "pilot"]
    return ["stable"]


def record_step(session: Session, terminal_id: int, running: str, step: str, version: str, detail: str,
                bad: list[str], now: datetime | None = None) -> None:
    """Keep the step and the terminal's current update state."""
    now = now or utcnow()
    terminal = session.get(Terminal, terminal_id)
    assert terminal is not None  # the request was verified as this terminal's
    state = session.get(TerminalUpdate, terminal_id)
    if state is None:
        state = TerminalUpdate(terminal_id=terminal_id, dealer_id=terminal.dealer_id)
        session.add(state)
    # A check that finds nothing new, every 15 minutes, is kept once, not once per check.
    repeated = step == "checked" and state.step == "checked" and state.running == running
    state.running, state.target, state.step, state.detail = running, version, step, detail[:500]
    state.bad, state.updated_at = ",".join(bad)[:2000], now
    if running:
        terminal.version = running
    if not repeated:
        session.add(UpdateStep(terminal_id=terminal_id, at=now, version=version, step=step, detail=detail[:500]))


def fleet(session: Session, dealer_id: int) -> list[dict[str, Any]]:
    """Each of a dealer's terminals with the version it runs and where its update stands."""
    rows = session.execute(select(Terminal, TerminalUpdate)
                           .outerjoin(TerminalUpdate, TerminalUpdate.terminal_id == Terminal.id)
                           .where(Terminal.dealer_id == dealer_id).order_by(Terminal.number)).all()
    channels = {t.id: channels_for(session, t.id) for t, _ in rows}
    return [{"id": t.id, "number": t.number, "running": (u.running if u else "") or t.version,
             "target": u.target if u else "", "step": u.step if u else "", "detail": u.detail if u else "",
             "bad": u.bad if u else "", "updated_at": u.updated_at if u else None,
             "pilot": "pilot" in channels[t.id]} for t, u in rows]


def releases(session: Session) -> list[Release]:
    """Every release, newest first."""
    return list(session.scalars(select(Release).order_by(Release.created_at.desc(), Release.id.desc())))


def steps(session: Session, terminal_id: int, limit: int = 50) -> list[UpdateStep]:
    """A terminal's latest reported steps, newest first."""
    return list(session.scalars(select(UpdateStep).where(UpdateStep.terminal_id == terminal_id)
                                .order_by(UpdateStep.id.desc()).limit(limit)))
