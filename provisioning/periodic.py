"""Periodic work shared by every server process: each job is a row claimed with a row lock (SKIP LOCKED on
PostgreSQL; SQLite has a single writer), so it runs once per period across all servers, never per process."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from provisioning import audit
from provisioning.commands.service import expire as expire_command_rows
from provisioning.db import Database
from provisioning.db.models import EnrollmentCode, PeriodicJob, Terminal, utcnow
from provisioning.identity.requests import forget_old_nonces
from provisioning.monitor import alerts, delivery, history
from provisioning.registries import delivery as registry_delivery
from provisioning.registries.amend import amend_recent as amend_registries
from provisioning.registries.schedule import build_scheduled as build_registries
from provisioning.settings import Settings

log = logging.getLogger(__name__)
Job = Callable[[Session, datetime, Settings], object]  # what a job returns is for tests and logs


def expire_codes(session: Session, now: datetime, settings: Settings) -> None:
    """Open enrollment codes past their expiry become `expired` (the portal lists them so)."""
    session.execute(update(EnrollmentCode).where(EnrollmentCode.state == "open", EnrollmentCode.expires_at <= now)
                    .values(state="expired"))


def mark_offline(session: Session, now: datetime, settings: Settings) -> None:
    """Terminals silent for longer than `offline_after` go offline, audited once per change (not every period)."""
    cutoff = now - timedelta(seconds=settings.offline_after)
    silent = session.scalars(select(Terminal).where(Terminal.online.is_(True), Terminal.last_seen_at < cutoff)).all()
    for terminal in silent:
        terminal.online = False
        audit.record(session, actor="service", action="terminal.offline", dealer_id=terminal.dealer_id,
                     target=f"terminal {terminal.number}", before={"online": True}, after={"online": False},
                     reason=f"no heartbeat since {terminal.last_seen_at.isoformat() if terminal.last_seen_at else '-'}")


def purge_nonces(session: Session, now: datetime, settings: Settings) -> None:
    """Nonces older than the freshness window are no longer needed to refuse replays."""
    forget_old_nonces(session, now, settings.signature_max_age)


def refresh_update_metadata(session: Session, now: datetime, settings: Settings) -> None:
    """TUF snapshot and timestamp re-signed before they expire (a terminal refuses expired ones: freeze attack)."""
    from provisioning.updates.repository import Repository

    Repository(settings.state_dir / "updates").refresh()
def expire_commands(session: Session, now: datetime, settings: Settings) -> None:
    """Remote commands nobody collected (or answered) before their expiry become `expired`."""
    expire_command_rows(session, now)


JOBS: dict[str, tuple[Job, int]] = {  # name → (work, period in seconds)
    "expire_codes": (expire_codes, 60),
    "mark_offline": (mark_offline, 20),
    "purge_nonces": (purge_nonces, 300),
    "refresh_update_metadata": (refresh_update_metadata, 600),
    "expire_commands": (expire_commands, 30),
    "evaluate_alerts": (alerts.evaluate, 15),
    "rollup_heartbeats": (history.rollup, 600),
    "prune_heartbeats": (history.prune, 3600),
    "build_registries": (build_registries, 60),
    "amend_registries": (amend_registries, 900),
}
# Work that talks to the outside world: offered every tick in every server process, outside any transaction (a slow
# receiver must hold no database lock); it claims its own rows, so each item is done once across the servers.
TASKS: dict[str, Callable[[Database, Settings], object]] = {
    "deliver_alerts": delivery.deliver_due,
    "deliver_registries": registry_delivery.deliver_due,
}


def _ensure_row(db: Database, name: str, now: datetime) -> None:
    with db.session() as session:
        if session.get(PeriodicJob, name) is not None:
            return
    try:
        with db.session() as session:
            session.add(PeriodicJob(name=name, next_run_at=now))
    except IntegrityError:
        pass  # another server created it at the same moment


def claim_and_run(db: Database, name: str, job: Job, period: float, settings: Settings, worker: str,
                  now: datetime | None = None) -> bool:
    """Run a job if it is due and no other server holds it; True if this call ran it.

    The claim and the job's work commit together, so a server that dies mid-job leaves the job due again."""
    now = now or utcnow()
    _ensure_row(db, name, now)
    claim = {"next_run_at": now + timedelta(seconds=period), "last_run_at": now, "last_run_by": worker}
    with db.session() as session:
        if db.is_postgresql:
            # Row lock; a server that finds it held moves on at once instead of waiting for the holder.
            row = session.scalar(select(PeriodicJob).where(PeriodicJob.name == name, PeriodicJob.next_run_at <= now)
                                 .with_for_update(skip_locked=True))
            if row is None:
                return False
            for key, value in claim.items():
                setattr(row, key, value)
            row.runs += 1
        else:
            # SQLite has one writer: the conditional update takes the write lock, later servers find it not due.
            result = session.execute(update(PeriodicJob).where(PeriodicJob.name == name,
                                                               PeriodicJob.next_run_at <= now)
                                     .values(runs=PeriodicJob.runs + 1, **claim))
            claimed = getattr(result, "rowcount", 0)
            if not claimed:
                return False
        job(session, now, settings)
    return True


class PeriodicWorker:
    """A thread that offers every job to the database every `tick` seconds."""

    def __init__(self, db: Database, settings: Settings, worker: str, tick: float = 1.0,
                 periods: dict[str, float] | None = None) -> None:
        self.db, self.settings, self.worker, self.tick = db, settings, worker, tick
        self.periods = {name: float(p) for name, (_, p) in JOBS.items()} | (periods or {})
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"dealer-periodic-{worker}", daemon=True)

    def start(self) -> PeriodicWorker:
        """Start offering jobs."""
        self._thread.start()
        return self

    def _waiting(self) -> dict[str, bool]:
        """Each job row there is and whether it is due now (one read; a job without a row must be offered)."""
        now = utcnow()
        return self.db.read(lambda session: {name: bool(due) for name, due in session.execute(
            select(PeriodicJob.name, PeriodicJob.next_run_at <= now)).all()})

    def _run(self) -> None:
        while not self._stop.is_set():
            # One read a tick tells which jobs are due, instead of a claim tried (two sessions) for every job: most
            # ticks nothing is due. The claim still decides, so a job seen due here is still run once.
            try:
                waiting = self._waiting()
            except Exception:
                log.exception("periodic jobs could not be read")
                waiting = {}
            for name, (job, _) in JOBS.items():
                if waiting.get(name) is False:
                    continue
                try:
                    claim_and_run(self.db, name, job, self.periods[name], self.settings, self.worker)
                except Exception:  # a failed run is retried next tick; the server keeps serving
                    log.exception("periodic job %s failed", name)
            for name, task in TASKS.items():
                try:
                    task(self.db, self.settings)
                except Exception:
                    log.exception("periodic task %s failed", name)
            self._stop.wait(self.tick)

    def close(self) -> None:
        """Stop and wait for the thread."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)


def run_periodic_process(settings: Settings, tick: float, periods: dict[str, float]) -> None:
    """The periodic jobs alone, until SIGINT/SIGTERM: the process `serve --workers N` adds beside its servers.

    In a server process the jobs' Python work holds the interpreter's lock against the event loop that answers
    terminals, and it grows with the fleet: alerts over every terminal, hourly rollups, a day's registry per
    provider (rebuilding a week of registries cost a second of CPU per run before its cheap check). Here it
    competes only for a core, never for a server's interpreter.
    """
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    db = Database(settings.db_url)
    worker = PeriodicWorker(db, settings, f"{socket.gethostname()}:{os.getpid()}", tick=tick, periods=periods)
    worker.start()
    try:
        while not stop.wait(1.0):  # a timed wait: the signal handler runs between the waits
            pass
    finally:
        worker.close()
        db.close()
