"""An in-process fiscal registrar for unit tests (the end-to-end tests use the real driver and emulator).

It keeps a fiscal drive's truth — numbered documents, the shift and its age, paper — and can lose a reply
before or after the command executed, run out of paper, or stop answering.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from kiosk.fiscal.port import (
    FiscalDocument,
    FiscalReceipt,
    LinkDown,
    LostReply,
    PaperOut,
    RegistrarStatus,
    ShiftClosed,
    ShiftExpired,
)

FN = "9999078900012345"


@dataclass
class FakeRegistrar:
    """A fiscal drive in memory; `documents` is the truth a test checks the journal against."""

    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    paper: bool = True
    link_down: bool = False
    lose: str | None = None  # "before" / "after": the next fiscal command's reply is lost, before or after it ran
    documents: dict[int, FiscalDocument] = field(default_factory=dict)
    receipts: list[FiscalReceipt] = field(default_factory=list)  # what each receipt document carried
    shift_opened_at: datetime | None = None
    receipt_open: bool = False
    printed: list[list[str]] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    closed: bool = False
    fn: str = FN  # a replaced drive has another number
    valid: date = field(default_factory=lambda: date.today() + timedelta(days=400))

    @property
    def last_fd(self) -> int:
        """The newest document number (0: none yet)."""
        return max(self.documents, default=0)

    def status(self) -> RegistrarStatus:
        """The drive's state now."""
        self._link()
        opened = self.shift_opened_at
        return RegistrarStatus(
            shift_open=opened is not None, shift_opened_at=opened,
            shift_expired=opened is not None and self.now() - opened >= timedelta(hours=24), paper=self.paper,
            receipt_open=self.receipt_open, fn_number=self.fn, last_fd=self.last_fd)

    def open_shift(self) -> FiscalDocument:
        """Open a shift."""
        return self._fiscal("shift_open", None, lambda: setattr(self, "shift_opened_at", self.now()))

    def close_shift(self) -> FiscalDocument:
        """Z-report."""
        if self.shift_opened_at is None:
            raise ShiftClosed(0x3D, "shift closed")
        return self._fiscal("z_report", None, lambda: setattr(self, "shift_opened_at", None))

    def sell(self, receipt: FiscalReceipt) -> FiscalDocument:
        """Register a receipt (refused without paper, with a closed or an expired shift)."""
        self._link()
        if self.shift_opened_at is None:
            raise ShiftClosed(0x3D, "shift closed")
        if self.now() - self.shift_opened_at >= timedelta(hours=24):
            raise ShiftExpired(0x4E, "shift over 24 h")
        if not self.paper:
            self.receipt_open = True  # the items went in before the paper ran out: the receipt stays open
            raise PaperOut(0x6B, "no receipt paper")
        return self._fiscal("receipt", receipt.cash + receipt.electronic, lambda: self.receipts.append(receipt),
                            receipt.kind)

    def document(self, number: int) -> FiscalDocument | None:
        """A document by number, if the drive has it."""
        self._link()
        return self.documents.get(number)

    def valid_until(self) -> date:
        """The drive's validity date."""
        self._link()
        return self.valid

    def print_lines(self, lines: Sequence[str], cut: bool = True) -> None:
        """Non-fiscal text."""
        self._link()
        if not self.paper:
            raise PaperOut(0x6B, "no receipt paper")
        self.printed.append(list(lines))

    def cancel_receipt(self) -> None:
        """Drop an open receipt."""
        self._link()
        self.commands.append("cancel")
        self.receipt_open = False

    def close(self) -> None:
        """Idempotent."""
        self.closed = True

    def _link(self) -> None:
        if self.link_down:
            raise LinkDown("no answer to ENQ")

    def _fiscal(self, kind: str, total: int | None, effect: Callable[[], object],
                calculation: int = 1) -> FiscalDocument:
        self._link()
        self.commands.append(kind)
        lose, self.lose = self.lose, None
        if lose == "before":
            raise LostReply("the command's reply never came")
        effect()
        number = self.last_fd + 1
        document = FiscalDocument(number=number, sign=3_000_000_000 + number * 7919, at=self.now(), fn_number=self.fn,
                                  kind=kind, total=total, calculation=calculation)  # type: ignore[arg-type]
        self.documents[number] = document
        self.receipt_open = False
        if lose == "after":
            raise LostReply("the command ran, but its reply never came")
        return document

    def receipts_for(self, total: int) -> list[FiscalDocument]:
        """Receipt documents of one total."""
        return [d for d in self.documents.values() if d.kind == "receipt" and d.total == total]
