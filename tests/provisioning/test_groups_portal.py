"""The groups page, secret deletion and signing-key rotation in the portal (in process, SQLite and PostgreSQL):
groups created, renamed, filled and emptied, deleted only when empty, given a configuration (their terminals'
bundles carry it) and a theme; a deleted secret is gone from the page, the table and the next bundle; each change
audited, none reaching another dealer's things, read-only for support."""

from __future__ import annotations

import json

import test_portal_authorization as authz
from sqlalchemy import select

from kiosk.dealer_link.bundle import open_bundle
from provisioning import tenants
from provisioning.config import bundles, store
from provisioning.config.models import ConfigAssignment, DealerSigningKey, GatewaySecret
from provisioning.config.vault import vault_of
from provisioning.db.models import AuditEntry, Terminal, TerminalGroup
from provisioning.identity.ca import CAFiles
from provisioning.themes.models import TerminalTheme

world, app, _client, _csrf = authz.world, authz.app, authz._client, authz._csrf
SECRET = "group-page-secret-4711"  # noqa: S105


def _group_id(database, name: str) -> int:
    with database.session() as session:
        return int(session.scalar(select(TerminalGroup.id).where(TerminalGroup.name == name)))


def test_groups_are_made_filled_configured_and_deleted_only_when_empty(app, database, world, dealer_state):
    with database.session() as session:
        acme = tenants.dealer_by_slug(session, "acme")
        for number in ("G-1", "G-2", "G-3"):
            tenants.add_terminal(session, acme, number, "", "Europe/Moscow", "", "t")
        document = store.create_document(session, acme.id, "groups-config", "t")
        version_id = store.latest(session, document).id
        pack_id = authz._theme_pack(session, acme.id)
    admin = _client(app, "admin@acme.test")
    csrf = _csrf(admin)
    post = lambda **form: admin.post("/groups", data={"csrf": csrf, **form})  # noqa: E731

    assert post(action="create", name="north").status_code == 303
    again = post(action="create", name="north")
    assert again.status_code == 400 and "name: a group named &#39;north&#39; exists already" in again.text
    north = _group_id(database, "north")
    moved = admin.post("/groups", data={"csrf": csrf, "action": "move", "group": str(north),
                                        "terminals": ["G-1", "G-2"]})
    assert moved.status_code == 303
    assert post(action="move", group=str(north), terminals="R-1").status_code == 400  # the rival's: not found
    assert post(action="config", group=str(north), version=str(version_id)).status_code == 303
    assert post(action="theme", group=str(north), pack=str(pack_id)).status_code == 303
    assert post(action="theme", group=str(north), pack=str(world["rival_pack"])).status_code == 400
    assert post(action="rename", group=str(north), name="centre").status_code == 303
    page = admin.get("/groups").text
    assert "<th scope=\"row\">centre</th>" in page and "2: G-1, G-2" in page and "groups-config v1" in page

    with database.session() as session:
        terminals = {t.number: t for t in session.scalars(select(Terminal).where(Terminal.number.like("G-%")))}
        assert session.scalar(select(ConfigAssignment.version_id).where(ConfigAssignment.group_id == north)) \
            == version_id
        themed = set(session.scalars(select(TerminalTheme.terminal_id).where(TerminalTheme.pack_id == pack_id)))
        assert themed == {terminals["G-1"].id, terminals["G-2"].id}
        built = bundles.build(session, CAFiles(dealer_state.ca_dir).load(), terminals["G-1"],
                              vault_of(dealer_state.state_dir))
        assert built is not None and built.version_id == version_id  # the group's configuration reaches it
        assert bundles.build(session, CAFiles(dealer_state.ca_dir).load(), terminals["G-3"],
                             vault_of(dealer_state.state_dir)) is None

    refused = post(action="delete", group=str(north))
    assert refused.status_code == 400 and "still holds 2 terminal(s)" in refused.text
    assert admin.post("/groups", data={"csrf": csrf, "action": "move", "group": "",
                                       "terminals": ["G-1", "G-2"]}).status_code == 303
    assert post(action="delete", group=str(north)).status_code == 303
    with database.session() as session:
        assert session.get(TerminalGroup, north) is None
        assert session.scalar(select(ConfigAssignment).where(ConfigAssignment.group_id == north)) is None
        actions = [e.action for e in session.scalars(select(AuditEntry).where(
            AuditEntry.actor == "admin@acme.test", AuditEntry.action.like("group.%")).order_by(AuditEntry.id))]
    assert actions == ["group.create", "group.move", "group.rename", "group.move", "group.delete"]

    rival = _client(app, "admin@rival.test")
    assert rival.post("/groups", data={"csrf": _csrf(rival), "action": "create", "name": "x"}).status_code == 303
    x = _group_id(database, "x")
    assert post(action="delete", group=str(x)).status_code == 400  # another dealer's group: no such group
    support = _client(app, "support@acme.test")
    assert support.get("/groups").status_code == 200 and 'action="/groups"' not in support.get("/groups").text
    assert support.post("/groups", data={"csrf": _csrf(support), "action": "create", "name": "y"}).status_code == 403


def test_a_deleted_secret_is_gone_from_page_table_and_bundle_and_keys_rotate(app, database, world, dealer_state):
    with database.session() as session:
        acme = tenants.dealer_by_slug(session, "acme")
        terminal = tenants.add_terminal(session, acme, "S-1", "", "Europe/Moscow", "", "t")
        document = store.create_document(session, acme.id, "secrets-config", "t")
        store.assign(session, acme.id, store.latest(session, document).id, "t", terminal_id=terminal.id)
        terminal_id = terminal.id
    admin = _client(app, "admin@acme.test")
    csrf = _csrf(admin)
    url = f"/terminals/{terminal_id}"
    assert admin.post(f"{url}/secrets", data={"csrf": csrf, "gateway": "main", "name": "password",
                                              "value": SECRET}).status_code == 303
    assert 'id="delete-main-password"' in admin.get(f"{url}/config").text
    ca, vault = CAFiles(dealer_state.ca_dir).load(), vault_of(dealer_state.state_dir)

    def payload() -> dict:
        with database.session() as session:
            built = bundles.build(session, ca, session.get(Terminal, terminal_id), vault)
            assert built is not None
            return open_bundle(built.body, ca.pem, "acme", "S-1")

    before = payload()
    assert before["secrets"] == {"main": {"password": SECRET}}
    technician = _client(app, "technician@acme.test")
    assert technician.post(f"{url}/secrets/delete", data={"csrf": _csrf(technician), "gateway": "main",
                                                          "name": "password"}).status_code == 403
    rival = _client(app, "admin@rival.test")
    assert rival.post(f"{url}/secrets/delete", data={"csrf": _csrf(rival), "gateway": "main",
                                                     "name": "password"}).status_code == 404
    deleted = admin.post(f"{url}/secrets/delete", data={"csrf": csrf, "gateway": "main", "name": "password"})
    assert deleted.status_code == 303
    assert admin.post(f"{url}/secrets/delete", data={"csrf": csrf, "gateway": "main",
                                                     "name": "password"}).status_code == 303  # a second click
    page = admin.get(f"{url}/config").text
    assert 'id="delete-main-password"' not in page and SECRET not in page
    after = payload()
    assert after["secrets"] == {} and after["sequence"] == before["sequence"] + 1
    with database.session() as session:
        assert session.scalar(select(GatewaySecret).where(GatewaySecret.terminal_id == terminal_id)) is None
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "config.secret_delete",
                                                           AuditEntry.target == "terminal S-1")).all()
        assert len(entries) == 1 and entries[0].actor == "admin@acme.test" and SECRET not in entries[0].after
        generation = session.get(DealerSigningKey, tenants.dealer_by_slug(session, "acme").id).generation

    # Rotation from the portal: admins only; the page names the new generation; bundles are signed anew.
    assert technician.post("/configs/signing-key", data={"csrf": _csrf(technician)}).status_code == 403
    rotated = admin.post("/configs/signing-key", data={"csrf": csrf})
    assert rotated.status_code == 303 and rotated.headers["location"] == "/configs?rotated=1"
    page = admin.get("/configs?rotated=1").text
    assert f"Generation {generation + 1}, since" in page and 'id="key-rotated"' in page
    assert json.loads(json.dumps(payload())) == after  # same content and sequence, under the new key
    with database.session() as session:
        row = session.get(DealerSigningKey, tenants.dealer_by_slug(session, "acme").id)
        assert row.generation == generation + 1
