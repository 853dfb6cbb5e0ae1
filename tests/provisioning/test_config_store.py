"""Configuration documents on the service (SQLite and PostgreSQL): versions validated by the terminal's own code,
assignment with a terminal's own winning over its group's, tenants kept apart, diffs, secrets sealed and only in
their terminal's bundle, and bundles that the terminal's check accepts with a stable, strong ETag."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from kiosk.config_document import parse_text
from kiosk.dealer_link.bundle import BundleRefused, open_bundle
from provisioning import tenants
from provisioning.config import bundles, store
from provisioning.config.models import ConfigVersion, DealerSigningKey, GatewaySecret
from provisioning.config.vault import vault_of
from provisioning.db.models import AuditEntry
from provisioning.identity.ca import CAFiles

SECRET = "only-for-10001-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def ca(dealer_state):  # type: ignore[no-untyped-def]
    return CAFiles(dealer_state.ca_dir).load()


@pytest.fixture
def fleet(database):  # type: ignore[no-untyped-def]
    """Two dealers; acme has terminals 10001 (group centre), 10002 (group centre) and 10003 (no group)."""
    slug = f"acme{uuid.uuid4().hex[:6]}"
    with database.session() as session:
        acme = tenants.create_dealer(session, slug, "Acme")
        other = tenants.create_dealer(session, f"o{slug}", "Other")
        terminals = {n: tenants.add_terminal(session, acme, n, "street", "Europe/Moscow", "centre" if n != "10003"
                                             else "", "test").id for n in ("10001", "10002", "10003")}
        foreign = tenants.add_terminal(session, other, "10001", "street", "Europe/Moscow", "", "test").id
    return {"acme": acme.id, "slug": slug, "other": other.id, "terminals": terminals, "foreign": foreign}


def _fee(text: str, fee: dict[str, object]) -> str:
    document = parse_text(text)
    document["catalog"]["providers"][0]["fee"] = fee
    return store.render(document)


def test_a_version_the_terminal_would_refuse_is_refused_naming_the_key(database, fleet):
    with database.session() as session:
        document = store.create_document(session, fleet["acme"], "main", "boss")
        first = store.latest(session, document)
        assert first is not None and first.number == 1
        with pytest.raises(store.StoreError) as bad:
            store.save_version(session, document, _fee(first.body, {"kind": "percent", "percent": "2,5"}), "boss")
        assert bad.value.field == "catalog.providers[0].fee.percent" and "quoted decimal" in bad.value.message
        with pytest.raises(store.StoreError) as low:
            text = first.body.replace("max_operation = 15000", "max_operation = 5")
            store.save_version(session, document, text, "boss")
        assert low.value.field == "limits.max_operation"
        with pytest.raises(store.StoreError) as size:
            store.save_version(session, document, first.body + "\n[screen]\nwidth = 800\n", "boss")
        assert size.value.field in ("", "screen")  # TOML refuses a second [screen]; either way nothing is saved
        second = store.save_version(session, document, _fee(first.body, {"kind": "fixed", "amount": 5}), "boss",
                                    "five roubles")
        assert second.number == 2 and [v.number for v in store.versions(session, document)] == [2, 1]
        changes = store.field_diff(first.body, second.body)
        assert ("catalog.providers[0].fee.kind", '"none"', '"fixed"') in changes
        assert ("catalog.providers[0].fee.amount", "", "5") in changes
        unified = store.unified_diff(first.body, second.body, ("v1", "v2"))
        assert unified.startswith("--- v1\n+++ v2\n") and '-kind = "none"\n+kind = "fixed"\n+amount = 5\n' in unified
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "config.version",
                                                         AuditEntry.dealer_id == fleet["acme"])
                                .order_by(AuditEntry.id.desc())).first()
        assert audit is not None and "main v2" in audit.target and "fixed" in audit.after and "none" in audit.before
        with pytest.raises(store.StoreError):
            store.create_document(session, fleet["acme"], "main", "boss")  # names are unique per dealer


def test_a_terminal_assignment_wins_over_its_group_and_tenants_stay_apart(database, fleet):
    from provisioning.db.models import Terminal

    with database.session() as session:
        document = store.create_document(session, fleet["acme"], "groups", "boss")
        one = store.latest(session, document)
        two = store.save_version(session, document, _fee(one.body, {"kind": "fixed", "amount": 3}), "boss")
        t1, t2, t3 = (session.get(Terminal, fleet["terminals"][n]) for n in ("10001", "10002", "10003"))
        store.assign(session, fleet["acme"], one.id, "boss", group_id=t1.group_id)
        store.assign(session, fleet["acme"], two.id, "boss", terminal_id=t2.id)
        assert bundles.assigned_version(session, t1).id == one.id  # from its group
        assert bundles.assigned_version(session, t2).id == two.id  # its own wins
        assert bundles.assigned_version(session, t3) is None  # no group, nothing assigned
        store.assign(session, fleet["acme"], two.id, "boss", group_id=t1.group_id)  # reassigning replaces
        assert bundles.assigned_version(session, t1).id == two.id
        with pytest.raises(store.StoreError):
            store.assign(session, fleet["other"], two.id, "intruder", terminal_id=fleet["foreign"])
        with pytest.raises(store.StoreError):
            store.assign(session, fleet["acme"], two.id, "boss", terminal_id=fleet["foreign"])
        assign = session.scalars(select(AuditEntry).where(AuditEntry.action == "config.assign",
                                                          AuditEntry.dealer_id == fleet["acme"])
                                 .order_by(AuditEntry.id.desc())).first()
        assert assign.before == "groups v1" and assign.after == "groups v2" and assign.target == "group centre"


def test_secrets_are_sealed_and_go_only_into_their_terminals_signed_bundle(database, fleet, ca, dealer_state):
    from provisioning.db.models import Terminal

    vault = vault_of(dealer_state.state_dir)
    with database.session() as session:
        document = store.create_document(session, fleet["acme"], "secrets", "boss")
        version = store.latest(session, document)
        t1, t3 = session.get(Terminal, fleet["terminals"]["10001"]), session.get(Terminal, fleet["terminals"]["10003"])
        for terminal in (t1, t3):
            store.assign(session, fleet["acme"], version.id, "boss", terminal_id=terminal.id)
        store.set_secret(session, t1, "main", "password", SECRET, "boss", vault)
        with pytest.raises(store.StoreError):
            store.set_secret(session, t1, "main", "pass word", SECRET, "boss", vault)
        row = session.scalar(select(GatewaySecret).where(GatewaySecret.terminal_id == t1.id))
        assert SECRET.encode() not in row.ciphertext and vault.open(row.ciphertext) == SECRET
        assert [(s.gateway, s.name, s.set_by) for s in store.secrets_set(session, t1)] == [("main", "password", "boss")]

        bundle = bundles.build(session, ca, t1, vault)
        again = bundles.build(session, ca, t1, vault)
        assert bundle is not None and again is not None
        assert again.body == bundle.body and again.etag == bundle.etag  # deterministic: a strong ETag
        payload = open_bundle(bundle.body, ca.pem, fleet["slug"], "10001")
        assert payload["secrets"] == {"main": {"password": SECRET}} and payload["version"] == version.id
        assert payload["label"] == "secrets v1" and payload["document"] == parse_text(version.body)
        other = bundles.build(session, ca, t3, vault)
        assert other is not None and SECRET.encode() not in other.body
        with pytest.raises(BundleRefused, match="not 10003|for terminal"):
            open_bundle(bundle.body, ca.pem, fleet["slug"], "10003")  # another terminal's bundle
        with pytest.raises(BundleRefused, match="not for this terminal's dealer"):
            open_bundle(bundle.body, ca.pem, "someone-else", "10001")
        assert session.scalar(select(DealerSigningKey).where(DealerSigningKey.dealer_id == fleet["acme"]))
        store.set_secret(session, t1, "main", "password", SECRET + "-new", "boss", vault)
        assert bundles.build(session, ca, t1, vault).etag != bundle.etag  # a new secret: a new bundle
        texts = [f"{a.target} {a.before} {a.after} {a.reason}" for a in session.scalars(select(AuditEntry))]
        assert texts and not any(SECRET in text for text in texts)
        assert any('"set": true' in text for text in texts)


def test_versions_are_kept_immutable_per_document(database, fleet):
    with database.session() as session:
        document = store.create_document(session, fleet["acme"], "history", "boss")
        first = store.latest(session, document)
        store.save_version(session, document, _fee(first.body, {"kind": "fixed", "amount": 1}), "a")
        store.save_version(session, document, _fee(first.body, {"kind": "fixed", "amount": 2}), "b")
        rows = session.scalars(select(ConfigVersion).where(ConfigVersion.document_id == document.id)
                               .order_by(ConfigVersion.number)).all()
        assert [(r.number, r.author) for r in rows] == [(1, "boss"), (2, "a"), (3, "b")]
        assert rows[0].body == first.body
