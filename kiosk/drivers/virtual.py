"""An in-process bill validator with a durable cassette: the `virtual` driver for the demo, simulation and tests.

Like a ccTalk device with an event buffer, it remembers the bills it stacked (in its own SQLite file when
given one), so a host that crashed between "stacked" and its journal can ask for them again with replay().
There is no wire: insert() stands in for a payer pushing a banknote in.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

from kiosk.drivers.validator import (
    Bill,
    BillValidator,
    CassetteInserted,
    CassetteRemoved,
    Decision,
    Escrow,
    EventSink,
    Identity,
    Ready,
    Rejected,
    Returned,
    Stacked,
)

DEFAULT_BILLS = (1000, 5000, 10000, 20000, 50000, 100000, 200000, 500000)
REPLAY_DEPTH = 5  # like a ccTalk event buffer: the device remembers its last five stackings


class VirtualValidator(BillValidator):
    """A validator you feed with insert(); it escrows, stacks and returns like the real thing."""

    protocol = "virtual"

    def __init__(self, on_event: EventSink, cassette: str | Path | None = None,
                 bills: Iterable[int] = DEFAULT_BILLS, serial: str = "VIRT0001", **_: object) -> None:
        super().__init__(on_event)
        self.serial = serial
        self._bills = {index: Bill(value, index) for index, value in enumerate(bills)}
        self._identity = Identity("virtual", "VIRTUAL-BV", serial, "1.0")
        self._escrow: Bill | None = None
        self._lock = threading.Lock()
        self._path = str(Path(cassette).expanduser()) if cassette else ":memory:"
        if cassette:
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        self._db: sqlite3.Connection | None = None
        self._connect()  # the cassette is readable (replay) before start, as a device's buffer is
        # A fresh nonce per power-up keeps event ids unique even if the sequence table is replaced.
        self._boot = secrets.token_hex(4)

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("CREATE TABLE IF NOT EXISTS cassette (seq INTEGER PRIMARY KEY, "
                             "value INTEGER NOT NULL, event_id TEXT NOT NULL UNIQUE)")
        return self._db

    # -- BillValidator hooks ----------------------------------------------------------------------
    def _open(self) -> None:
        self._connect()
        self.online, self._state = True, "idle"
        self.emit(Ready())

    def _close(self) -> None:
        with self._lock:
            self._types = set()
            self.online, self._state = False, "stopped"
            db, self._db = self._db, None
        if db is not None:
            db.close()

    def _apply_acceptance(self) -> None:
        """Nothing to program: insert() reads the accepted types directly."""

    def _decide(self, decision: Decision) -> None:
        if decision == "stack":
            self._stack()
        elif decision == "return":
            self._return()
        # hold: nothing to renew, the virtual escrow never times out

    def _stack(self) -> None:
        """Move the escrowed bill to the cassette: durably on the device side first, then report it."""
        with self._lock:
            bill, self._escrow = self._escrow, None
            if bill is None:
                return
            self._state = "idle"
            db = self._connect()
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM cassette").fetchone()[0]
            event_id = f"{self.serial}:{self._boot}:{seq}"
            db.execute("INSERT INTO cassette (seq, value, event_id) VALUES (?, ?, ?)", (seq, bill.value, event_id))
        self.emit(Stacked(bill, event_id))

    def _return(self) -> None:
        with self._lock:
            bill, self._escrow = self._escrow, None
            self._state = "idle"
        if bill is not None:
            self.emit(Returned(bill))

    # -- the payer's side -------------------------------------------------------------------------
    def insert(self, value: int) -> bool:
        """A payer pushes a bill in; True if it went to escrow."""
        with self._lock:
            bill = next((b for b in self._bills.values() if b.value == value), None)
            accept = bill is not None and bill.bill_type in self._types and self._escrow is None
            if accept:
                self._escrow, self._state = bill, "escrow"
        if not accept or bill is None:
            self.emit(Rejected("inhibited" if bill is not None else "not recognised"))
            return False
        self.emit(Escrow(bill))
        return True

    def remove_cassette(self) -> None:
        """The collector takes the cassette out (its bills go with it)."""
        self.emit(CassetteRemoved())

    def insert_cassette(self) -> None:
        """An empty cassette goes back in."""
        self._connect().execute("DELETE FROM cassette")
        self.emit(CassetteInserted())

    # -- what a host restarting after a crash can ask -------------------------------------------
    def replay(self) -> list[Stacked]:
        """The last few stackings, oldest first, for a host that restarted (it dedupes by event id)."""
        rows = self._connect().execute("SELECT value, event_id FROM cassette ORDER BY seq DESC LIMIT ?",
                                       (REPLAY_DEPTH,)).fetchall()
        return [Stacked(Bill(value), event_id) for value, event_id in reversed(rows)]

    def contents(self) -> list[tuple[str, int]]:
        """(event id, value) of every bill in the cassette."""
        return [(e, v) for v, e in self._connect().execute("SELECT value, event_id FROM cassette ORDER BY seq")]
