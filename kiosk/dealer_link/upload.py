"""Journal upload: the terminal sends every journal change after the position its dealer service acknowledged,
in bounded gzip batches, from its own low-priority thread that never takes the payment core's journal lock.

Position = the journal's own change sequence (schema v4), never wall time. The service's reply names the position
it has durably stored; only then is it written here (atomically), so a cut connection resends the same batch and
the service's upsert makes the repeat change nothing.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from kiosk.dealer_link.identity import LinkError
from kiosk.offline_queue.files import write_atomically
from kiosk.offline_queue.schema import UPLOADED

log = logging.getLogger(__name__)

FORMAT = 1
# Rows per request: under a megabyte before gzip, well inside the service's limit. Each request costs the service
# its TLS and signature work (1-3 ms of CPU), so a larger batch spreads that over more operations.
BATCH_ROWS = 2000
PAUSE = 0.2  # seconds between full batches while catching up: at most BATCH_ROWS / PAUSE rows a second
ENCODE_ROWS = 250  # rows JSON-encoded by one call: json.dumps holds the interpreter's lock for the whole call
INTERVAL = 10.0  # seconds between checks once caught up (a payment reaches support within about this)
NICE = 10  # the upload thread's scheduling niceness (Linux: per thread); payments keep the CPU they need

# Children carry their operation's unrepeatable key, so the service files them under the right operation even when
# numbers repeat after a restore. Incidents may have no operation (LEFT JOIN).
_QUERIES = {
    "operations": "SELECT * FROM operations WHERE change_seq > ? ORDER BY change_seq LIMIT ?",
    "bills": "SELECT b.*, o.idempotency_key AS op_key FROM bills b JOIN operations o ON o.operation = b.operation "
             "WHERE b.change_seq > ? ORDER BY b.change_seq LIMIT ?",
    "attempts": "SELECT a.*, o.idempotency_key AS op_key FROM attempts a JOIN operations o "
                "ON o.operation = a.operation WHERE a.change_seq > ? ORDER BY a.change_seq LIMIT ?",
    "incidents": "SELECT i.*, o.idempotency_key AS op_key FROM incidents i LEFT JOIN operations o "
                 "ON o.operation = i.operation WHERE i.change_seq > ? ORDER BY i.change_seq LIMIT ?",
    "encashments": "SELECT * FROM encashments WHERE change_seq > ? ORDER BY change_seq LIMIT ?",
}


@dataclass(frozen=True)
class Batch:
    """Journal changes after `after` up to and including `last`, by table (rows as dicts)."""

    after: int
    last: int
    rows: dict[str, list[dict[str, Any]]]

    @property
    def count(self) -> int:
        """How many rows the batch holds."""
        return sum(len(r) for r in self.rows.values())

    def encode(self, terminal: str) -> bytes:
        """The request body: gzip of one JSON document, written ENCODE_ROWS rows a call so that the payment
        threads get the interpreter between calls (one call for a whole batch held it ~10 ms)."""
        head = _json({"format": FORMAT, "terminal": terminal, "after": self.after, "last": self.last, "rows": {}})
        tables = (f"{_json(table)}:[" + ",".join(_json(rows[i:i + ENCODE_ROWS])[1:-1]
                                                   for i in range(0, len(rows), ENCODE_ROWS)) + "]"
                  for table, rows in self.rows.items())
        return gzip.compress((head[:-2] + ",".join(tables) + "}}").encode(), 6)  # head ends "rows":{}}


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def read_batch(conn: sqlite3.Connection, after: int, limit: int = BATCH_ROWS) -> Batch:
    """The `limit` lowest-numbered changes after `after`, from one consistent snapshot of the journal."""
    conn.execute("BEGIN")  # one read transaction: every table seen at the same moment
    try:
        candidates: list[tuple[int, str, dict[str, Any]]] = []
        for table in UPLOADED:
            for row in conn.execute(_QUERIES[table], (after, limit)):
                record = dict(row)
                candidates.append((int(record["change_seq"]), table, record))
    finally:
        conn.execute("COMMIT")
    # Each table gave its lowest `limit`; the lowest `limit` of them all is an unbroken run of the sequence
    # (one writer at a time numbers whole transactions), so nothing at or below `last` is left behind.
    candidates.sort(key=lambda item: item[0])
    chosen = candidates[:limit]
    rows: dict[str, list[dict[str, Any]]] = {table: [] for table in UPLOADED}
    for _, table, record in chosen:
        rows[table].append(record)
    return Batch(after, chosen[-1][0] if chosen else after, rows)


def open_reader(journal_path: Path) -> sqlite3.Connection:
    """A read-only connection to the live journal (WAL: it never blocks the writer, nor waits for it)."""
    conn = sqlite3.connect(f"file:{quote(str(journal_path))}?mode=ro", uri=True, check_same_thread=False,
                           isolation_level=None, timeout=5)
    conn.row_factory = sqlite3.Row
    return conn


class Position:
    """The acknowledged upload position, kept beside the journal and written atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> int:
        """The last position the service acknowledged (0: nothing yet, or an unreadable file: send again)."""
        return int(self._load().get("acknowledged", 0))

    def floor(self) -> str:
        """The journal's restore floor when the position was written (see JournalUpload._start)."""
        return str(self._load().get("floor", ""))

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
            return data if isinstance(data, dict) and isinstance(data.get("acknowledged", 0), int) else {}
        except (OSError, ValueError):
            return {}

    def write(self, acknowledged: int, floor: str = "") -> None:
        """Store durably (a power cut leaves the old position or the new one: at worst a batch is resent)."""
        write_atomically(self.path, json.dumps({"acknowledged": acknowledged, "floor": floor}).encode())


class JournalUpload:
    """Sends the journal's changes to the dealer service; one batch per call of `step`."""

    def __init__(self, journal_path: Path, terminal: str, send: Callable[[bytes], dict[str, Any]],
                 position: Position | None = None, batch_rows: int = BATCH_ROWS) -> None:
        self.journal_path, self.terminal, self.send = journal_path, terminal, send
        self.position = position or Position(journal_path.with_name(journal_path.name + ".uploaded"))
        self.batch_rows = batch_rows
        self.uploaded = 0  # rows the service acknowledged since this object was made
        self._floor = ""  # the journal's restore floor at the last start of a batch
        self._conn: sqlite3.Connection | None = None

    def _reader(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = open_reader(self.journal_path)
        return self._conn

    def _start(self) -> int:
        after = self.position.read()
        conn = self._reader()
        top = int(conn.execute("SELECT value FROM change_seq WHERE id = 1").fetchone()[0])
        row = conn.execute("SELECT value FROM meta WHERE key = 'number_floor'").fetchone()
        self._floor = "" if row is None else str(row[0])
        if after > top:
            # The journal is younger than the position (replaced or restored): send it all; the service's upsert
            # keeps what it has and adds what is new.
            log.warning("journal upload: acknowledged position %d is past this journal's %d; sending it all",
                        after, top)
            return 0
        if after and self.position.floor() != self._floor:
            # A restore was detected since the position was stored: the numbers after the restored copy's end
            # name other changes now than the ones acknowledged. Everything again; the service keeps what it has.
            log.warning("journal upload: the journal was restored since position %d; sending it all", after)
            return 0
        return after

    def step(self) -> int:
        """Send the next batch; the number of rows the service acknowledged (0: nothing to send)."""
        batch = read_batch(self._reader(), self._start(), self.batch_rows)
        if batch.count == 0:
            return 0
        try:
            reply = self.send(batch.encode(self.terminal))
        except LinkError as exc:
            if "(413)" not in str(exc) or self.batch_rows == 1:
                raise
            # Rows with unusually large details: fewer rows a request, or this batch would be refused forever.
            self.batch_rows = max(1, self.batch_rows // 2)
            log.warning("journal upload: batch too large for the service; %d rows a request from now", self.batch_rows)
            return self.step()
        resend_from = reply.get("resend_from")
        if isinstance(resend_from, int) and not isinstance(resend_from, bool) and resend_from < batch.after:
            # The service holds less than we thought (its database restored): send again from what it holds.
            log.warning("journal upload: the service holds up to %d, not %d; sending again from there",
                        resend_from, batch.after)
            self.position.write(resend_from, self._floor)
            return self.step()
        acknowledged = reply.get("acknowledged")
        if not isinstance(acknowledged, int) or isinstance(acknowledged, bool) or acknowledged != batch.last:
            raise LinkError(f"journal upload: the service acknowledged {acknowledged!r}, expected {batch.last}")
        self.position.write(acknowledged, self._floor)
        self.uploaded += batch.count
        return batch.count

    def catch_up(self, pause: float = 0.0, stop: threading.Event | None = None) -> int:
        """Send batches until nothing is left (or `stop` is set); rows sent."""
        total = 0
        while stop is None or not stop.is_set():
            sent = self.step()
            total += sent
            if sent < self.batch_rows:
                return total
            if pause:
                (stop or threading.Event()).wait(pause)
        return total

    def close(self) -> None:
        """Close the journal connection (idempotent)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class UploadLoop:
    """Runs a JournalUpload in its own thread at low priority: bounded batches, a pause between them, a longer
    wait once caught up or when the service cannot be reached."""

    def __init__(self, upload: JournalUpload, interval: float = INTERVAL, pause: float = PAUSE) -> None:
        self.upload, self.interval, self.pause = upload, interval, pause
        self.last_error = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="journal-upload", daemon=True)

    def start(self) -> UploadLoop:
        """Start uploading (the first batch goes at once)."""
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
        except (AttributeError, OSError):
            pass  # not Linux, or not allowed: the pause between batches still bounds the load
        try:
            while not self._stop.is_set():
                try:
                    self.upload.catch_up(self.pause, self._stop)
                    self.last_error = ""
                except (LinkError, sqlite3.Error, OSError) as exc:
                    self.last_error = str(exc)
                    log.warning("journal upload: %s", exc)
                except Exception as exc:  # the thread outlives any one fault; the next round tries again
                    self.last_error = str(exc)
                    log.exception("journal upload failed")
                self._stop.wait(self.interval)
        finally:
            self.upload.close()

    def close(self) -> None:
        """Stop the loop (a batch in flight finishes or times out)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)


def link_sender(link: Any) -> Callable[[bytes], dict[str, Any]]:
    """Sends a batch over a DealerLink to this terminal's upload route."""
    def send(body: bytes) -> dict[str, Any]:
        result: dict[str, Any] = link.request("POST", f"{link.terminal_path}/journal", content=body,
                                              content_encoding="gzip")
        return result
    return send


def start_upload(link: Any, journal_path: Path, terminal: str) -> UploadLoop:
    """The journal upload beside the heartbeat, on the same authenticated link (a renewed certificate serves both)."""
    return UploadLoop(JournalUpload(journal_path, terminal, link_sender(link))).start()


def wait_until_uploaded(upload: JournalUpload, seconds: float) -> bool:
    """For tests and tools: True once the acknowledged position reaches the journal's newest change."""
    deadline = time.monotonic() + seconds
    conn = open_reader(upload.journal_path)  # its own: the loop's connection belongs to the loop's thread
    try:
        while time.monotonic() < deadline:
            top = int(conn.execute("SELECT value FROM change_seq WHERE id = 1").fetchone()[0])
            if upload.position.read() >= top:
                return True
            time.sleep(0.05)
        return False
    finally:
        conn.close()
