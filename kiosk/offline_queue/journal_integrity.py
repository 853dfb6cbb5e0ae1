"""The journal's guard on its own history: operation numbers after a restore, a lost journal, the clock."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from kiosk.offline_queue.files import HighWater
from kiosk.offline_queue.journal_writes import JournalWrites

log = logging.getLogger("kiosk.offline_queue.journal")

# How far numbering jumps when a restore is detected by evidence that cannot say how many numbers were lost
# (the validator's counters): far past anything an older copy could have handed out since.
RESTORE_JUMP = 1000
# A clock this far behind the journal's newest entry is a fault worth an incident (not NTP jitter).
CLOCK_BEHIND_SECONDS = 120


class JournalIntegrity(JournalWrites):
    """Restore detection, refusal to take money after lost history, clock checks (mixed into the Journal)."""

    _seq_path: Path

    # -- operation numbers ----------------------------------------------------------------------
    def _journal_max(self) -> int:
        """The highest number this journal accounts for: its operations, or a floor set by a restore jump."""
        journal_max = int(self.conn.execute("SELECT COALESCE(MAX(operation), 0) FROM operations").fetchone()[0])
        return max(journal_max, int(self.meta("number_floor") or 0))

    def _last_number(self) -> int:
        return max(self._journal_max(), HighWater.read(self._seq_path).issued)

    def last_number(self) -> int:
        """The highest operation number this terminal has handed out, as far as its own state knows."""
        with self._lock:
            return self._last_number()

    def _check_high_water(self, high_water: HighWater) -> None:
        journal_max = self._journal_max()
        if high_water.confirmed > journal_max:
            self.restore_detected(f"journal {self.path} ends at operation {journal_max} but this terminal had "
                                  f"journaled up to {high_water.confirmed}: it was restored from an older copy",
                                  jump_to=high_water.issued)
        elif high_water.issued > journal_max:
            # The number was handed out and its operation never reached the journal: a crash or a full disk
            # between the two writes. Nothing was lost (no money is taken before the insert), nothing restored.
            log.info("journal %s: operation %d was numbered but never opened (interrupted); numbering continues "
                     "after it", self.path, high_water.issued)

    def restore_detected(self, evidence: str, jump_to: int | None = None) -> int:
        """Evidence says this journal is older than the terminal's real history: number past it, and say so.

        Ids sent to processing systems carry a random nonce, so they differ anyway; the jump keeps the numbers
        people read off receipts from repeating where the terminal can tell. Returns the new floor.
        """
        with self._lock:
            floor = max(self._last_number(), jump_to or 0)
            if jump_to is None:
                floor += RESTORE_JUMP
            self.set_meta("number_floor", str(floor))
            HighWater(floor, floor).write(self._seq_path)
        self.incident("restore_detected", f"{evidence}; operation numbers continue after {floor}")
        return floor

    # -- refusal -------------------------------------------------------------------------------
    def _refuse_money(self, reason: str) -> None:
        self.conn.execute("INSERT INTO meta (key, value) VALUES ('refuse_money', ?) ON CONFLICT (key) DO UPDATE "
                          "SET value=excluded.value", (reason,))
        self.conn.execute("INSERT INTO incidents (at, kind, operation, detail, amount) VALUES (?, ?, NULL, ?, "
                          "NULL)", (self._stamp(), "journal_lost", reason))
        log.error("refusing to take money: %s; a person must confirm with `kiosk journal accept-new` or in the "
                  "service menu", reason)

    def refusal(self) -> str | None:
        """Why this terminal must not take money until a person confirms (None: it may)."""
        return self.meta("refuse_money")

    def accept_new(self, who: str) -> str | None:
        """A person confirmed that the journal's lost history is known and handled; returns what was cleared."""
        reason = self.refusal()
        if reason is None:
            return None
        floor = self._last_number()
        self.set_meta("number_floor", str(floor))
        self.set_meta("refuse_money", None)
        self.incident("journal_accepted", f"{who} accepted the new journal after: {reason}; numbering continues "
                                          f"after {floor}")
        return reason

    # -- the clock ------------------------------------------------------------------------------
    def newest_stamp(self) -> datetime | None:
        """The latest time this journal recorded anything (operations and incidents)."""
        with self._lock:
            row = self.conn.execute(
                "SELECT MAX(t) FROM (SELECT MAX(created_at) AS t FROM operations UNION ALL "
                "SELECT MAX(committed_at) FROM operations UNION ALL SELECT MAX(at) FROM incidents)").fetchone()
        try:
            return datetime.fromisoformat(row[0]) if row and row[0] else None
        except ValueError:
            return None

    def _check_clock(self) -> None:
        newest = self.newest_stamp()
        if newest is None:
            return
        behind = (newest - self.now()).total_seconds()
        if behind > CLOCK_BEHIND_SECONDS:
            # Order stays right (the journal is ordered by its own sequence); people must know times are off.
            self.incident("clock_behind", f"the clock reads {self.now().isoformat(timespec='seconds')}, "
                                          f"{behind:.0f} s before the journal's newest entry "
                                          f"({newest.isoformat(timespec='seconds')})")

    def record_clock_skew(self, source: str, skew_seconds: float, limit: float = 60.0) -> None:
        """Note how far the terminal's clock is from a server's (HTTP Date); an incident when beyond limit."""
        previous = self.meta("clock_skew")
        self.set_meta("clock_skew", json.dumps({"source": source, "seconds": round(skew_seconds, 1),
                                                "at": self._stamp()}))
        was_bad = previous is not None and abs(json.loads(previous).get("seconds", 0)) > limit
        if abs(skew_seconds) > limit and not was_bad:
            self.incident("clock_skew", f"the terminal's clock is {skew_seconds:+.0f} s off {source}'s")

    def clock_skew(self) -> dict[str, Any] | None:
        """The last measured skew: {'source', 'seconds' (terminal minus server), 'at'}."""
        value = self.meta("clock_skew")
        return None if value is None else json.loads(value)
