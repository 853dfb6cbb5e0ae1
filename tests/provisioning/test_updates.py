"""Updates end to end over the real link (mutual TLS, signed requests): `kiosk-dealer updates init` and
`release add` sign a bundle, an enrolled terminal pins the root, takes the release its channel offers, installs it
beside the running one, and every step it reports is kept and shown; pilot releases reach the pilot group only."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterator
from contextlib import redirect_stdout

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from kiosk.dealer_link.client import DealerLink
from kiosk.dealer_link.enroll import enroll
from kiosk.dealer_link.identity import LinkError
from kiosk.updates import cli as terminal_cli
from kiosk.updates.agent import check_once, link_client, link_report
from kiosk.updates.releases import Releases
from provisioning import cli, tenants
from provisioning.app import create_app
from provisioning.db.models import AuditEntry, Dealer, Terminal
from provisioning.identity import enrollment
from provisioning.identity.ca import CAFiles
from provisioning.server import DealerServer
from provisioning.updates import service
from provisioning.updates.models import Release, TerminalUpdate, UpdateStep
from tests.updates.helpers import fake_wheels


@pytest.fixture(scope="module")
def offline_keys(dealer_state, tmp_path_factory) -> list:
    """`kiosk-dealer updates init`: 3 root keys written to a folder (to move offline), 2 needed to sign."""
    offline = tmp_path_factory.mktemp("offline-root-keys")
    with redirect_stdout(io.StringIO()):
        assert cli.main(["--state", str(dealer_state.state_dir), "updates", "init", "--root-key-dir", str(offline),
                         "--root-keys", "3", "--threshold", "2"]) == 0
    return sorted(offline.glob("root-*.pem"))


@pytest.fixture(scope="module")
def server(dealer_state, offline_keys) -> Iterator[DealerServer]:
    with DealerServer(dealer_state, periodic_tick=0.5) as running:
        yield running


def _enrolled(server: DealerServer, database, folder, number: str, group: str = "") -> DealerLink:
    with database.session() as session:
        owner = session.scalar(select(Dealer).where(Dealer.slug == "acme")) or tenants.create_dealer(
            session, "acme", "Acme")
        terminal = tenants.add_terminal(session, owner, number, "Lenina 1", "Europe/Moscow", group, "test")
        code = enrollment.new_enrollment_code(session, terminal, "test", dt.datetime.now(dt.UTC), 24)
    enroll(server.portal_url, code, CAFiles(server.settings.ca_dir).load().fingerprint, folder)
    assert terminal_cli.pin_root_main(["--identity", str(folder)]) == 0
    return DealerLink(folder)


def _release(server: DealerServer, tmp_path, version: str, channel: str = "stable", check: bool = False) -> None:
    wheels = fake_wheels(tmp_path / f"dist-{version}", version)
    out = io.StringIO()
    with redirect_stdout(out):
        code = cli.main(["--state", str(server.settings.state_dir), "release", "add", *map(str, wheels),
                         "--version", version, "--channel", channel, *([] if check else ["--no-check"])])
    assert code == 0 and f"release {version} signed into channel {channel}" in out.getvalue()


def _steps(database, number: str) -> list[tuple[str, str]]:
    with database.session() as session:
        terminal = session.scalar(select(Terminal).where(Terminal.number == number))
        return [(s.step, s.version) for s in session.scalars(
            select(UpdateStep).where(UpdateStep.terminal_id == terminal.id).order_by(UpdateStep.id))]


def test_a_signed_release_reaches_an_enrolled_terminal_over_the_link(server, database, tmp_path):
    _release(server, tmp_path, "5.1.0", check=not database.is_postgresql)  # pip resolves the wheels alone once
    releases = Releases(tmp_path / "updates")
    with _enrolled(server, database, tmp_path / "link", "7001") as link:
        version = check_once(releases, link_client(link, tmp_path / "link" / "updates"), link_report(link),
                             running="5.0.0")
        assert version == "5.1.0" and releases.complete("5.1.0")
        releases.switch("5.1.0")
        (releases.root / "health").mkdir()
        (releases.root / "health" / "5.1.0").write_text("{}")
        assert releases.guard() == "5.1.0 confirmed healthy"
        # The next cycle reports the switch and the health check, and finds nothing newer.
        assert check_once(releases, link_client(link, tmp_path / "link" / "updates"), link_report(link),
                          running="5.1.0") is None
    assert _steps(database, "7001") == [("checked", ""), ("downloading", "5.1.0"), ("downloaded", "5.1.0"),
                                        ("installed", "5.1.0"), ("switched", "5.1.0"), ("healthy", "5.1.0"),
                                        ("checked", "")]
    with database.session() as session:
        state = session.scalar(select(TerminalUpdate).where(TerminalUpdate.running == "5.1.0"))
        assert state is not None and state.step == "checked"
        assert session.scalar(select(Release).where(Release.version == "5.1.0")).channel == "stable"
        assert session.scalar(select(AuditEntry).where(AuditEntry.action == "release.add")) is not None


def test_pilot_releases_reach_the_pilot_group_only(server, database, tmp_path):
    _release(server, tmp_path, "6.0.0")
    _release(server, tmp_path, "6.1.0", channel="pilot")
    links = {number: _enrolled(server, database, tmp_path / number, number, group)
             for number, group in (("7101", "pilots"), ("7102", ""))}
    assert cli.main(["--state", str(server.settings.state_dir), "release", "pilot", "--dealer", "acme",
                     "--group", "pilots"]) == 0
    offers = {}
    for number, link in links.items():
        with link:
            client = link_client(link, tmp_path / number / "updates")
            client.refresh()
            offers[number] = client.offer(link_report(link)({"running": "6.0.0", "step": "checked"})).version
    assert offers == {"7101": "6.1.0", "7102": "6.0.0"}


def test_the_repository_is_not_served_to_strangers(server, database, tmp_path):
    with _enrolled(server, database, tmp_path / "link", "7201") as link:
        with pytest.raises(LinkError, match="refused"):
            link.request("GET", "/api/v1/terminals/acme/7001/tuf/metadata/timestamp.json")  # another terminal's path
        with link.stream(f"{link.terminal_path}/tuf/keys/targets.pem") as reply:
            assert reply.status_code == 404  # the online keys are never served
        with link.stream(f"{link.terminal_path}/tuf/metadata/1.root.json", {"Range": "bytes=10-"}) as reply:
            whole = (server.settings.state_dir / "updates" / "metadata" / "1.root.json").read_bytes()
            assert reply.status_code == 206 and reply.read() == whole[10:]  # a download resumes where it stopped
        with link.stream(f"{link.terminal_path}/tuf/metadata/../keys/timestamp.pem") as reply:
            assert reply.status_code in (401, 404)  # the client normalizes the path: it no longer matches its signature


def test_the_portal_shows_who_runs_what(database, dealer_state):
    with database.session() as session:
        acme = session.scalar(select(Dealer).where(Dealer.slug == "acme")) or tenants.create_dealer(
            session, "acme", "Acme")
        tenants.add_user(session, acme, "boss@acme.updates", "correct horse battery", "admin", "test")
        terminal = tenants.add_terminal(session, acme, "7301", "", "Europe/Moscow", "", "test")
        session.add(Release(version="4.2.0", channel="pilot", target="releases/kiosk-4.2.0.tar", size=123,
                            sha256="0" * 64, created_by="test"))
        session.flush()
        service.record_step(session, terminal.id, "4.1.0", "rolled_back", "4.2.0", "started 3 times", ["4.2.0"])
    client = TestClient(create_app(dealer_state, database), base_url="https://testserver")
    assert client.post("/login", data={"email": "boss@acme.updates", "password": "correct horse battery"},
                       follow_redirects=False).status_code == 303
    page = client.get("/updates").text
    row = page[page.index(">7301<"):].split("</tr>")[0]
    assert "4.1.0" in row and "4.2.0" in row and "rolled back" in row and "started 3 times" in row
    assert ">4.2.0</th><td>pilot</td>" in page


def test_a_bundle_missing_a_dependency_is_refused_before_signing(server, tmp_path, capsys):
    kiosk_wheel, _dependency = fake_wheels(tmp_path / "dist", "9.0.0")
    assert cli.main(["--state", str(server.settings.state_dir), "release", "add", str(kiosk_wheel),
                     "--version", "9.0.0"]) == 2
    assert "do not install on their own" in capsys.readouterr().err


def test_root_rotation_needs_the_threshold_of_offline_keys_and_revocation_replaces_an_online_key(
        dealer_state, database, offline_keys, tmp_path, capsys):
    state = ["--state", str(dealer_state.state_dir)]
    offline = offline_keys
    assert len(offline) == 3 and all(p.stat().st_mode & 0o777 == 0o600 for p in offline)
    assert cli.main([*state, "updates", "rotate-root", "--root-key", str(offline[0])]) == 2
    assert "needs 2 of the current root keys; 1 given" in capsys.readouterr().err
    assert cli.main([*state, "updates", "rotate-root", "--root-key", str(offline[0]), "--root-key", str(offline[1]),
                     "--new-root-keys", "1", "--root-key-dir", str(tmp_path / "new-keys")]) == 0
    assert len(list((tmp_path / "new-keys").glob("root-*.pem"))) == 1
    capsys.readouterr()
    assert cli.main([*state, "updates", "status"]) == 0
    status = json.loads(capsys.readouterr().out)
    old_timestamp_key = status["timestamp"]["keys"][0]
    assert len(status["root"]["keys"]) == 4 and status["root"]["version"] >= 2
    assert cli.main([*state, "updates", "revoke-key", old_timestamp_key, "--root-key", str(offline[0]),
                     "--root-key", str(offline[2])]) == 0
    capsys.readouterr()
    cli.main([*state, "updates", "status"])
    after = json.loads(capsys.readouterr().out)
    assert after["timestamp"]["keys"] != [old_timestamp_key] and after["timestamp"]["version"] > 1
    with database.session() as session:
        actions = set(session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("updates.%"))))
    assert {"updates.init", "updates.rotate_root", "updates.revoke_key"} <= actions


def test_a_rolled_back_release_is_reported_and_never_taken_again(server, database, tmp_path):
    releases = Releases(tmp_path / "updates", deadline_s=0.0)  # its health deadline passes at once
    running = releases.releases / "5.5.0"  # the release this terminal runs (complete, as if installed)
    running.mkdir(parents=True)
    (running / "release.json").write_text('{"version": "5.5.0"}')
    releases._point_current("5.5.0")
    _release(server, tmp_path, "5.6.0")
    with _enrolled(server, database, tmp_path / "link", "7401") as link:
        client, report = link_client(link, tmp_path / "link" / "updates"), link_report(link)
        assert check_once(releases, client, report, running="5.5.0") == "5.6.0"
        releases.switch("5.6.0")
        assert releases.guard(starting=True) == "rolled back to 5.5.0"  # it never said it was healthy
        assert check_once(releases, client, report, running="5.5.0") is None  # bad: not downloaded again
    assert _steps(database, "7401")[-3:] == [("switched", "5.6.0"), ("rolled_back", "5.6.0"), ("checked", "")]
    with database.session() as session:
        terminal = session.scalar(select(Terminal).where(Terminal.number == "7401"))
        assert session.get(TerminalUpdate, terminal.id).bad == "5.6.0"


def test_the_periodic_job_re_signs_the_timestamp_before_it_expires(server, database, dealer_state):
    from provisioning.periodic import claim_and_run, refresh_update_metadata
    from provisioning.updates.repository import Repository

    repo = Repository(dealer_state.state_dir / "updates")
    before = repo.load("timestamp").signed
    # Run as if 13 hours had passed: less than half of the timestamp's one day is left.
    later = before.expires - dt.timedelta(hours=11)
    assert claim_and_run(database, "refresh_update_metadata_test", lambda s, now, settings: repo.refresh(later),
                         600, dealer_state, "test", now=dt.datetime.now(dt.UTC))
    after = repo.load("timestamp").signed
    assert after.version == before.version + 1 and after.expires > before.expires
    refresh_update_metadata(None, dt.datetime.now(dt.UTC), dealer_state)  # the job itself: nothing due now
    assert repo.load("timestamp").signed.version == after.version
