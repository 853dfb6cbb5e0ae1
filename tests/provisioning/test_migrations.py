"""Alembic: the schema is reached from every earlier revision, with data in place, and matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

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
