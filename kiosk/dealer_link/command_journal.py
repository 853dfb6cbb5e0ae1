"""The terminal's record of remote commands, so each id runs at most once: written durably before a command runs
(`running`), marked `exiting` just before a restart or reboot ends the process on purpose, then `done` / `failed`
with the result, and `reported` once the service has it. A record left `running` by a previous process is a crash
mid-command: reported as failed with an unknown outcome, never run again."""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS commands (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    arguments TEXT NOT NULL,
    state TEXT NOT NULL,            -- running / exiting / done / failed
    result TEXT NOT NULL DEFAULT '{}',
    png BLOB,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    run TEXT NOT NULL,              -- which start of the terminal began it
    reported INTEGER NOT NULL DEFAULT 0
);
"""
KEEP = 1000  # finished and reported records kept for repeats; older ones are dropped


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True)
class Record:
    """One command as the terminal journaled it."""

    id: str
    kind: str
    arguments: dict[str, Any]
    state: str
    result: dict[str, Any]
    png: bytes | None
    run: str
    reported: bool

    @property
    def finished(self) -> bool:
        """Whether the outcome is known and stored."""
        return self.state in ("done", "failed")


class CommandJournal:
    """A small SQLite file (WAL, synchronous=FULL) beside the terminal's link identity."""

    def __init__(self, path: Path, run: str) -> None:
        self.path, self.run = path, run
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(SCHEMA)

    def _row(self, row: tuple[Any, ...] | None) -> Record | None:
        if row is None:
            return None
        id_, kind, arguments, state, result, png, run, reported = row
        return Record(id_, kind, json.loads(arguments), state, json.loads(result), png, run, bool(reported))

    def get(self, command_id: str) -> Record | None:
        """A command's record, if this terminal ever started it."""
        with self._lock:
            row = self._conn.execute("SELECT id, kind, arguments, state, result, png, run, reported FROM commands "
                                     "WHERE id = ?", (command_id,)).fetchone()
        return self._row(row)

    def begin(self, command_id: str, kind: str, arguments: dict[str, Any]) -> Record | None:
        """Journal a command as running (durably, before it runs); None if it is new, else the existing record
        (and nothing is written): the caller must not run it again."""
        with self._lock:
            inserted = self._conn.execute(
                "INSERT INTO commands (id, kind, arguments, state, started_at, run) VALUES (?, ?, ?, 'running', ?, ?) "
                "ON CONFLICT (id) DO NOTHING", (command_id, kind, json.dumps(arguments), _now(), self.run)).rowcount
        return None if inserted else self.get(command_id)

    def exiting(self, command_id: str) -> None:
        """The command is about to end this process on purpose (restart, reboot): a later start means it worked."""
        with self._lock:
            self._conn.execute("UPDATE commands SET state = 'exiting' WHERE id = ? AND state = 'running'",
                               (command_id,))

    def finish(self, command_id: str, state: str, result: dict[str, Any], png: bytes | None = None) -> None:
        """Store the outcome (done / failed) once; a finished record is never changed."""
        with self._lock:
            self._conn.execute("UPDATE commands SET state = ?, result = ?, png = ?, finished_at = ? "
                               "WHERE id = ? AND state IN ('running', 'exiting')",
                               (state, json.dumps(result, default=str), png, _now(), command_id))

    def reported(self, command_id: str) -> None:
        """The service has the outcome; old reported records are pruned."""
        with self._lock:
            self._conn.execute("UPDATE commands SET reported = 1 WHERE id = ?", (command_id,))
            self._conn.execute("DELETE FROM commands WHERE reported = 1 AND id NOT IN "
                               "(SELECT id FROM commands ORDER BY started_at DESC LIMIT ?)", (KEEP,))

    def left_over(self) -> list[Record]:
        """Records a previous process left unfinished, or finished but never reported."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, kind, arguments, state, result, png, run, reported FROM commands "
                "WHERE (state IN ('running', 'exiting') AND run <> ?) OR (state IN ('done', 'failed') AND reported = 0)"
                " ORDER BY started_at", (self.run,)).fetchall()
        return [r for r in (self._row(row) for row in rows) if r is not None]

    def close(self) -> None:
        """Close the file (idempotent)."""
        with self._lock:
            self._conn.close()
