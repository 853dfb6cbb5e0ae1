"""Scheduled registries on SQLite and PostgreSQL: built by the periodic job once the provider's local time of day
has come (in its zone), for its yesterday, once; sent by e-mail through a real SMTP server (aiosmtpd) with the file
attached and written atomically into a drop folder; every sending recorded, a failure with its reason."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from monitor_support import SmtpServer
from registry_rig import DAY, add_profile, upload_history
from sqlalchemy import select

from provisioning.periodic import JOBS, claim_and_run
from provisioning.registries.delivery import deliver_due
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
    assert deliver_due(database, no_smtp) == 2
    with database.session() as session:
        rows = session.scalars(select(RegistryDelivery).where(RegistryDelivery.file_id == file.id,
                                                              RegistryDelivery.state == "failed")).all()
        profile = session.scalar(select(RegistryProfile).where(RegistryProfile.dealer_id == world["dealer"]))
        profile.drop_dir = str(world["drop"])
    errors = {r.channel: r.error for r in rows}
    assert "does not exist" in errors["folder"] and "ConnectionRefusedError" in errors["email"]


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
