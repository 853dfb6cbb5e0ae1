"""An in-process bill validator with a durable cassette: the `virtual` driver for simulation and tests.

Like a ccTalk device with an event buffer, it remembers the bills it stacked (in its own SQLite file when
given one), so a host that crashed between "stacked" and its journal can ask for them again with replay().
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
    Escrow,
    EventSink,
    Identity,
    Ready,
    Rejected,
    Returned,
    Stacked,
    ValidatorStatus,
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
        self._table = [Bill(value, index) for index, value in enumerate(bills)]
        self._enabled: set[int] = set()
        self._escrow: Bill | None = None
        self._lock = threading.Lock()
        path = str(Path(cassette).expanduser()) if cassette else ":memory:"
        if cassette:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("CREATE TABLE IF NOT EXISTS cassette (seq INTEGER PRIMARY KEY, value INTEGER NOT NULL, "
                         "event_id TEXT NOT NULL UNIQUE)")
        # A fresh nonce per power-up keeps event ids unique even if the sequence table is replaced.
        self._boot = secrets.token_hex(4)
        self.started = False

    # -- host commands ----------------------------------------------------------------------------
    def start(self) -> None:
        """Power up."""
        self.started = True
        self.emit(Ready())

    def stop(self) -> None:
        """Power down."""
        with self._lock:
            self._enabled.clear()
            self.started = False
        self._db.close()

    def enable(self, denominations: Iterable[int]) -> None:
        """Accept these values."""
        with self._lock:
            self._enabled = set(denominations)

    def disable(self) -> None:
        """Accept nothing (a bill already in escrow stays there until stacked or returned)."""
        with self._lock:
            self._enabled = set()

    def stack(self) -> None:
        """Move the escrowed bill to the cassette: durably on the device side first, then report it."""
        with self._lock:
            bill, self._escrow = self._escrow, None
            if bill is None:
                return
            seq = self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM cassette").fetchone()[0]
            event_id = f"{self.serial}:{self._boot}:{seq}"
            self._db.execute("INSERT INTO cassette (seq, value, event_id) VALUES (?, ?, ?)",
                             (seq, bill.value, event_id))
        self.emit(Stacked(bill, event_id))

    def return_bill(self) -> None:
        """Hand the escrowed bill back."""
        with self._lock:
            bill, self._escrow = self._escrow, None
        if bill is not None:
            self.emit(Returned(bill))

    def hold(self) -> None:
        """Nothing to renew: the virtual escrow never times out."""

    def identity(self) -> Identity:
        """A made-up identity."""
        return Identity("virtual", "VIRTUAL-BV", self.serial, "1.0")

    def bill_table(self) -> list[Bill]:
        """The bills this unit knows."""
        return list(self._table)

    def status(self) -> ValidatorStatus:
        """Current state."""
        return ValidatorStatus(online=self.started, enabled=bool(self._enabled),
                               state="escrow" if self._escrow else "idle")

    # -- the payer's side -------------------------------------------------------------------------
    def insert(self, value: int) -> bool:
        """A payer pushes a bill in; True if it went to escrow."""
        with self._lock:
            known = any(b.value == value for b in self._table)
            accept = known and value in self._enabled and self._escrow is None
            if accept:
                self._escrow = next(b for b in self._table if b.value == value)
        if not accept:
            self.emit(Rejected("inhibited" if known else "not recognised"))
            return False
        self.emit(Escrow(self._escrow))
        return True

    def remove_cassette(self) -> None:
        """The collector takes the cassette out (its bills go with it)."""
        self.emit(CassetteRemoved())

    def insert_cassette(self) -> None:
        """An empty cassette goes back in."""
        self._db.execute("DELETE FROM cassette")
        self.emit(CassetteInserted())

    # -- what a host restarting after a crash can ask -------------------------------------------
    def replay(self) -> list[Stacked]:
        """The last few stackings, oldest first, for a host that restarted (it dedupes by event id)."""
        rows = self._db.execute("SELECT value, event_id FROM cassette ORDER BY seq DESC LIMIT ?",
                                (REPLAY_DEPTH,)).fetchall()
        return [Stacked(Bill(value), event_id) for value, event_id in reversed(rows)]

    def contents(self) -> list[tuple[str, int]]:
        """(event id, value) of every bill in the cassette."""
        return [(e, v) for v, e in self._db.execute("SELECT value, event_id FROM cassette ORDER BY seq")]
