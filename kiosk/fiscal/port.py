"""The fiscal registrar port: what a receipt flow may ask of any ККТ, and the faults it may raise."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, Protocol

from kiosk.errors import DeviceError
from kiosk.fiscal.tlv import Tlv

DocumentKind = Literal["receipt", "shift_open", "z_report"]

# Tax groups of the registrar's default table (not FFD codes): the driver sends the group number.
TAX_VAT20 = 1
TAX_VAT10 = 2
TAX_VAT0 = 3
TAX_NONE = 4  # без НДС: what a 103-FZ paying agent uses
TAX_VAT20_120 = 5
TAX_VAT10_110 = 6

# Warning names in RegistrarStatus.warnings (from the FN status flags).
WARN_FN_REPLACE_3_DAYS = "fn_replace_3_days"
WARN_FN_REPLACE_30_DAYS = "fn_replace_30_days"
WARN_FN_MEMORY_90 = "fn_memory_90"
WARN_OFD_TIMEOUT = "ofd_timeout"


@dataclass(frozen=True)
class RegistrarStatus:
    """What the registrar and its fiscal drive report about themselves."""

    shift_open: bool
    shift_opened_at: datetime | None
    shift_expired: bool
    paper: bool
    receipt_open: bool
    fn_number: str
    last_fd: int
    warnings: frozenset[str] = frozenset()


@dataclass(frozen=True)
class FiscalItem:
    """One receipt line: price in kopecks, quantity in thousandths, FFD subject (1212) and method (1214)."""

    name: str
    price: int
    quantity_milli: int
    subject: int
    method: int
    tax: int
    tags: tuple[Tlv, ...] = ()  # per-item TLVs: 1222, 1223 STLV, 1224 STLV, 1226

    @property
    def total(self) -> int:
        """The line sum in kopecks (price × quantity, rounded half up like the registrar does)."""
        return (self.price * self.quantity_milli + 500) // 1000


@dataclass(frozen=True)
class FiscalReceipt:
    """A whole receipt: kind (1054: 1 приход, 2 возврат прихода), items, cash paid (kopecks), taxation system
    mask (1055), receipt TLVs."""

    kind: int
    items: tuple[FiscalItem, ...]
    cash: int
    taxation: int
    tags: tuple[Tlv, ...] = ()
    header_lines: tuple[str, ...] = ()
    electronic: int = 0  # paid (or, returning, given back) other than in cash, e.g. a refund by bank transfer

    @property
    def total(self) -> int:
        """Sum of the item lines in kopecks."""
        return sum(item.total for item in self.items)


def qr_text(at: datetime, total: int, fn_number: str, number: int, sign: int, kind: int = 1) -> str:
    """The tax service's QR string for a receipt: t=YYYYMMDDTHHMM&s=roubles.kopecks&fn=&i=&fp=&n= (no padding)."""
    return (f"t={at.strftime('%Y%m%dT%H%M')}&s={total // 100}.{total % 100:02d}&fn={fn_number}&i={number}"
            f"&fp={sign}&n={kind}")


@dataclass(frozen=True)
class FiscalDocument:
    """A document the fiscal drive signed: its number (FD), fiscal sign (FP) and when."""

    number: int
    sign: int
    at: datetime
    fn_number: str
    kind: DocumentKind
    total: int | None = None
    calculation: int = 1  # a receipt's tag 1054: 1 приход (a payment), 2 возврат прихода (its refund)

    def qr(self) -> str:
        """The QR string printed on this receipt (its n= is the receipt's 1054)."""
        if self.kind != "receipt" or self.total is None:
            raise ValueError(f"only a receipt with its total has a QR string, not a {self.kind}")
        return qr_text(self.at, self.total, self.fn_number, self.number, self.sign, self.calculation)


class FiscalRegistrar(Protocol):
    """A fiscal registrar: status, shifts, receipts, and the one question that makes retries safe."""

    def status(self) -> RegistrarStatus:
        """Read the registrar's and fiscal drive's state."""

    def open_shift(self) -> FiscalDocument:
        """Open a shift (prints the shift-open report)."""

    def close_shift(self) -> FiscalDocument:
        """Close the shift with a Z-report."""

    def sell(self, receipt: FiscalReceipt) -> FiscalDocument:
        """Register and print one receipt; raises RegistrarError subclasses, LostReply, LinkDown."""

    def document(self, number: int) -> FiscalDocument | None:
        """Ask the fiscal drive whether document `number` exists (after LostReply)."""

    def valid_until(self) -> date:
        """The fiscal drive's validity date: it must be replaced before then."""

    def print_lines(self, lines: Sequence[str], cut: bool = True) -> None:
        """Print non-fiscal text."""

    def cancel_receipt(self) -> None:
        """Cancel a receipt left open (nothing is registered)."""

    def close(self) -> None:
        """Release the link; idempotent."""


class FiscalError(DeviceError):
    """Base of every fault a fiscal registrar driver raises."""


class RegistrarError(FiscalError):
    """The registrar refused a command with an error code."""

    def __init__(self, code: int, text: str = "") -> None:
        self.code, self.text = code, text
        super().__init__(f"registrar error 0x{code:02X}: {text}" if text else f"registrar error 0x{code:02X}")


class PaperOut(RegistrarError):
    """No receipt paper (the receipt may be open, waiting for paper and 'continue printing')."""


class ShiftExpired(RegistrarError):
    """The shift has been open over 24 hours: a Z-report must close it first."""


class ShiftClosed(RegistrarError):
    """The command needs an open shift."""


class DriveFull(RegistrarError):
    """The fiscal drive expired or ran out of archive/crypto resource: it must be replaced."""


class ReceiptOpen(RegistrarError):
    """A receipt is already open."""


class WrongMode(RegistrarError):
    """The command is not allowed in the registrar's current mode."""


class BadPassword(RegistrarError):
    """The registrar rejected the operator password."""


class StillPrinting(RegistrarError):
    """The registrar is printing or waits for 'continue printing' after a paper change."""


class LostReply(FiscalError):
    """The command was delivered but its answer never came: it may or may not have executed.

    `expected` is the document number the command would have made, when the driver knows it: ask
    `document(expected)` to learn whether it did.
    """

    def __init__(self, message: str = "", expected: int | None = None) -> None:
        super().__init__(message)
        self.expected = expected


class LinkDown(FiscalError):
    """The registrar does not answer at all (the command was not delivered)."""
