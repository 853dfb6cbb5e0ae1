"""Journal schema and its migrations; the version lives in SQLite's user_version."""

from __future__ import annotations

import sqlite3

from kiosk.errors import SchemaTooNewError

# Tables the dealer service receives (journal upload), parents before children: a backfilled journal numbers an
# operation before its bills, so the service always knows an operation before anything that belongs to it.
UPLOADED = ("operations", "bills", "attempts", "incidents", "encashments")


def _change_sequence() -> tuple[str, ...]:
    """v5: every insert or update of an uploaded row takes the next number of one journal-wide change sequence.

    The dealer service acknowledges a position in this sequence (never wall time, which a terminal's clock can
    get wrong), so an upload resumes exactly where the last acknowledged one ended. Triggers number the rows in
    the writing transaction itself: no payment code changes, and a journal written by an older kiosk is
    numbered once, here, oldest rows first.
    """
    steps = ["CREATE TABLE change_seq (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL)",
             "INSERT INTO change_seq (id, value) VALUES (1, 0)"]
    for table in UPLOADED:
        steps += [
            f"ALTER TABLE {table} ADD COLUMN change_seq INTEGER",
            f"UPDATE {table} SET change_seq = rowid + (SELECT value FROM change_seq)",
            f"UPDATE change_seq SET value = MAX(value, (SELECT COALESCE(MAX(change_seq), 0) FROM {table}))",
            f"CREATE INDEX {table}_by_change ON {table} (change_seq)",
            # The inner UPDATE changes change_seq, so the update trigger's WHEN stops it from numbering twice.
            f"""CREATE TRIGGER {table}_numbered_insert AFTER INSERT ON {table} BEGIN
                UPDATE change_seq SET value = value + 1 WHERE id = 1;
                UPDATE {table} SET change_seq = (SELECT value FROM change_seq WHERE id = 1) WHERE rowid = NEW.rowid;
            END""",
            f"""CREATE TRIGGER {table}_numbered_update AFTER UPDATE ON {table}
                WHEN NEW.change_seq IS OLD.change_seq BEGIN
                UPDATE change_seq SET value = value + 1 WHERE id = 1;
                UPDATE {table} SET change_seq = (SELECT value FROM change_seq WHERE id = 1) WHERE rowid = NEW.rowid;
            END""",
        ]
    return tuple(steps)


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
    _change_sequence(),
    (
        # fiscal-flow (issue 18): every fiscal document the registrar is asked for. The intent (with the fiscal
        # drive's last FD number before the command) is journaled before the command is sent, so after a lost
        # reply or a crash the terminal asks the drive whether the document was made instead of making another.
        """CREATE TABLE fiscal_documents (
            id INTEGER PRIMARY KEY,
            operation INTEGER REFERENCES operations (operation),
            kind TEXT NOT NULL,
            state TEXT NOT NULL,
            fn TEXT,
            last_fd INTEGER,
            fd INTEGER,
            fp INTEGER,
            total INTEGER,
            at TEXT,
            qr TEXT,
            error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX fiscal_documents_by_operation ON fiscal_documents (operation)",
        "CREATE INDEX fiscal_documents_by_state ON fiscal_documents (state)",
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
