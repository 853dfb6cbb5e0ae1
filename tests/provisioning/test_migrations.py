"""Alembic: the schema is reached from every earlier revision, with data in place, and matches the models."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from provisioning.db import Database, alembic_config, current_revision, upgrade
from provisioning.db.models import Base


def _revisions(db: Database) -> list[str]:
    script = ScriptDirectory.from_config(alembic_config(db.engine))
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def _reset(db: Database) -> None:
    Base.metadata.drop_all(db.engine)
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


def test_upgrade_from_every_earlier_revision_keeps_data_and_matches_models(database):
    revisions = _revisions(database)
    assert revisions[0] == "0001" and len(revisions) >= 2
    for start in [None, *revisions[:-1]]:
        _reset(database)
        if start is not None:
            upgrade(database.engine, start)
            with database.engine.begin() as conn:  # a dealer with a terminal, as a real database would hold
                conn.execute(text("INSERT INTO dealers (id, slug, name, created_at) "
                                  "VALUES (1, 'acme', 'Acme', CURRENT_TIMESTAMP)"))
                conn.execute(text("INSERT INTO terminals (id, dealer_id, number, address, timezone, status, version, "
                                  "created_at) VALUES (1, 1, '10001', 'x', 'Europe/Moscow', 'new', '', "
                                  "CURRENT_TIMESTAMP)"))
        upgrade(database.engine)
        assert current_revision(database.engine) == revisions[-1]
        with database.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == [], f"from {start}"
            if start is not None:
                row = conn.execute(text("SELECT number, online FROM terminals WHERE id = 1")).one()
                assert row[0] == "10001" and not row[1]
    _reset(database)
    upgrade(database.engine)


def test_the_journal_tables_have_no_foreign_keys_and_0019_can_be_undone(database):
    # the upload's terminal and dealer come from the authenticated link; a per-row key check cost a fifth of it.
    # Versions, bills and attempts lose their surrogate id (their natural key is the primary key) and get it back.
    journal = ("journal_operations", "journal_operation_versions", "journal_bills", "journal_attempts",
               "journal_incidents", "journal_encashments")
    _reset(database)
    upgrade(database.engine)
    assert {t: inspect(database.engine).get_foreign_keys(t) for t in journal} == {t: [] for t in journal}
    assert inspect(database.engine).get_pk_constraint("journal_bills")["constrained_columns"] == [
        "terminal_id", "op_key", "local_id"]
    with database.engine.begin() as conn:  # a bill held while the schema goes back and forth
        conn.execute(text("INSERT INTO dealers (id, slug, name, created_at) VALUES (1, 'acme', 'Acme', CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO terminals (id, dealer_id, number, address, timezone, status, version, "
                          "created_at) VALUES (1, 1, '10001', 'x', 'Europe/Moscow', 'new', '', CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO journal_bills (terminal_id, op_key, local_id, denomination, validator, "
                          "stacked_at, change_seq) VALUES (1, 'T10001-1-a', 1, 10000, 'ccnet', 'now', 7)"))
    command.downgrade(alembic_config(database.engine), "0018")
    restored = {t: sorted(k["referred_table"] for k in inspect(database.engine).get_foreign_keys(t)) for t in journal}
    assert restored == {t: ["dealers", "terminals"] if t == "journal_operations" else ["terminals"] for t in journal}
    with database.engine.connect() as conn:
        assert conn.execute(text("SELECT id, op_key FROM journal_bills")).all() == [(1, "T10001-1-a")]
    upgrade(database.engine)
    assert all(inspect(database.engine).get_foreign_keys(t) == [] for t in journal)
    with database.engine.connect() as conn:
        assert conn.execute(text("SELECT op_key, change_seq FROM journal_bills")).all() == [("T10001-1-a", 7)]


def test_0020_rounds_offline_thresholds_up_to_whole_minutes_and_keeps_the_others(database):
    """The rule editor takes minutes now: a stored offline threshold it could not show becomes the next minute
    (never an earlier alert); other kinds keep their units."""
    _reset(database)
    previous = _revisions(database)[_revisions(database).index("0020") - 1]
    upgrade(database.engine, previous)
    with database.engine.begin() as conn:
        for dealer_id in (1, 2):
            conn.execute(text("INSERT INTO dealers (id, slug, name, created_at) VALUES (:id, :slug, 'Acme', "
                              "CURRENT_TIMESTAMP)"), {"id": dealer_id, "slug": f"acme{dealer_id}"})
        for rule_id, dealer_id, kind, threshold in ((1, 1, "offline", 90), (2, 2, "offline", 600),
                                                    (3, 1, "clock_skew", 90), (4, 1, "cassette", 85)):
            conn.execute(text("INSERT INTO alert_rules (id, dealer_id, kind, threshold, enabled) "
                              "VALUES (:id, :dealer, :kind, :threshold, true)"),
                         {"id": rule_id, "dealer": dealer_id, "kind": kind, "threshold": threshold})
    upgrade(database.engine)
    with database.engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT id, threshold FROM alert_rules")).all())
    assert rows == {1: 120, 2: 600, 3: 90, 4: 85}
    _reset(database)
    upgrade(database.engine)
