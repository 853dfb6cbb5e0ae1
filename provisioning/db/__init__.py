"""The dealer service's database: engine, sessions and migrations (SQLite by default, PostgreSQL for fleets)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"
T = TypeVar("T")


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
        self._write_engine: Engine | None = None

    @property
    def is_postgresql(self) -> bool:
        """Whether row locks with SKIP LOCKED and advisory locks are available."""
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends normally, rolled back when it raises."""
        with self._sessions() as session, session.begin():
            yield session

    @property
    def write_engine(self) -> Engine:
        """For single-statement writes on the hot path (heartbeats). PostgreSQL: autocommit (the statement is its own
        transaction: no BEGIN/COMMIT round trips) and no ping before each use (a dropped connection fails one request
        and the pool is renewed). SQLite: the ordinary engine, whose transactions these writes use."""
        if not self.is_postgresql:
            return self.engine
        if self._write_engine is None:
            self._write_engine = create_engine(self.url, isolation_level="AUTOCOMMIT", pool_size=10, max_overflow=20)
        return self._write_engine

    def read(self, work: Callable[[Session], T]) -> T:
        """Run a read-only `work(session)` with the fewest round trips: on PostgreSQL on the autocommit engine (no
        ping, no BEGIN, no COMMIT: one round trip per statement), tried once more on a fresh connection when the
        pooled one turns out dead (a read is safe to repeat). SQLite: an ordinary session."""
        if not self.is_postgresql:
            with self.session() as session:
                return work(session)
        for attempt in (1, 2):
            try:
                with Session(self.write_engine) as session:
                    return work(session)
            except DBAPIError as exc:
                if attempt == 2 or not exc.connection_invalidated:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
        if self._write_engine is not None:
            self._write_engine.dispose()


# Every area's tables join Base.metadata here, so migrations' checks and drop_all see the whole schema.
from provisioning import link_events as _link_events  # noqa: E402,F401
from provisioning.charges import models as _charges_models  # noqa: E402,F401
from provisioning.commands import models as _commands_models  # noqa: E402,F401
from provisioning.config import models as _config_models  # noqa: E402,F401
from provisioning.corrections import models as _corrections_models  # noqa: E402,F401
from provisioning.journal import models as _journal_models  # noqa: E402,F401
from provisioning.monitor import models as _monitor_models  # noqa: E402,F401
from provisioning.registries import models as _registries_models  # noqa: E402,F401
from provisioning.themes import models as _themes_models  # noqa: E402,F401
from provisioning.updates import models as _updates_models  # noqa: E402,F401
