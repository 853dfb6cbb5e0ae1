"""The dealer service's database: engine, sessions and migrations (SQLite by default, PostgreSQL for fleets)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str, **options: Any) -> Engine:
    """An engine for a database URL; SQLite gets WAL, foreign keys and a busy timeout (several servers share it)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **options)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.close()

        return engine
    options.setdefault("pool_size", 10)
    options.setdefault("max_overflow", 20)
    return create_engine(url, pool_pre_ping=True, **options)


def alembic_config(engine: Engine) -> AlembicConfig:
    """Alembic's configuration pointed at this package's migrations and the given engine."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to a revision (the newest by default)."""
    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


class Database:
    """An engine plus a session factory; `with db.session() as s:` commits on success, rolls back on error."""

    def __init__(self, url: str, **options: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **options)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_postgresql(self) -> bool:
        """Whether row locks with SKIP LOCKED and advisory locks are available."""
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends normally, rolled back when it raises."""
        with self._sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
