"""The portal's charge registry pages and their JSON twins: upload, a refusal's row-level errors, the list, an
account's debt by service with its meters and history, scoped by dealer (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from provisioning import tenants
from provisioning.app import create_app
from provisioning.charges import store

SAMPLE = Path(__file__).parents[2] / "provisioning" / "data" / "charge-registry-sample.csv"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def app(dealer_state, database):
    with database.session() as session:
        acme = tenants.create_dealer(session, "acme", "Acme")
        rival = tenants.create_dealer(session, "rival", "Rival")
        tenants.add_user(session, acme, "admin@acme.test", PASSWORD, "admin", "test")
        tenants.add_user(session, acme, "support@acme.test", PASSWORD, "support", "test")
        store.load(session, rival.id, "rival-water", "rival-secret.csv",
                   SAMPLE.read_bytes().replace(b"1000234567", b"7000000007"), "test")
    return create_app(dealer_state, database)


def _client(app, email: str) -> tuple[TestClient, str]:
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 303
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/terminals").text)
    assert found
    return client, found.group(1)


def _upload(client: TestClient, csrf: str, provider: str, name: str, data: bytes, split: str = "proportional"):
    return client.post("/charges", data={"csrf": csrf, "provider": provider, "split": split},
                       files={"registry": (name, io.BytesIO(data), "text/csv")})


def test_an_accepted_upload_opens_its_page_and_the_account_shows_its_debt_by_service(app):
    client, csrf = _client(app, "admin@acme.test")
    reply = _upload(client, csrf, "portal-water", "october.csv", SAMPLE.read_bytes(), "in_order")
    assert reply.status_code == 303
    page = client.get(reply.headers["location"]).text
    assert "accepted" in page and "october.csv" in page and "5526.27" in page and "1000234567" in page
    account = client.get("/charges/accounts", params={"provider": "portal-water", "account": "1000234567"}).text
    for shown in ("Иванов И. И.", "ул. Ленина, 1, кв. 2", "3330.60", "Горячее водоснабжение", "812.30", "1024.60",
                  "Электроэнергия, ночь", "4012", "2026-10-25", "10.2026"):
        assert shown in account, shown
    overpaid = client.get("/charges/accounts", params={"provider": "portal-water", "account": "2000345678"}).text
    assert "-150.00" in overpaid


def test_a_refused_upload_lists_every_error_with_line_and_column_and_loads_nothing(app):
    client, csrf = _client(app, "admin@acme.test")
    bad = SAMPLE.read_text(encoding="utf-8").replace("2 345,67;2 345,67", "2 345,67;12,3x")
    reply = _upload(client, csrf, "portal-refused", "broken.csv", bad.encode("cp1251", errors="replace"))
    assert reply.status_code == 303
    page = client.get(reply.headers["location"]).text
    assert "refused" in page
    assert re.search(r"<td>7</td><td>debt</td><td>&#39;12,3x&#39; is not an amount", page), page
    missing = client.get("/charges/accounts", params={"provider": "portal-refused", "account": "1000234567"}).text
    assert "No registry of this provider has this account." in missing
    listing = client.get("/charges").text
    assert "broken.csv" in listing and 'class="refused"' in listing


def test_a_bad_provider_code_is_refused_on_the_form(app):
    client, csrf = _client(app, "admin@acme.test")
    reply = _upload(client, csrf, "not a code!", "x.csv", SAMPLE.read_bytes())
    assert reply.status_code == 400 and "is not a provider code" in reply.text


def test_support_sees_debts_but_cannot_upload(app):
    client, csrf = _client(app, "support@acme.test")
    page = client.get("/charges").text
    assert "Find an account" in page and 'action="/charges" enctype' not in page
    assert _upload(client, csrf, "portal-water", "x.csv", SAMPLE.read_bytes()).status_code == 403


def test_another_dealers_registries_and_accounts_are_not_shown(app, database):
    client, _ = _client(app, "admin@acme.test")
    with database.session() as session:
        rival = tenants.dealer_by_slug(session, "rival")
        (rival_registry,) = store.registries(session, rival.id)
    assert client.get(f"/charges/{rival_registry.id}").status_code == 404
    assert client.get(f"/api/v1/charges/registries/{rival_registry.id}").status_code == 404
    assert "rival-secret.csv" not in client.get("/charges").text
    found = client.get("/api/v1/charges/accounts", params={"provider": "rival-water", "account": "7000000007"})
    assert found.json()["registries"] == []


def test_the_json_api_uploads_and_answers_in_kopecks(app):
    client, csrf = _client(app, "admin@acme.test")
    reply = client.post("/api/v1/charges/registries", data={"csrf": csrf, "provider": "api-water"},
                        files={"registry": ("api.csv", SAMPLE.read_bytes(), "text/csv")})
    assert reply.status_code == 200
    registry = reply.json()
    assert (registry["status"], registry["period"], registry["accounts"], registry["total"]) == (
        "accepted", "102026", 2, 552627)
    refused = client.post("/api/v1/charges/registries", data={"csrf": csrf, "provider": "api-water"},
                          files={"registry": ("bad.csv", b"account;period;service;debt\n1;102026;gas;x\n", "text/csv")})
    assert refused.status_code == 422
    assert refused.json()["errors"] == [{"line": 2, "column": "debt",
                                         "message": "'x' is not an amount (roubles, e.g. 1234.56 or 1 234,56)"}]
    account = client.get("/api/v1/charges/accounts", params={"provider": "api-water", "account": "1000234567"}).json()
    (current,) = account["registries"]
    assert current["registry"] == registry["id"] and current["total"] == 333060
    assert current["services"][1] == {"service": "water_hot", "name": "Горячее водоснабжение", "amount": 102460}


def test_the_pages_speak_russian(app):
    client, _ = _client(app, "admin@acme.test")
    client.get("/lang/ru")
    page = client.get("/charges").text
    assert "Реестры начислений поставщиков услуг ЖКХ" in page and "Загрузить реестр" in page


def test_an_admin_makes_a_key_sees_its_secret_once_and_revokes_it(app, database, dealer_state):
    from provisioning.charges import booking
    from provisioning.config.vault import vault_of

    client, csrf = _client(app, "admin@acme.test")
    made = client.post("/charges/keys", data={"csrf": csrf, "provider": "portal-water"})
    assert made.status_code == 200
    key_id = re.search(r"<dt>key_id</dt><dd><code>([^<]+)</code>", made.text).group(1)
    secret = re.search(r"<dt>hmac_secret</dt><dd><code>([^<]+)</code>", made.text).group(1)
    with database.session() as session:
        holder = booking.holder(session, vault_of(dealer_state.state_dir), key_id)
        assert holder.secret == secret.encode() and holder.provider == "portal-water" and holder.terminal == ""
        rival = tenants.dealer_by_slug(session, "rival")
        rival_key, _ = booking.create_key(session, vault_of(dealer_state.state_dir), rival.id, "rival-water", "t")
    listing = client.get("/charges/keys").text
    assert key_id in listing and secret not in listing and rival_key not in listing
    unknown = client.post("/charges/keys", data={"csrf": csrf, "provider": "portal-water", "terminal": "nope"})
    assert unknown.status_code == 400 and "nope" in unknown.text
    assert client.post("/charges/keys/revoke", data={"csrf": csrf, "key_id": rival_key}).status_code == 404
    assert client.post("/charges/keys/revoke", data={"csrf": csrf, "key_id": key_id}).status_code == 303
    with database.session() as session:
        assert booking.holder(session, vault_of(dealer_state.state_dir), key_id) is None
        assert booking.holder(session, vault_of(dealer_state.state_dir), rival_key) is not None
