"""Scheduled registries on SQLite and PostgreSQL: built by the periodic job once the provider's local time of day
has come (in its zone), for its yesterday, once; sent by e-mail through a real SMTP server (aiosmtpd) with the file
attached and written atomically into a drop folder; every sending recorded, a failure with its reason."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from monitor_support import SmtpServer, WebhookReceiver
from registry_rig import DAY, add_profile, upload_history
from sqlalchemy import select
from starlette.testclient import TestClient

from provisioning import tenants
from provisioning.app import create_app
from provisioning.db.models import Dealer
from provisioning.monitor.models import AlertChannel
from provisioning.periodic import JOBS, claim_and_run
from provisioning.registries.build import build
from provisioning.registries.delivery import ATTEMPTS, deliver_due, queue
from provisioning.registries.models import RegistryDelivery, RegistryFile, RegistryProfile
from provisioning.registries.schedule import build_scheduled


@pytest.fixture
def smtp():  # each test its own: the mails a test counts are its own
    server = SmtpServer()
    yield server
    server.close()


@pytest.fixture
def world(database, tmp_path_factory) -> Iterator[dict]:
    """A dealer of this test's own with the payment history and a scheduled, delivered registry profile: tests run
    in any order and never see another's files or deliveries."""
    drop = tmp_path_factory.mktemp("drop")
    with database.session() as session:
        found = upload_history(session, tmp_path_factory.mktemp("delivery"), f"sender-{next(_DEALERS)}")
        add_profile(session, found["dealer"], build_at="04:30", scheduled=True, formats="csv,xlsx",
                    encoding="windows-1251", emails="registry@vodokanal.test, copy@vodokanal.test", drop_dir=str(drop))
    yield found | {"drop": drop}
    with database.session() as session:  # the next test's schedule builds its own dealer's registries only
        for profile in session.scalars(select(RegistryProfile).where(RegistryProfile.dealer_id == found["dealer"])):
            profile.scheduled = False


_DEALERS = itertools.count(1)


def _built_the_tenth(database, settings) -> None:
    """The schedule built 10.03's registries at 04:31 Moscow on the 11th and they were delivered (the periodic
    job's own claim is the schedule test's: one claim a minute)."""
    with database.session() as session:
        assert len(build_scheduled(session, datetime(2026, 3, 11, 1, 31, tzinfo=UTC), settings)) == 2
    assert deliver_due(database, settings) == 4


def _settings(dealer_state, smtp, drop):
    return dataclasses.replace(dealer_state, smtp_host="127.0.0.1", smtp_port=smtp.port,
                               smtp_from="registries@dealer.test", registry_drop_root=str(drop.parent))


def test_the_schedule_builds_yesterday_once_its_local_time_has_come_and_delivers_it(database, dealer_state, smtp,
                                                                                     world):
    settings = _settings(dealer_state, smtp, world["drop"])
    with database.session() as session:  # 04:29 in Moscow on 11.03: not yet
        assert build_scheduled(session, datetime(2026, 3, 11, 1, 29, tzinfo=UTC), settings) == []
    # 04:31 in Moscow (01:31 UTC, already 07:31 in the terminal's Omsk): through the periodic job's claim
    assert claim_and_run(database, "build_registries", JOBS["build_registries"][0], 60, settings, "test",
                         now=datetime(2026, 3, 11, 1, 31, tzinfo=UTC))
    with database.session() as session:
        files = session.scalars(select(RegistryFile).where(RegistryFile.dealer_id == world["dealer"])
                                .order_by(RegistryFile.format)).all()
        assert [(f.day, f.format, f.payments, f.built_by) for f in files] == [
            (DAY, "csv", 3, "schedule"), (DAY, "xlsx", 3, "schedule")]
        contents = {f.file_name: f.content for f in files}
        # the next run the same day builds nothing again
        assert build_scheduled(session, datetime(2026, 3, 11, 9, 0, tzinfo=UTC), settings) == []
    assert deliver_due(database, settings) == 4
    with database.session() as session:
        states = session.execute(select(RegistryDelivery.channel, RegistryDelivery.state, RegistryDelivery.error)
                                 .join(RegistryFile, RegistryFile.id == RegistryDelivery.file_id)
                                 .where(RegistryFile.dealer_id == world["dealer"])).all()
    assert sorted(states) == [("email", "sent", ""), ("email", "sent", ""), ("folder", "sent", ""),
                              ("folder", "sent", "")]
    mails = [m for m in smtp.messages if "Водоканал" in m["Subject"]]
    assert len(mails) == 2 and all(m["To"] == "registry@vodokanal.test, copy@vodokanal.test" for m in mails)
    parts = {part.get_filename(): part for m in mails for part in m.iter_attachments()}
    assert {name: part.get_payload(decode=True) for name, part in parts.items()} == contents  # byte for byte
    assert parts["vodokanal_20260310.csv"].get_content_charset() == "windows-1251"
    assert "Холодное" in parts["vodokanal_20260310.csv"].get_content()
    dropped = {p.name: p.read_bytes() for p in world["drop"].iterdir()}
    assert dropped == contents  # nothing else: no temporary file is left behind
    assert oct(next(world["drop"].iterdir()).stat().st_mode & 0o777) == "0o640"


def test_a_failed_delivery_is_recorded_with_why(database, dealer_state, smtp, world, tmp_path):
    _built_the_tenth(database, _settings(dealer_state, smtp, world["drop"]))
    with database.session() as session:
        profile = session.scalar(select(RegistryProfile).where(RegistryProfile.dealer_id == world["dealer"]))
        profile.drop_dir = str(tmp_path / "gone")
        file = session.scalars(select(RegistryFile).where(RegistryFile.dealer_id == world["dealer"])).first()
        from provisioning.registries.delivery import queue

        queue(session, file)
    no_smtp = dataclasses.replace(dealer_state, smtp_host="127.0.0.1", smtp_port=_closed_port(),
                                  registry_drop_root=str(tmp_path))
    clock = Clock(datetime.now(UTC))
    assert deliver_due(database, no_smtp, clock=clock) == 2
    assert deliver_due(database, no_smtp, clock=clock) == 0  # not again before the back-off has passed
    with database.session() as session:
        rows = session.scalars(select(RegistryDelivery).where(RegistryDelivery.file_id == file.id)
                               .order_by(RegistryDelivery.id)).all()
        new = rows[-2:]
    assert [(r.state, r.attempts) for r in new] == [("pending", 1), ("pending", 1)]
    assert all(r.next_attempt_at == clock.now + timedelta(seconds=30) for r in new)
    errors = {r.channel: r.error for r in new}
    assert "does not exist" in errors["folder"] and "ConnectionRefusedError" in errors["email"]
    tries = 1
    while deliver_due(database, no_smtp, clock=clock.advance(3600)):  # each back-off over: tried until given up
        tries += 1
    assert tries == ATTEMPTS
    with database.session() as session:
        rows = session.scalars(select(RegistryDelivery).where(RegistryDelivery.id.in_([r.id for r in new]))).all()
        profile = session.scalar(select(RegistryProfile).where(RegistryProfile.dealer_id == world["dealer"]))
        profile.drop_dir = str(world["drop"])
    assert {(r.channel, r.state, r.attempts) for r in rows} == {("email", "failed", ATTEMPTS),
                                                                ("folder", "failed", ATTEMPTS)}
    errors = {r.channel: r.error for r in rows}
    assert "does not exist" in errors["folder"] and "ConnectionRefusedError" in errors["email"]


class Clock:
    """A UTC clock the test moves on."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> Clock:
        self.now += timedelta(seconds=seconds)
        return self


def test_a_refused_email_is_sent_again_after_a_back_off_and_a_lost_one_is_alerted(database, dealer_state, world):
    busy = SmtpServer(refuse=2)  # refuses the first two messages, takes the third
    hook = WebhookReceiver()
    try:
        settings = _settings(dealer_state, busy, world["drop"])
        with database.session() as session:
            profile = session.scalar(select(RegistryProfile).where(RegistryProfile.dealer_id == world["dealer"]))
            profile.drop_dir = ""
            session.add(AlertChannel(dealer_id=world["dealer"], webhook_url=hook.url, webhook_secret="s3cret"))
            file = build(session, world["dealer"], "vodokanal", DAY, "csv", "test")
            (row,) = queue(session, file)
        clock = Clock(datetime.now(UTC))
        assert deliver_due(database, settings, clock=clock) == 1
        assert deliver_due(database, settings, clock=clock.advance(29)) == 0
        assert deliver_due(database, settings, clock=clock.advance(2)) == 1  # 30 s after the first: refused again
        assert deliver_due(database, settings, clock=clock.advance(60)) == 1  # 60 s after the second: taken
        with database.session() as session:
            sent = session.get(RegistryDelivery, row.id)
        assert (sent.state, sent.attempts, sent.error) == ("sent", 3, "")
        assert busy.handler.refused == 2 and [m["Subject"] for m in busy.messages] == [
            f"Registry Водоканал {DAY.isoformat()}: {file.payments} payments"]
        assert hook.received == []  # nothing to alert about
        # a mail server that never takes it: given up after ATTEMPTS, shown with the reason, and alerted once
        gone = dataclasses.replace(settings, smtp_port=_closed_port())
        with database.session() as session:
            (row,) = queue(session, session.get(RegistryFile, file.id))
        while deliver_due(database, gone, clock=clock.advance(3600)):
            pass
        with database.session() as session:
            failed = session.get(RegistryDelivery, row.id)
        assert (failed.state, failed.attempts) == ("failed", ATTEMPTS) and "ConnectionRefusedError" in failed.error
        (document,) = hook.documents()
        assert document["event"] == "registry_delivery_failed" and document["registry"]["file"] == file.file_name
        assert document["registry"]["attempts"] == ATTEMPTS and "ConnectionRefusedError" in document["registry"]["error"]
        # the portal shows it failed, after how many attempts and why, with the banner and "Send again"
        with database.session() as session:
            tenants.add_user(session, session.get(Dealer, world["dealer"]), "desk@sender.test", "pass phrase 12",
                             "support", "test")
        client = TestClient(create_app(dealer_state, database), base_url="https://testserver", follow_redirects=False)
        assert client.post("/login", data={"email": "desk@sender.test", "password": "pass phrase 12"}).status_code == 303
        page = client.get("/registries").text
        assert f"email → registry@vodokanal.test, copy@vodokanal.test: failed after {ATTEMPTS} attempts" in page
        assert 'id="registry-failed"' in page and "failed (after every retry): 1." in page
    finally:
        hook.close()
        busy.close()


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_stopped_service_catches_up_the_days_it_missed(database, dealer_state, smtp, world):
    settings = _settings(dealer_state, smtp, world["drop"])
    _built_the_tenth(database, settings)
    with database.session() as session:  # the service stops after the 10th's and comes back on the 14th at 05:00
        built = build_scheduled(session, datetime(2026, 3, 14, 2, 0, tzinfo=UTC), settings)
        assert sorted({(f.day.isoformat(), f.payments) for f in built}) == [
            ("2026-03-11", 1), ("2026-03-12", 0), ("2026-03-13", 0)]
        assert build_scheduled(session, datetime(2026, 3, 14, 3, 0, tzinfo=UTC), settings) == []
    assert deliver_due(database, settings) == 12  # three days, two formats, e-mail and folder


def test_drop_folders_stay_inside_the_configured_root(world, tmp_path):
    from provisioning.monitor.delivery import DeliveryFailed
    from provisioning.registries.delivery import drop

    (tmp_path / "root" / "vk").mkdir(parents=True)
    assert drop(str(tmp_path / "root" / "vk"), "a.csv", b"x", str(tmp_path / "root")).read_bytes() == b"x"
    for folder, root, why in ((str(tmp_path), str(tmp_path / "root"), "is not inside"),
                              (str(tmp_path / "root" / "vk" / ".." / ".."), str(tmp_path / "root"), "is not inside"),
                              ("relative/vk", str(tmp_path), "not an absolute path"),
                              (str(tmp_path / "root" / "vk"), "", "drop folders are off")):
        with pytest.raises(DeliveryFailed, match=why):
            drop(folder, "b.csv", b"y", root)
    assert sorted(p.name for p in (tmp_path / "root" / "vk").iterdir()) == ["a.csv"]
