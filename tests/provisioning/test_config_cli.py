"""`kiosk-dealer config …` and `kiosk-dealer group …` on SQLite and PostgreSQL: validation by the terminal's own
loaders (errors naming the key), versions, diffs, assignment to a terminal or a group (the group's terminals get
it in their bundles), key rotation, secret deletion, and groups created, renamed, moved between and deleted — each
change audited, each mistake a clear error."""

from __future__ import annotations

import json

from cryptography import x509
from sqlalchemy import select
from test_dealer_cli import _run

from kiosk.dealer_link.bundle import GENERATION_URN, open_bundle
from provisioning.config import bundles
from provisioning.config.vault import vault_of
from provisioning.db.models import AuditEntry, Terminal, TerminalGroup
from provisioning.identity.ca import CAFiles


def test_config_commands_validate_version_diff_assign_and_rotate(dealer_state, database, capsys, tmp_path):
    state = str(dealer_state.state_dir)

    def run(*argv: str) -> tuple[int, str, str]:
        return _run(capsys, "--state", state, *argv)

    assert run("dealer", "add", "cli-config")[0] == 0
    for number, group in (("7001", "north"), ("7002", "north"), ("7003", "")):
        assert run("terminal", "add", "--dealer", "cli-config", "--number", number, "--group", group)[0] == 0
    from kiosk.config_document import starter
    from provisioning.config.store import render

    good = tmp_path / "fleet.toml"
    document = starter()
    good.write_text(render(document))
    bad = tmp_path / "bad.toml"
    document["limits"]["max_operation"] = 5
    bad.write_text(render(document))

    code, _, err = run("config", "validate", str(bad))
    assert code == 1 and err.strip() == f"{bad}: limits.max_operation: must not be below min_operation (10.00)"
    code, _, err = run("config", "validate", str(tmp_path / "absent.toml"))
    assert code == 2 and "absent.toml: cannot read it" in err
    assert run("config", "validate", str(good)) == (0, f"{good}: valid\n", "")
    code, _, err = run("config", "validate", str(good), "--save", "fleet")
    assert code == 2 and "--save needs --dealer" in err
    code, out, _ = run("config", "validate", str(good), "--save", "fleet", "--dealer", "cli-config")
    assert code == 0 and out.strip().endswith("saved as fleet v1")
    document["limits"]["max_operation"] = 14000
    document.setdefault("service", {})["pin_sha256"] = "0" * 64
    good.write_text(render(document))
    code, out, _ = run("config", "validate", str(good), "--save", "fleet", "--dealer", "cli-config",
                       "--comment", "lower limit")
    assert code == 0 and "saved as fleet v2" in out
    assert run("config", "validate", str(bad), "--save", "fleet", "--dealer", "cli-config")[0] == 1  # not saved

    code, out, _ = run("config", "list", "--dealer", "cli-config")
    assert code == 0 and out.splitlines()[0].startswith("fleet\tv2\tcli:")
    code, out, _ = run("config", "show", "fleet", "--version", "1", "--dealer", "cli-config")
    assert code == 0 and "max_operation = 15000" in out
    code, out, _ = run("config", "show", "fleet", "--dealer", "cli-config")
    assert "max_operation = 14000" in out and "0" * 64 not in out and '"(hidden)"' in out
    code, out, _ = run("config", "diff", "fleet", "1", "2", "--dealer", "cli-config")
    assert code == 0 and "-max_operation = 15000\n+max_operation = 14000\n" in out and "0" * 64 not in out
    code, out, _ = run("config", "diff", "fleet", "1", "2", "--keys", "--dealer", "cli-config")
    assert "limits.max_operation\t15000\t14000" in out
    code, _, err = run("config", "diff", "fleet", "1", "9", "--dealer", "cli-config")
    assert code == 2 and "configuration 'fleet' has no version 9 (it has 1, 2)" in err
    code, _, err = run("config", "show", "nothing", "--dealer", "cli-config")
    assert code == 2 and "no configuration named 'nothing'" in err

    # The group gets version 1, terminal 7002 its own version 2 (which wins over its group's).
    code, out, _ = run("config", "assign", "fleet", "--version", "1", "--group", "north", "--dealer", "cli-config")
    assert code == 0 and out.strip() == "fleet v1 assigned to group north"
    assert run("config", "assign", "fleet", "--terminal", "7002", "--dealer", "cli-config")[0] == 0
    code, _, err = run("config", "assign", "fleet", "--group", "south", "--dealer", "cli-config")
    assert code == 2 and "no group named 'south'" in err
    code, _, err = run("config", "assign", "fleet", "--terminal", "9999", "--dealer", "cli-config")
    assert code == 2 and "no terminal '9999' at dealer cli-config" in err
    code, out, _ = run("config", "list", "--dealer", "cli-config")
    assert "assigned\tgroup north\tfleet v1" in out and "assigned\tterminal 7002\tfleet v2" in out

    ca = CAFiles(dealer_state.ca_dir).load()
    vault = vault_of(dealer_state.state_dir)

    def bundle_of(number: str) -> dict:
        with database.session() as session:
            terminal = session.scalar(select(Terminal).where(Terminal.number == number))
            built = bundles.build(session, ca, terminal, vault)
            assert built is not None
            return dict(json.loads(built.body))

    payload = open_bundle(json.dumps(bundle_of("7001")).encode(), ca.pem, "cli-config", "7001")
    assert payload["document"]["limits"]["max_operation"] == 15000 and payload["sequence"] == 1
    assert open_bundle(json.dumps(bundle_of("7002")).encode(), ca.pem, "cli-config", "7002")["document"][
        "limits"]["max_operation"] == 14000

    # Rotation: a new key of the next generation, named in its certificate; the bundle is signed anew with it.
    before = bundle_of("7001")["signer"]
    code, out, _ = run("config", "rotate-key", "--dealer", "cli-config")
    assert code == 0 and "generation 2" in out
    after = bundle_of("7001")["signer"]
    assert after != before
    uris = x509.load_pem_x509_certificate(after.encode()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value.get_values_for_type(x509.UniformResourceIdentifier)
    assert f"{GENERATION_URN}2" in uris
    again = open_bundle(json.dumps(bundle_of("7001")).encode(), ca.pem, "cli-config", "7001")
    assert again["sequence"] == 1  # the same content: the same sequence, only the signature is new

    code, _, err = run("config", "delete-secret", "--terminal", "7001", "main", "password", "--dealer", "cli-config")
    assert code == 2 and "terminal 7001 has no secret main.password" in err
    with database.session() as session:
        actions = [e.action for e in session.scalars(select(AuditEntry).where(AuditEntry.actor.like("cli:%"))
                                                     .order_by(AuditEntry.id))]
    assert actions.count("config.create") == 1 and actions.count("config.version") == 2
    assert actions.count("config.assign") == 2
    assert "config.key_rotate" in actions


def test_group_commands_create_rename_move_and_delete_only_empty_groups(dealer_state, database, capsys):
    state = str(dealer_state.state_dir)

    def run(*argv: str) -> tuple[int, str, str]:
        return _run(capsys, "--state", state, *argv, "--dealer", "cli-groups")

    assert _run(capsys, "--state", state, "dealer", "add", "cli-groups")[0] == 0
    for number in ("8001", "8002", "8003"):
        assert _run(capsys, "--state", state, "terminal", "add", "--dealer", "cli-groups", "--number", number,
                    "--group", "west")[0] == 0
    assert run("group", "create", "east")[0] == 0
    code, _, err = run("group", "create", "east")
    assert code == 2 and "a group named 'east' exists already" in err
    code, _, err = run("group", "create", " ")
    assert code == 2 and "name: expected a name of 1 to 100 characters" in err
    code, out, _ = run("group", "move", "8001", "8002", "--to", "east")
    assert code == 0 and out.strip() == "2 terminal(s) moved to group east"
    code, _, err = run("group", "move", "8003", "9999", "--to", "east")
    assert code == 2 and "no terminal(s) 9999" in err  # nothing moved
    code, _, err = run("group", "delete", "west")
    assert code == 2 and "group 'west' still holds 1 terminal(s): move them to another group (or to none) first" \
        in err
    assert run("group", "move", "8003", "--none")[0] == 0
    assert run("group", "rename", "east", "centre")[0] == 0
    code, _, err = run("group", "rename", "nowhere", "x")
    assert code == 2 and "no group named 'nowhere'" in err
    assert run("group", "delete", "west")[0] == 0
    code, out, _ = run("group", "list")
    assert code == 0 and out == "centre\t2 terminal(s)\t-\n"
    with database.session() as session:
        rows = dict(session.execute(select(Terminal.number, TerminalGroup.name).outerjoin(
            TerminalGroup, Terminal.group_id == TerminalGroup.id).where(Terminal.number.in_(["8001", "8002",
                                                                                             "8003"]))).all())
        audit = [(e.action, e.target) for e in session.scalars(select(AuditEntry).where(
            AuditEntry.action.like("group.%")).order_by(AuditEntry.id))]
    assert rows == {"8001": "centre", "8002": "centre", "8003": None}
    # a theme for a group: every terminal in it now
    import test_portal_authorization as authz

    with database.session() as session:
        pack = authz._theme_pack(session, tenants_dealer_id(session, "cli-groups"))
    code, out, _ = run("group", "theme", "centre", "--pack", str(pack))
    assert code == 0 and out.strip() == f"theme pack {pack} assigned to 2 terminal(s) of group centre"
    code, _, err = run("group", "theme", "centre", "--pack", "999999")
    assert code == 2 and "pack: no such theme pack" in err
    with database.session() as session:
        from provisioning.themes.models import TerminalTheme

        themed = set(session.scalars(select(Terminal.number).join(TerminalTheme, TerminalTheme.terminal_id ==
                                                                  Terminal.id).where(TerminalTheme.pack_id == pack)))
    assert themed == {"8001", "8002"}
    # the updates' pilot group is not deleted from under the updates either, even when empty
    assert run("group", "create", "pilot")[0] == 0
    from provisioning.updates.models import UpdateChannel

    with database.session() as session:
        dealer_id = session.scalar(select(TerminalGroup.dealer_id).where(TerminalGroup.name == "pilot"))
        session.add(UpdateChannel(dealer_id=dealer_id, pilot_group_id=session.scalar(
            select(TerminalGroup.id).where(TerminalGroup.name == "pilot", TerminalGroup.dealer_id == dealer_id))))
    code, _, err = run("group", "delete", "pilot")
    assert code == 2 and "group 'pilot' is the pilot group for updates: choose another first" in err
    assert audit == [("group.create", "group east"), ("group.move", "group east"), ("group.move", "no group"),
                     ("group.rename", "group centre"), ("group.delete", "group west")]


def tenants_dealer_id(session, slug: str) -> int:
    """The id of a dealer by its short name."""
    from provisioning import tenants

    return tenants.dealer_by_slug(session, slug).id
