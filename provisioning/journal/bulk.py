"""PostgreSQL's fast path for an upload batch: COPY the rows into a session-local staging table, then one
INSERT … SELECT … ON CONFLICT into the real table — one round trip of data and one statement per table, where an
INSERT per row would cost a statement each (bench/journal_upload.py measures it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table

_STAGED = "journal_stages"  # key in the pooled connection's info: staging tables this database session has


def copy_upsert(connection: Connection, table: Table, rows: list[dict[str, Any]], key: tuple[str, ...],
                updates: tuple[str, ...]) -> None:
    """Insert rows through a staging table; on a key seen before, a later change (higher change_seq) wins."""
    columns = list(rows[0])
    names = ", ".join(columns)
    stage = f"{table.name}_stage"
    pooled = connection.connection
    raw = pooled.driver_connection
    assert raw is not None
    staged: set[str] = pooled.info.setdefault(_STAGED, set())
    with raw.cursor() as cursor:
        if stage not in staged:
            # Temporary: per database session, so concurrent requests never share one; created once per pooled
            # connection. PostgreSQL empties it at commit only in transactions that touched it.
            cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "
                           f"SELECT {names} FROM {table.name} WITH NO DATA")
            staged.add(stage)
        with cursor.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(tuple(row.values()))
        if updates:
            changes = ", ".join(f"{c} = EXCLUDED.{c}" for c in updates)
            conflict = f"DO UPDATE SET {changes} WHERE {table.name}.change_seq < EXCLUDED.change_seq"
        else:
            conflict = "DO NOTHING"
        # One round trip: the upsert, then the stage emptied for another batch in the same transaction.
        cursor.execute(f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {stage} "
                       f"ON CONFLICT ({', '.join(key)}) {conflict}; TRUNCATE {stage}")
