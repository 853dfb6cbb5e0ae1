"""Database.read, the lookups' fast path, on SQLite and PostgreSQL: it reads what a session reads, and on
PostgreSQL a pooled connection that died (a server restart, a killed backend) costs one silent retry, not an error."""

from __future__ import annotations

from sqlalchemy import select, text

from provisioning import tenants
from provisioning.db.models import Dealer


def test_a_read_sees_committed_rows_and_survives_a_dead_pooled_connection(database):
    with database.session() as session:
        tenants.create_dealer(session, "readers", "Readers")
    assert database.read(lambda s: s.scalar(select(Dealer.name).where(Dealer.slug == "readers"))) == "Readers"
    if not database.is_postgresql:
        return
    pid = database.read(lambda s: s.scalar(text("SELECT pg_backend_pid()")))
    with database.engine.connect() as admin:
        assert admin.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}) is True
    # the pooled connection is dead now; the read runs again on a new one
    assert database.read(lambda s: s.scalar(select(Dealer.name).where(Dealer.slug == "readers"))) == "Readers"
    assert database.read(lambda s: s.scalar(text("SELECT pg_backend_pid()"))) != pid
