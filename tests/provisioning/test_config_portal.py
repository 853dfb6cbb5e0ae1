"""The configuration pages without a browser (SQLite and PostgreSQL): errors of the text and of the quick form named
by the document's key, diffs, read-only for support, assignment never reaching another dealer's terminal, secrets
never shown again, and the pages in Russian."""

from __future__ import annotations

import hashlib
import re

import test_portal_authorization as authz
from sqlalchemy import select

from provisioning import tenants
from provisioning.config.models import ConfigAssignment, ConfigDocument

# the same two dealers (acme with a user per role, rival) and app as the authorization matrix
world, app, _client, _csrf = authz.world, authz.app, authz._client, authz._csrf
SECRET = "portal-secret-never-shown-0815"  # noqa: S105


def _new_document(client, name: str) -> str:
    reply = client.post("/configs", data={"name": name, "csrf": _csrf(client)})
    assert reply.status_code == 303, reply.text
    return reply.headers["location"]


def test_errors_are_named_by_the_documents_key_and_nothing_is_saved(app, database):
    client = _client(app, "admin@acme.test")
    url = _new_document(client, "errors")
    csrf = _csrf(client)
    page = client.get(url).text
    text = re.search(r'<textarea id="config-text" name="text"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    text = text.replace("&#34;", '"').replace("&quot;", '"').replace("&#39;", "'").replace("&lt;", "<") \
        .replace("&gt;", ">").replace("&amp;", "&")

    reply = client.post(f"{url}/versions", data={"mode": "text", "text": text + "\n[limits\n", "csrf": csrf})
    assert reply.status_code == 400 and "not valid TOML" in reply.text and 'id="config-text-error"' in reply.text
    low = text.replace("max_operation = 15000", "max_operation = 5")
    reply = client.post(f"{url}/versions", data={"mode": "text", "text": low, "csrf": csrf})
    assert reply.status_code == 400 and "limits.max_operation: must not be below min_operation" in reply.text

    reply = client.post(f"{url}/versions", data={"mode": "fields", "service.pin": "12", "csrf": csrf})
    assert reply.status_code == 400 and 'data-key="service.pin"' in reply.text and "4 to 12 digits" in reply.text
    reply = client.post(f"{url}/versions", data={"mode": "fields", "csrf": csrf,
                                                 "catalog.providers[1].fee.kind": "percent",
                                                 "catalog.providers[1].fee.percent": "150"})
    assert reply.status_code == 400 and 'data-key="catalog.providers[1].fee.percent"' in reply.text
    assert "a percent above 100" in reply.text and 'value="150"' in reply.text  # the typed value is kept
    reply = client.post(f"{url}/versions", data={"mode": "fields", "csrf": csrf, "limits.max_operation": "1,5"})
    assert reply.status_code == 400 and 'data-key="limits.max_operation"' in reply.text
    with database.session() as session:
        document = session.scalar(select(ConfigDocument).where(ConfigDocument.name == "errors"))
        from provisioning.config import store

        assert [v.number for v in store.versions(session, document)] == [1]

    beeline = {"mode": "fields", "csrf": csrf, "service.pin": "987654", "catalog.providers[1].fee.kind": "percent",
               "catalog.providers[1].fee.percent": "2.5", "catalog.providers[1].fee.min": "10",
               "comment": "beeline 2.5 %"}
    reply = client.post(f"{url}/versions", data=beeline)  # a rule about the whole fee: shown at its first field
    assert reply.status_code == 400 and 'data-key="catalog.providers[1].fee.kind"' in reply.text
    assert "the fee takes all of the minimum payment" in reply.text
    reply = client.post(f"{url}/versions", data={**beeline, "catalog.providers[1].fee.min": "1"})
    assert reply.status_code == 303
    diff = client.get(f"{url}/diff").text
    assert "v1 → v2" in diff and "catalog.providers[1].fee.percent" in diff and "service.pin_sha256" in diff
    # only the PIN's hash is kept, and not even that is shown: a short PIN's SHA-256 gives the PIN away
    assert "987654" not in diff and hashlib.sha256(b"987654").hexdigest() not in diff and "(hidden)" in diff
    with database.session() as session:
        from provisioning.db.models import AuditEntry

        audit = " ".join(f"{a.before} {a.after}" for a in session.scalars(select(AuditEntry)))
    assert hashlib.sha256(b"987654").hexdigest() not in audit
    assert "beeline 2.5 %" in client.get(url).text


def test_support_reads_but_cannot_change_and_nobody_assigns_to_another_dealer(app, database, world):
    admin = _client(app, "admin@acme.test")
    url = _new_document(admin, "tenancy")
    support = _client(app, "support@acme.test")
    page = support.get(url)
    assert page.status_code == 200 and "v1" in page.text and "/versions" not in page.text and "/assign" not in page.text
    reply = admin.post(f"{url}/assign", data={"version": "1", "target": f"terminal:{world['rival_terminal']}",
                                              "csrf": _csrf(admin)})
    assert reply.status_code == 404
    with database.session() as session:
        assert session.scalar(select(ConfigAssignment).where(
            ConfigAssignment.terminal_id == world["rival_terminal"])) is None
        acme = tenants.dealer_by_slug(session, "acme")
        terminal = tenants.add_terminal(session, acme, "T-77", "", "Europe/Moscow", "west", "t")
        group_id = terminal.group_id
    reply = admin.post(f"{url}/assign", data={"version": "1", "target": f"group:{group_id}", "csrf": _csrf(admin)})
    assert reply.status_code == 303
    page = admin.get(f"/terminals/{terminal.id}/config").text
    assert "tenancy v1" in page and "through its group" in page


def test_a_secret_is_never_shown_again_and_the_pages_speak_russian(app, database):
    admin = _client(app, "admin@acme.test")
    with database.session() as session:
        terminal = tenants.add_terminal(session, tenants.dealer_by_slug(session, "acme"), "S-1", "", "Europe/Moscow",
                                        "", "t")
    reply = admin.post(f"/terminals/{terminal.id}/secrets", data={"gateway": "main", "name": "password",
                                                                  "value": SECRET, "csrf": _csrf(admin)})
    assert reply.status_code == 303
    page = admin.get(f"/terminals/{terminal.id}/config").text
    assert "set on" in page and "admin@acme.test" in page and SECRET not in page
    assert SECRET not in admin.get("/audit").text
    bad = admin.post(f"/terminals/{terminal.id}/secrets", data={"gateway": "main", "name": "password", "value": "",
                                                                "csrf": _csrf(admin)})
    assert bad.status_code in (400, 422)
    admin.get("/lang/ru")
    page = admin.get(f"/terminals/{terminal.id}/config").text
    assert "Секреты шлюзов" in page and "задан" in page and SECRET not in page
    assert "Настройки" in admin.get("/configs").text
