"""The dealer service's suite runs on SQLite and on PostgreSQL (a database of its own per module, dropped after).

With CI=true, PostgreSQL must be reachable and its tests must have run, or the session fails (the check is in
tests/conftest.py: under pytest-xdist only the root conftest is loaded where all workers' reports meet)."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from provisioning.cli import init
from provisioning.db import Database
from provisioning.settings import Settings

PG_ADMIN_URL = os.environ.get("KIOSK_DEALER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _pg_admin():  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)


def _pg_reachable() -> str:
    try:
        with _pg_admin():
            return ""
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable", with its reason
        return str(exc)


# Worker threads of a module-scoped server's or browser's event loop (request workers, the loop's executor):
# they end with their loop, which the per-module check below waits for.
SHARED_LOOP_THREADS = ("AnyIO worker thread", "asyncio_")


@pytest.fixture(autouse=True)
def no_thread_leaks() -> Iterator[None]:
    """Like the suite's check, except for the worker threads of this module's shared server (checked below)."""
    before = {t.ident for t in threading.enumerate()}
    yield
    deadline = time.monotonic() + 2.5
    while True:
        extra = [t.name for t in threading.enumerate() if t.ident not in before and t.is_alive()
                 and not t.name.startswith(SHARED_LOOP_THREADS)]
        if not extra:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"threads left running: {extra}")
        time.sleep(0.05)


@pytest.fixture(scope="module", autouse=True)
def no_thread_leaks_per_module() -> Iterator[None]:
    """After a module (and its shared server) is torn down, no thread it started may remain."""
    before = {t.ident for t in threading.enumerate()}
    yield
    deadline = time.monotonic() + 15
    while True:
        extra = [t.name for t in threading.enumerate() if t.ident not in before and t.is_alive()]
        if not extra:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"threads left running after the module: {extra}")
        time.sleep(0.1)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, empty database for this module: SQLite in a temporary folder, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'dealer.sqlite'}"
        return
    problem = _pg_reachable()
    if problem:
        if IN_CI:
            pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is not reachable in CI: {problem}")
        pytest.skip(f"PostgreSQL not reachable: {problem}")
    name = f"kiosk_dealer_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with _pg_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def dealer_state(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """`kiosk-dealer init` into a temporary state folder against this module's database."""
    state = tmp_path_factory.mktemp("dealer-state")
    return init(state, db_url, dev=False, hosts=["127.0.0.1", "localhost"], out=open(os.devnull, "w"))


@pytest.fixture(scope="module")
def database(dealer_state: Settings) -> Iterator[Database]:
    """A connection pool to the module's database."""
    db = Database(dealer_state.db_url)
    yield db
    db.close()
