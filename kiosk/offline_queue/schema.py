"""Journal schema and its migrations; the version lives in SQLite's user_version."""

from __future__ import annotations

import sqlite3

from kiosk.errors import SchemaTooNewError

# Each entry migrates from version (index) to version (index + 1). Never edit a released step: add one.
MIGRATIONS: list[tuple[str, ...]] = [
    (
        """CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
        """CREATE TABLE operations (
            operation INTEGER PRIMARY KEY,
            terminal TEXT NOT NULL,
            idempotency_key TEXT NOT NULL UNIQUE,
            provider TEXT NOT NULL,
            account TEXT NOT NULL,
            fields TEXT NOT NULL DEFAULT '{}',
            currency TEXT NOT NULL,
            state TEXT NOT NULL,
            cash INTEGER NOT NULL DEFAULT 0,
            fee INTEGER,
            credited INTEGER,
            max_cash INTEGER NOT NULL,
            offline INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            committed_at TEXT,
            finished_at TEXT,
            commit_reason TEXT,
            pinned_gateway TEXT,
            pinned_route TEXT,
            next_attempt_ms INTEGER,
            attempts INTEGER NOT NULL DEFAULT 0,
            gateway TEXT,
            external_id TEXT,
            last_outcome TEXT,
            last_code TEXT,
            last_message TEXT,
            attention_reason TEXT,
            receipt_status TEXT NOT NULL DEFAULT 'none',
            details TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX operations_by_state ON operations (state, next_attempt_ms)",
        """CREATE TABLE bills (
            id INTEGER PRIMARY KEY,
            operation INTEGER NOT NULL REFERENCES operations (operation),
            denomination INTEGER NOT NULL,
            validator TEXT NOT NULL,
            event_id TEXT NOT NULL,
            stacked_at TEXT NOT NULL,
            encashment INTEGER,
            UNIQUE (validator, event_id)
        )""",
        "CREATE INDEX bills_by_operation ON bills (operation)",
        "CREATE INDEX bills_not_encashed ON bills (encashment) WHERE encashment IS NULL",
        """CREATE TABLE attempts (
            id INTEGER PRIMARY KEY,
            operation INTEGER NOT NULL REFERENCES operations (operation),
            gateway TEXT NOT NULL,
            route TEXT NOT NULL,
            verb TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            outcome TEXT,
            code TEXT,
            message TEXT,
            external_id TEXT
        )""",
        "CREATE INDEX attempts_by_operation ON attempts (operation)",
        "CREATE INDEX attempts_open ON attempts (operation) WHERE finished_at IS NULL",
        """CREATE TABLE encashments (
            id INTEGER PRIMARY KEY,
            closed_at TEXT NOT NULL,
            reason TEXT NOT NULL,
            counts TEXT NOT NULL,
            total INTEGER NOT NULL,
            bill_count INTEGER NOT NULL,
            cassette_counts TEXT,
            difference TEXT
        )""",
        """CREATE TABLE incidents (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            kind TEXT NOT NULL,
            operation INTEGER,
            detail TEXT NOT NULL
        )""",
    ),
    (
        # v2: a STACK command is journaled before it is sent, so a crash between it and the "stacked" report
        # leaves a record that this bill's fate is uncertain instead of silence.
        """CREATE TABLE pending_stacks (
            id INTEGER PRIMARY KEY,
            operation INTEGER NOT NULL REFERENCES operations (operation),
            denomination INTEGER NOT NULL,
            validator TEXT NOT NULL,
            commanded_at TEXT NOT NULL
        )""",
        "ALTER TABLE incidents ADD COLUMN amount INTEGER",
    ),
    (
        # v3: a random component journaled when an operation opens, part of every id a processing system sees,
        # so a restored state can never repeat an id for a different payment; and the moment an operation's
        # delivery lifetime counts from (a requeue restarts it).
        "ALTER TABLE operations ADD COLUMN nonce INTEGER",
        "ALTER TABLE operations ADD COLUMN lifetime_from TEXT",
        "CREATE INDEX operations_by_account ON operations (account)",
    ),
    (
        # v4: the CyberPlat SESSION an operation is paid under now (NULL: the one derived from its ids) and the
        # one each attempt carried; a new one is journaled only after pay_status proved the old one unknown.
        "ALTER TABLE operations ADD COLUMN session TEXT",
        "ALTER TABLE attempts ADD COLUMN session TEXT",
    ),
]

SCHEMA_VERSION = len(MIGRATIONS)


def refuse_newer(conn: sqlite3.Connection, path: str) -> int:
    """The journal's schema version; a newer one than we know is refused before anything is written."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"{path}: journal schema version {version} was written by a newer kiosk "
            f"(this one understands up to {SCHEMA_VERSION}); refusing to open it rather than risk the money in it"
        )
    return version


def migrate(conn: sqlite3.Connection, path: str) -> int:
    """Bring the journal to SCHEMA_VERSION; refuse one written by a newer kiosk. Returns the old version."""
    version = refuse_newer(conn, path)
    for step in range(version, SCHEMA_VERSION):
        # One transaction per step: a power cut mid-migration leaves the previous version intact.
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[step]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {step + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return version
