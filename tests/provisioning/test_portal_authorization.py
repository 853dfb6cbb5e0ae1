"""Tenants and roles: every portal route called as every role and with another dealer's ids; sign-in lockout,
session cookie flags, CSRF, and the audit trail of changes."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select
from starlette.testclient import TestClient

from provisioning import tenants
from provisioning.app import create_app
from provisioning.commands import service as commands_service
from provisioning.config import store
from provisioning.db.models import ROLES, AuditEntry, Membership, Terminal, User
from provisioning.portal.auth import PERMISSIONS
from provisioning.portal.routes import PUBLIC_PAGES, ROUTE_PERMISSIONS

PASSWORD = "correct horse battery"
_serial = itertools.count(1)


@pytest.fixture(scope="module")
def world(dealer_state, database, tmp_path_factory) -> dict[str, Any]:
    """Two dealers: acme (one user per role, a terminal) and rival (an admin, a terminal)."""
    ids: dict[str, Any] = {}
    with database.session() as session:
        acme = tenants.create_dealer(session, "acme", "Acme")
        rival = tenants.create_dealer(session, "rival", "Rival")
        for role in ROLES:
            tenants.add_user(session, acme, f"{role}@acme.test", PASSWORD, role, "test")
        tenants.add_user(session, rival, "admin@rival.test", PASSWORD, "admin", "test")
        ids["rival_terminal"] = tenants.add_terminal(session, rival, "R-1", "Rival st", "Europe/Moscow", "", "t").id
        ids["rival_user"] = session.scalar(select(User.id).where(User.email == "admin@rival.test"))
        ids["rival_document"] = store.create_document(session, rival.id, "rival-config", "t").id
        rival_terminal = session.get(Terminal, ids["rival_terminal"])
        ids["rival_command"] = _screenshot_command(session, rival_terminal)
        _upload_a_payment_needing_attention(session, rival.id, ids["rival_terminal"], "R-1", tmp_path_factory)
        ids["rival_pack"] = _theme_pack(session, rival.id)
        ids["rival_correction"] = _correction(session, rival_terminal)
        KNOWN_PACK["zip"] = _known_pack(session, acme.id)
        ids["rival_file"], ids["rival_run"] = _registry_and_run(session, rival.id)
        ids["rival_registry"] = _charge_registry(session, rival.id)
    return ids


def _upload_a_payment_needing_attention(session, dealer_id: int, terminal_id: int, number: str, folders) -> None:
    """The rival's terminal has a payment uploaded (so a leak across dealers would show on the lookup pages)."""
    from zoneinfo import ZoneInfo

    from kiosk.clock import ManualClock
    from kiosk.dealer_link.upload import open_reader, read_batch
    from kiosk.emulators.payments import pay
    from kiosk.offline_queue.journal import Journal
    from provisioning.journal.ingest import store

    clock = ManualClock(ZoneInfo("Europe/Moscow"))
    path = folders.mktemp("rival") / "journal.sqlite"
    journal = Journal(path, number, "RUB", clock.now)
    operation = pay(journal, clock, account="7770001111", delivered=False)
    journal.settle(operation, state="needs_attention", attention_reason="declined by the provider")
    journal.close()
    reader = open_reader(path)
    batch = read_batch(reader, 0)
    reader.close()
    store(session.connection(), dealer_id, terminal_id, number, {"format": 1, "terminal": number, "after": 0,
                                                                 "last": batch.last, "rows": batch.rows})


#: a processing system's registry in the default import format (the layout of our own registries)
THEIR_REGISTRY = b"terminal;operation;paid_at;account;amount;gateway_id\r\n1;1;2026-01-15 10:00:00;1;1.00;prv1\r\n"


def _registry_and_run(session, dealer_id: int) -> tuple[int, int]:  # noqa: ANN001
    """A kept registry file and a reconciliation run of the dealer (their pages take these ids)."""
    from provisioning.registries.build import build
    from provisioning.registries.reconcile import reconcile

    file = build(session, dealer_id, "mts", dt.date(2026, 1, 15), "csv", "test")
    run = reconcile(session, dealer_id, "mts", dt.date(2026, 1, 15), THEIR_REGISTRY, "m.csv", "test")
    return file.id, run.id


def _theme_pack(session, dealer_id: int) -> int:  # noqa: ANN001
    """A kept theme pack of the dealer with one preview picture (no preview is drawn: that is test_themes.py's)."""
    from kiosk.screens.theme import THEMES_DIR
    from kiosk.screens.theme_pack import check_pack, pack_folder
    from provisioning.themes import service as themes_service

    data = pack_folder(THEMES_DIR / "default") + str(next(_serial)).encode()  # a zip tolerates trailing bytes
    prepared = themes_service.Prepared(f"matrix-{next(_serial)}", data, check_pack(data),
                                       {"attract-ru": b"\x89PNG\r\n\x1a\n"})
    return themes_service.store(session, dealer_id, prepared, "test").id


#: a pack acme holds already: uploading it again finds it, so the matrix draws no preview
KNOWN_PACK: dict[str, bytes] = {}


def _known_pack(session, dealer_id: int) -> bytes:  # noqa: ANN001
    """Keep the dark theme's pack for the dealer and return its zip."""
    from kiosk.screens.theme import THEMES_DIR
    from kiosk.screens.theme_pack import check_pack, pack_folder
    from provisioning.themes import service as themes_service

    data = pack_folder(THEMES_DIR / "dark")
    themes_service.store(session, dealer_id, themes_service.Prepared("known", data, check_pack(data), {}), "test")
    return data


def _correction(session, terminal) -> int:  # noqa: ANN001
    """A refund of `terminal`'s operation 1 waiting for approval (requested by someone who never signs in)."""
    from provisioning.corrections.models import Correction

    row = Correction(dealer_id=terminal.dealer_id, terminal_id=terminal.id, operation=1, op_key="", kind="refund",
                     arguments="{}", note="", state="requested", needs_approval=True,
                     requested_by="someone@else.test", requested_at=dt.datetime.now(dt.UTC), result="")
    session.add(row)
    session.flush()
    return row.id


def _charge_registry(session, dealer_id: int) -> int:  # noqa: ANN001
    """An accepted charge registry of the dealer (the documented sample)."""
    from provisioning.charges import store as charges_store

    return charges_store.load(session, dealer_id, "matrix-water", CHARGES_SAMPLE.name, CHARGES_SAMPLE.read_bytes(),
                              "test").registry.id


def _charge_key(session, dealer_id: int) -> str:  # noqa: ANN001
    """A debt lookup key of the dealer (its sealed secret is never opened here)."""
    from provisioning.charges.models import ChargeKey

    key_id = f"matrix-water.{next(_serial)}"
    session.add(ChargeKey(key_id=key_id, dealer_id=dealer_id, provider="matrix-water", secret=b"-", created_by="t"))
    return key_id


CHARGES_SAMPLE = Path(__file__).parents[2] / "provisioning" / "data" / "charge-registry-sample.csv"


def _screenshot_command(session, terminal) -> str:  # noqa: ANN001
    """A finished screenshot command of `terminal` (its PNG is only the signature: nothing decodes it here)."""
    command = commands_service.queue(session, terminal, "screenshot", {}, "test", dt.datetime.now(dt.UTC))
    command.state, command.attachment, command.attachment_type = "done", b"\x89PNG\r\n\x1a\n", "image/png"
    return command.id


@pytest.fixture(scope="module")
def app(dealer_state, database, world):
    return create_app(dealer_state, database)


def _client(app, email: str | None) -> TestClient:
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    if email:
        reply = client.post("/login", data={"email": email, "password": PASSWORD})
        assert reply.status_code == 303, reply.text
    return client


def _csrf(client: TestClient) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/terminals").text)
    assert found, "no CSRF token on the page"
    return found.group(1)


def _fresh_ids(database, dealer: str, path: str = "{terminal_id}{user_id}") -> dict[str, Any]:
    """A new terminal and/or user of `dealer` for one call (so revoking or re-roling spoils nothing else)."""
    n = next(_serial)
    ids: dict[str, Any] = {"terminal_id": 0, "user_id": 0, "command_id": "", "document_id": 0, "assign_to": 0,
                           "pack_id": 0, "shot": "attract-ru", "operation": 1, "file_id": 0, "run_id": 0,
                           "correction_id": 0}
    with database.session() as session:
        owner = tenants.dealer_by_slug(session, dealer)
        if "{file_id}" in path or "{run_id}" in path:
            ids["file_id"], ids["run_id"] = _registry_and_run(session, owner.id)
        if "{document_id}" in path:  # a configuration document, and a terminal to assign it to
            ids["document_id"] = store.create_document(session, owner.id, f"config-{n}", "t").id
            ids["assign_to"] = tenants.add_terminal(session, owner, f"C-{n}", "", "Europe/Moscow", "", "t").id
        if "{pack_id}" in path:  # a theme pack, and a terminal to assign it to
            ids["pack_id"] = _theme_pack(session, owner.id)
            ids["assign_to"] = tenants.add_terminal(session, owner, f"T-{n}", "", "Europe/Moscow", "", "t").id
        if "{registry_id}" in path:
            ids["registry_id"] = _charge_registry(session, owner.id)
        if path == "/charges/keys/revoke":  # a debt lookup key to revoke
            ids["charge_key"] = _charge_key(session, owner.id)
        if "{terminal_id}" in path:
            terminal = tenants.add_terminal(session, owner, f"M-{n}", "", "Europe/Moscow", "", "t")
            ids["terminal_id"] = terminal.id
            if "{command_id}" in path:
                ids["command_id"] = _screenshot_command(session, terminal)
        if "{correction_id}" in path:
            ids["correction_id"] = _correction(session, tenants.add_terminal(session, owner, f"K-{n}", "",
                                                                             "Europe/Moscow", "", "t"))
        if "{user_id}" in path:  # never signs in, so no (slow) argon2 hash is needed
            user = User(email=f"extra{n}@{dealer}.test", password_hash="-")
            session.add(user)
            session.flush()
            session.add(Membership(user_id=user.id, dealer_id=owner.id, role="support"))
            ids["user_id"] = user.id
    return ids


def _form(method: str, path: str, csrf: str, ids: dict[str, Any]) -> dict[str, str]:
    n = next(_serial)
    forms = {"/terminals": {"number": f"N-{n}", "address": "Tverskaya 1", "timezone": "Europe/Moscow"},
             "/users": {"email": f"new{n}@acme.test", "password": PASSWORD, "role": "technician"},
             "/users/{user_id}/role": {"role": "technician"},
             "/terminals/{terminal_id}/revoke": {"reason": "matrix"},
             "/configs": {"name": f"matrix-{n}"},
             "/configs/{document_id}/versions": {"mode": "fields", "limits.max_operation": "14000"},
             "/configs/{document_id}/assign": {"version": "1", "target": f"terminal:{ids.get('assign_to', 0)}"},
             "/terminals/{terminal_id}/secrets": {"gateway": "main", "name": "password", "value": "matrix-secret"},
             "/terminals/{terminal_id}/commands": {"kind": "lock", "message": "matrix"},
             "/terminals/{terminal_id}/fiscal-resolve": {"intent": "1", "made": "not_made"},
             "/alerts/rules": {"enabled_paper_out": "on", "threshold_offline": "600"},
             "/groups": {"action": "create", "name": f"matrix-group-{n}"},
             "/alerts/channels": {"webhook_url": "https://hooks.acme.test/kiosk", "emails": "ops@acme.test"},
             "/themes": {"slug": "known"},
             "/themes/{pack_id}/assign": {"terminal": str(ids.get("assign_to", 0))},
             "/registries/profiles": {"provider": f"p{n}", "timezone": "Europe/Moscow", "build_at": "03:00",
                                      "formats": "csv", "encoding": "utf-8", "import_format": "{}"},
             "/registries/build": {"provider": "mts", "day": "2026-01-15", "format": "csv"},
             "/reconcile": {"provider": "mts", "day": "2026-01-15"},
             "/charges": {"provider": "matrix-water", "split": "in_order"},
             "/api/v1/charges/registries": {"provider": "matrix-water"},
             "/charges/keys": {"provider": "matrix-water"},
             "/charges/keys/revoke": {"key_id": ids.get("charge_key", "")}}
    return {"csrf": csrf, **forms.get(path, {})} if method == "POST" else {}


def _call(client: TestClient, method: str, path: str, ids: dict[str, int], csrf: str):
    url = path.format(**ids)
    if method == "GET":
        return client.get(url)
    files = {"pack": ("pack.zip", KNOWN_PACK.get("zip", b""), "application/zip")} if path == "/themes" else None
    if path == "/reconcile":
        files = {"registry": ("theirs.csv", THEIR_REGISTRY, "text/csv")}
    if path in ("/charges", "/api/v1/charges/registries"):
        files = {"registry": (CHARGES_SAMPLE.name, CHARGES_SAMPLE.read_bytes(), "text/csv")}
    return client.post(url, data=_form(method, path, csrf, ids), files=files)


def test_every_portal_route_declares_a_permission(app):
    routes = {(m, r.path) for r in app.routes if isinstance(r, APIRoute) and not r.path.startswith("/api/")
              for m in r.methods}
    undeclared = routes - set(ROUTE_PERMISSIONS) - PUBLIC_PAGES
    assert not undeclared, f"portal routes without a permission: {undeclared}"
    assert set(ROUTE_PERMISSIONS.values()) <= set(PERMISSIONS)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_its_permissions_and_never_another_dealers_things(app, database, world, role):
    client = _client(app, f"{role}@acme.test")
    csrf = _csrf(client)
    for (method, path), permission in sorted(ROUTE_PERMISSIONS.items()):
        reply = _call(client, method, path, _fresh_ids(database, "acme", path), csrf)
        if role in PERMISSIONS[permission]:
            assert reply.status_code in (200, 303), f"{role} {method} {path}: {reply.status_code}"
        else:
            assert reply.status_code == 403, f"{role} {method} {path}: {reply.status_code}"
        if "{" in path:  # the same call with the rival dealer's terminal or user
            foreign = {"terminal_id": world["rival_terminal"], "user_id": world["rival_user"],
                       "command_id": world["rival_command"], "document_id": world["rival_document"],
                       "pack_id": world["rival_pack"], "shot": "attract-ru", "operation": 1,
                       "file_id": world["rival_file"], "run_id": world["rival_run"],
                       "correction_id": world["rival_correction"]}
            foreign["registry_id"] = world["rival_registry"]
            reply = _call(client, method, path, foreign, csrf)
            assert reply.status_code in (403, 404), f"{role} {method} {path} foreign: {reply.status_code}"
    commands = f"/terminals/{_fresh_ids(database, 'acme', '{terminal_id}')['terminal_id']}/commands"
    for page in ("/terminals", "/codes", "/users", "/audit", "/updates", "/fleet", "/alerts", "/commands", commands,
                 "/configs", "/lookup/attention", "/lookup?account=7770001111", "/themes", "/registries", "/reconcile",
                 "/turnover?since=2026-01-01&until=2026-01-31", "/corrections"):
        text = client.get(page).text
        assert "R-1" not in text and "rival" not in text.lower(), f"{role} sees the rival dealer on {page}"
    with database.session() as session:
        rival_terminal = session.get(Terminal, world["rival_terminal"])
        assert rival_terminal.status == "new"  # untouched by anyone at acme


def test_another_dealers_command_is_not_found_through_ones_own_terminal(app, database, world):
    client = _client(app, "admin@acme.test")
    own = _fresh_ids(database, "acme", "{terminal_id}")["terminal_id"]
    for suffix in ("", "/screenshot.png"):
        reply = client.get(f"/terminals/{own}/commands/{world['rival_command']}{suffix}")
        assert reply.status_code == 404, suffix


def test_signed_out_visitors_are_sent_to_sign_in(app):
    client = _client(app, None)
    for (method, path) in ROUTE_PERMISSIONS:
        reply = _call(client, method, path, {"terminal_id": 1, "user_id": 1, "command_id": "x", "document_id": 1,
                                             "pack_id": 1, "shot": "attract-ru",
                                             "registry_id": 1,
                                             "operation": 1, "file_id": 1, "run_id": 1, "correction_id": 1}, "x")
        assert reply.status_code == 303 and reply.headers["location"] == "/login", (method, path)


def test_post_without_csrf_token_is_refused(app, database):
    client = _client(app, "admin@acme.test")
    reply = client.post("/terminals", data={"number": "CSRF-1", "csrf": "forged"})
    assert reply.status_code == 400
    with database.session() as session:
        assert session.scalar(select(Terminal).where(Terminal.number == "CSRF-1")) is None


def test_session_cookie_is_httponly_strict_and_secure(app):
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    reply = client.post("/login", data={"email": "support@acme.test", "password": PASSWORD})
    cookie = reply.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" in cookie


def test_repeated_wrong_passwords_lock_the_account(app, database, dealer_state):
    with database.session() as session:
        acme = tenants.dealer_by_slug(session, "acme")
        tenants.add_user(session, acme, "victim@acme.test", PASSWORD, "support", "test")
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    for _ in range(dealer_state.max_failed_logins):
        assert client.post("/login", data={"email": "victim@acme.test", "password": "wrong!"}).status_code == 401
    reply = client.post("/login", data={"email": "victim@acme.test", "password": PASSWORD})
    assert reply.status_code == 401 and "locked" in reply.text.lower()
    with database.session() as session:
        user = session.scalar(select(User).where(User.email == "victim@acme.test"))
        assert user.locked_until > dt.datetime.now(dt.UTC)
        reasons = [e.reason for e in session.scalars(select(AuditEntry).where(AuditEntry.actor == "victim@acme.test"))]
    assert any("locked until" in r for r in reasons) and "account locked" in reasons


def test_changes_are_audited_with_who_and_before_after(app, database):
    client = _client(app, "admin@acme.test")
    ids = _fresh_ids(database, "acme")
    client.post(f"/users/{ids['user_id']}/role", data={"role": "technician", "csrf": _csrf(client)})
    page = client.get("/audit").text
    assert "user.role" in page and "admin@acme.test" in page
    with database.session() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "user.role")
                                .order_by(AuditEntry.id.desc())).first()
    assert entry.actor == "admin@acme.test" and '"support"' in entry.before and '"technician"' in entry.after


def test_portal_speaks_russian(app):
    client = _client(app, "admin@acme.test")
    client.get("/lang/ru")
    page = client.get("/terminals").text
    assert 'lang="ru"' in page and "Терминалы" in page and "Добавить терминал" in page


def test_forms_posted_from_another_site_are_refused(app):
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    reply = client.post("/login", data={"email": "admin@acme.test", "password": PASSWORD},
                        headers={"Origin": "https://evil.example"})
    assert reply.status_code == 403 and "cross-site" in reply.text
    same = client.post("/login", data={"email": "admin@acme.test", "password": PASSWORD},
                       headers={"Origin": "https://testserver"})
    assert same.status_code == 303


def test_every_portal_word_exists_in_both_languages():
    from provisioning.portal.i18n import TEXTS

    assert set(TEXTS["en"]) == set(TEXTS["ru"])
    assert all(TEXTS["ru"][k] for k in TEXTS["ru"])


def test_the_rival_sees_its_own_uploaded_payment_on_the_lookup_pages(app, world):
    client = _client(app, "admin@rival.test")  # the same pages do show a dealer its own payments
    assert "R-1" in client.get("/lookup/attention").text and "declined by the provider" in \
        client.get("/lookup/attention").text
    assert "7770001111" in client.get("/lookup?account=+7 777 000-11-11&state=needs_attention").text
