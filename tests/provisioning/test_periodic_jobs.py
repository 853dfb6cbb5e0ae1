"""The periodic jobs themselves: codes expire, silent terminals go offline once, old nonces are forgotten."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from provisioning import tenants
from provisioning.db.models import AuditEntry, EnrollmentCode, SeenNonce, Terminal
from provisioning.identity import enrollment
from provisioning.periodic import claim_and_run, expire_codes, mark_offline, purge_nonces

NOW = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.UTC)


def test_jobs_expire_codes_mark_offline_once_and_forget_old_nonces(database, dealer_state):
    with database.session() as session:
        dealer = tenants.create_dealer(session, "jobs", "Jobs")
        terminal = tenants.add_terminal(session, dealer, "3001", "", "Europe/Moscow", "", "test")
        enrollment.new_enrollment_code(session, terminal, "test", NOW - dt.timedelta(hours=25), 24)
        terminal.online, terminal.last_seen_at = True, NOW - dt.timedelta(seconds=dealer_state.offline_after + 1)
        session.add(SeenNonce(key_id="k", nonce="old", seen_at=NOW - dt.timedelta(hours=1)))
        session.add(SeenNonce(key_id="k", nonce="fresh", seen_at=NOW - dt.timedelta(seconds=10)))
    for when in (NOW, NOW + dt.timedelta(minutes=5)):  # the second run finds nothing new to do
        with database.session() as session:
            for job in (expire_codes, mark_offline, purge_nonces):
                job(session, when, dealer_state)
    with database.session() as session:
        assert session.scalar(select(EnrollmentCode.state).where(EnrollmentCode.terminal_id == terminal.id)) \
            == "expired"
        assert not session.scalar(select(Terminal.online).where(Terminal.id == terminal.id))
        offline = session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "terminal.offline", AuditEntry.target == "terminal 3001"))
        assert offline == 1
        assert session.scalars(select(SeenNonce.nonce)).all() == ["fresh"]


def test_a_job_runs_again_only_when_its_period_has_passed(database, dealer_state):
    runs: list[dt.datetime] = []

    def job(session, when, settings):
        runs.append(when)

    assert claim_and_run(database, "every-minute", job, 60, dealer_state, "w", now=NOW)
    assert not claim_and_run(database, "every-minute", job, 60, dealer_state, "w", now=NOW + dt.timedelta(seconds=59))
    assert claim_and_run(database, "every-minute", job, 60, dealer_state, "w", now=NOW + dt.timedelta(seconds=60))
    assert runs == [NOW, NOW + dt.timedelta(seconds=60)]


def test_an_idle_tick_reads_the_job_table_once_instead_of_claiming_every_job(dealer_state):
    import time

    from sqlalchemy import event

    from provisioning.db import Database
    from provisioning.periodic import JOBS, PeriodicWorker

    db = Database(dealer_state.db_url)
    statements: list[str] = []
    for engine in {db.engine, db.write_engine}:
        event.listen(engine, "before_cursor_execute",
                     lambda _c, _cur, sql, *_: statements.append(sql) if "periodic_jobs" in sql else None)
    worker = PeriodicWorker(db, dealer_state, "idle", tick=0.05).start()
    try:
        deadline = time.monotonic() + 30
        while len(statements) < 2 * len(JOBS) and time.monotonic() < deadline:  # the first tick: rows, claims, runs
            time.sleep(0.05)
        time.sleep(0.5)
        before = len(statements)
        time.sleep(0.6)  # about a dozen ticks, every job run a moment ago and none due again
        idle = statements[before:]
    finally:
        worker.close()
        db.close()
    assert idle and all("FOR UPDATE" not in s and "INSERT" not in s and "UPDATE periodic_jobs" not in s for s in idle)
    assert len(idle) <= 13  # one read a tick (18 statements a tick when every job's claim was tried)
