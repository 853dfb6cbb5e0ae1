"""Alembic environment: migrations run on the engine the service hands over (never on a URL in a file)."""

from __future__ import annotations

from alembic import context

from provisioning.db.models import Base

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
