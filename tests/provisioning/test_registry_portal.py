"""The registry and reconciliation pages on SQLite and PostgreSQL: an admin saves a provider's settings (a wrong one
is refused, naming it, and nothing changes), support builds a registry and downloads exactly the kept file, imports
the processing system's registry and reads the report with its links; a malformed file lists its bad lines."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from registry_rig import upload_history
from sqlalchemy import select
from starlette.testclient import TestClient

from provisioning import tenants
from provisioning.app import create_app
from provisioning.db.models import AuditEntry
from provisioning.registries.models import RegistryFile, RegistryProfile

PASSWORD = "registry pass phrase"


@pytest.fixture(scope="module")
def history(database, tmp_path_factory) -> dict:
    with database.session() as session:
        found = upload_history(session, tmp_path_factory.mktemp("portal"), "desk")
        dealer = tenants.dealer_by_slug(session, "desk")
        for role in ("admin", "support"):
            tenants.add_user(session, dealer, f"{role}@desk.test", PASSWORD, role, "test")
    return found


def _client(app, role: str) -> tuple[TestClient, str]:
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    assert client.post("/login", data={"email": f"{role}@desk.test", "password": PASSWORD}).status_code == 303
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/registries").text)
    assert csrf
    return client, csrf.group(1)


@pytest.fixture(scope="module")
def app(dealer_state, database, history):
    return create_app(dealer_state, database)


SETTINGS = {"provider": "vodokanal", "name": "Водоканал", "timezone": "Europe/Moscow", "build_at": "02:15",
            "scheduled": "on", "formats": ["csv", "xlsx"], "encoding": "windows-1251", "emails": "r@v.test",
            "drop_dir": "", "import_format": '{"columns": {"external_id": "id", "amount": "sum"}, '
                                             '"delimiter": ","}'}


def _saved_settings(app) -> None:
    """The admin's settings (Windows-1251 CSV, the import format) in place, whatever test ran before."""
    admin, csrf = _client(app, "admin")
    assert admin.post("/registries/profiles", data={**SETTINGS, "csrf": csrf}).status_code == 303


def test_admin_saves_settings_and_a_wrong_one_changes_nothing(app, database, history):
    client, csrf = _client(app, "admin")
    assert client.post("/registries/profiles", data={**SETTINGS, "csrf": csrf}).status_code == 303
    refused = client.post("/registries/profiles", data={**SETTINGS, "timezone": "Mars/Olympus", "csrf": csrf})
    assert refused.status_code == 400 and "unknown time zone &#39;Mars/Olympus&#39;" in refused.text
    refused = client.post("/registries/profiles", data={**SETTINGS, "import_format": '{"columns": {}}', "csrf": csrf})
    assert refused.status_code == 400 and "the amount column is required" in refused.text
    refused = client.post("/registries/profiles", data={**SETTINGS, "drop_dir": "/etc", "csrf": csrf})
    assert refused.status_code == 400 and "drop folders are off: set registry_drop_root" in refused.text
    refused = client.post("/registries/profiles", data={**SETTINGS, "provider": "../vk", "csrf": csrf})
    assert refused.status_code == 400 and "provider &#39;../vk&#39;: expected a lower-case id" in refused.text
    with database.session() as session:
        profile = session.scalar(select(RegistryProfile).where(RegistryProfile.dealer_id == history["dealer"]))
        assert (profile.timezone, profile.build_at, profile.scheduled, profile.formats, profile.encoding) == (
            "Europe/Moscow", "02:15", True, "csv,xlsx", "windows-1251")
        assert session.scalar(select(AuditEntry).where(AuditEntry.action == "registry.settings",
                                                       AuditEntry.actor == "admin@desk.test")) is not None


def test_support_builds_downloads_and_may_not_change_settings(app, database, history):
    _saved_settings(app)
    client, csrf = _client(app, "support")
    assert client.post("/registries/build", data={"provider": "vodokanal", "day": "2026-03-10", "format": "csv",
                                                  "csrf": csrf}).status_code == 303
    page = client.get("/registries").text
    link = re.search(r'<a href="(/registries/files/(\d+))" download>vodokanal_20260310(?:_v\d+)?\.csv</a>', page)
    assert link and 'action="/registries/profiles"' not in page  # support sees the settings, cannot change them
    reply = client.get(link.group(1))
    with database.session() as session:
        kept = session.get(RegistryFile, int(link.group(2)))
        assert reply.content == kept.content and kept.payments == 3
    assert reply.headers["content-disposition"] == f'attachment; filename="{kept.file_name}"'
    assert "Холодное".encode("cp1251") in reply.content  # the provider's CSV encoding, and it says so
    assert reply.headers["content-type"] == "text/csv; charset=windows-1251"
    assert client.post(f"/registries/files/{kept.id}/send", data={"csrf": csrf}).status_code == 403


def test_an_imported_registry_reports_discrepancies_with_their_links(app, database, history):
    _saved_settings(app)
    client, csrf = _client(app, "support")
    theirs = (f"id,sum\r\nprv{history['plain']},147.00\r\nprv{history['utility']},980.01\r\n").encode()
    reply = client.post("/reconcile", data={"provider": "vodokanal", "day": "2026-03-10", "csrf": csrf},
                        files={"registry": ("theirs.csv", theirs, "text/csv")})
    assert reply.status_code == 303
    report = client.get(reply.headers["location"]).text
    assert re.search(r'<dd id="discrepancies">2</dd>', report)  # the utility amount and the late payment
    stories = re.findall(r'href="(/lookup\?q=[^"]+)" class="story-link"', report)
    assert [parse_qs(urlsplit(s.replace("&amp;", "&")).query)["q"] for s in stories] == [
        [f"30001/{history['utility']}"], [f"30001/{history['late']}"]]
    correction = re.search(r'href="(/corrections/new\?[^"]+)" class="correction-link"', report)
    query = parse_qs(urlsplit(correction.group(1).replace("&amp;", "&")).query)
    assert query["terminal"] == ["30001"] and query["operation"] == [str(history["utility"])]
    assert query["note"][0].startswith("reconciliation: amounts differ (theirs.csv, 2026-03-10)")
    assert client.get(stories[0].replace("&amp;", "&")).status_code == 303  # the lookup opens the story


def test_a_malformed_import_lists_its_lines_and_keeps_nothing(app, database, history):
    _saved_settings(app)
    client, csrf = _client(app, "admin")
    before = client.get("/reconcile").text.count('href="/reconcile/')
    reply = client.post("/reconcile", data={"provider": "vodokanal", "day": "2026-03-10", "csrf": csrf},
                        files={"registry": ("bad.csv", b"id,sum\r\nprv1,12.345\r\nprv2\r\n", "text/csv")})
    assert reply.status_code == 400
    assert "line 2, column sum: &#39;12.345&#39; is not an amount in roubles like 123.45" in reply.text
    assert "line 3, column sum: missing: the line has only 1 fields" in reply.text
    assert client.get("/reconcile").text.count('href="/reconcile/') == before
