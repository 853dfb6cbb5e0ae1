"""Shtrih-M fiscal registrar driver (FN models, FFD 1.05+): the FiscalRegistrar port over ShtrihLink.

A receipt is 8D open, FF46 per item (+ FF4D item TLVs), FF0C receipt TLVs, FF45 close. The FN's last document
number is read before every fiscal document so a lost answer, or an error answered after the FN signed, can be
settled by asking the drive for that number (FF0A) instead of registering twice.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

from kiosk.drivers import shtrih_frame as sf
from kiosk.drivers.shtrih_link import ShtrihLink
from kiosk.fiscal import tlv
from kiosk.fiscal.port import (
    WARN_FN_MEMORY_90,
    WARN_FN_REPLACE_3_DAYS,
    WARN_FN_REPLACE_30_DAYS,
    WARN_OFD_TIMEOUT,
    BadPassword,
    DocumentKind,
    DriveFull,
    FiscalDocument,
    FiscalReceipt,
    FiscalRegistrar,
    LinkDown,
    LostReply,
    PaperOut,
    ReceiptOpen,
    RegistrarError,
    RegistrarStatus,
    ShiftClosed,
    ShiftExpired,
    StillPrinting,
    WrongMode,
)

log = logging.getLogger(__name__)

ERRORS: dict[int, tuple[type[RegistrarError], str]] = {
    0x02: (WrongMode, "wrong fiscal drive state"),
    0x05: (DriveFull, "fiscal drive validity expired"),
    0x06: (DriveFull, "fiscal drive archive full"),
    0x12: (DriveFull, "fiscal drive crypto resource exhausted"),
    0x14: (DriveFull, "fiscal drive storage resource exhausted"),
    0x16: (ShiftExpired, "fiscal drive shift over 24 hours"),
    0x3D: (ShiftClosed, "shift is closed"),
    0x4A: (ReceiptOpen, "a receipt is open"),
    0x4E: (ShiftExpired, "shift over 24 hours: Z-report first"),
    0x4F: (BadPassword, "wrong password"),
    0x50: (StillPrinting, "still printing the previous command"),
    0x58: (StillPrinting, "waiting for 'continue printing' (B0)"),
    0x6B: (PaperOut, "no receipt paper"),
    0x73: (WrongMode, "command not allowed in this mode"),
}
FN_NO_DATA = 0x08  # FF0A: no such document
FN_RECEIPT_OPEN = 0x04  # FF01 "current document": a receipt
WARNINGS = {0x01: WARN_FN_REPLACE_3_DAYS, 0x02: WARN_FN_REPLACE_30_DAYS, 0x04: WARN_FN_MEMORY_90,
            0x08: WARN_OFD_TIMEOUT}
DOCUMENT_KINDS: dict[int, DocumentKind] = {2: "shift_open", 3: "receipt", 5: "z_report"}
MODE_SHIFT_EXPIRED, MODE_RECEIPT = 3, 8
SUBMODES_NO_PAPER = (1, 2)
TLV_LIMIT = 250  # bytes of TLV per FF4D / FF0C command
LINE_WIDTH = 40
NAME_LIMIT = 128
#: 8D's receipt type for each calculation sign (1054): приход 0, возврат прихода 2, расход 1, возврат расхода 3
RECEIPT_TYPES = {1: 0, 2: 2, 3: 1, 4: 3}
PRINT_ON_RECEIPT = 0x02  # command 17 flags: bit 1 = receipt tape


P = ParamSpec("P")
R = TypeVar("R")


def exclusive(method: Callable[Concatenate[ShtrihRegistrar, P], R]) -> Callable[Concatenate[ShtrihRegistrar, P], R]:
    """One conversation with the registrar at a time: a status check never lands inside a receipt."""
    @functools.wraps(method)
    def wrapper(self: ShtrihRegistrar, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._busy:
            return method(self, *args, **kwargs)
    return wrapper


def error_for(code: int, command: int) -> RegistrarError:
    """The exception for a registrar error code."""
    kind, text = ERRORS.get(code, (RegistrarError, "registrar error"))
    return kind(code, f"{text} (command 0x{command:X})")


@dataclass(frozen=True, slots=True)
class FnStatus:
    """FF01: the fiscal drive's own state."""

    phase: int
    document: int
    shift_open: bool
    warnings: int
    at: datetime
    fn_number: str
    last_fd: int


def _fn_time(data: bytes, tz: ZoneInfo) -> datetime:
    """FN DATE_TIME (YY MM DD HH MM) in the registrar's zone."""
    try:
        return datetime(2000 + data[0], data[1], data[2], data[3], data[4], tzinfo=tz)
    except (ValueError, IndexError) as exc:
        raise RegistrarError(0, f"the registrar sent an impossible date-time {data.hex()}") from exc


def _money(value: int) -> bytes:
    if not 0 <= value < 1 << 40:
        raise ValueError(f"amount out of range: {value}")
    return value.to_bytes(5, "little")


class ShtrihRegistrar:
    """A Shtrih-M registrar on a serial port; money in kopecks, times in the registrar's zone `tz`."""

    def __init__(self, port: str, baudrate: int = 115200, *, tz: ZoneInfo | str = "Europe/Moscow",
                 cashier_password: int = 1, admin_password: int = 30, sysadmin_password: int = 30,
                 answer_timeout: float = 20.0, control_timeout: float = 0.5, byte_timeout: float = 0.05) -> None:
        self.link = ShtrihLink(port, baudrate, control_timeout=control_timeout, answer_timeout=answer_timeout,
                               byte_timeout=byte_timeout)
        self.tz = ZoneInfo(tz) if isinstance(tz, str) else tz
        self.cashier, self.admin, self.sysadmin = cashier_password, admin_password, sysadmin_password
        self._fn_cache: str | None = None
        self._shift_seen: tuple[tuple[str, int], datetime] | None = None  # (FN, shift number) → when it opened
        self._busy = threading.RLock()

    def __enter__(self) -> ShtrihRegistrar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the port; idempotent."""
        with self._busy:
            self.link.close()

    def _call(self, command: int, password: int | None, data: bytes = b"", repeatable: bool = False,
              expect: int = 0) -> bytes:
        """The answer's data, at least `expect` bytes of it; the error code raised as its exception."""
        answer = self.link.exchange(command, password, data, repeatable)
        if answer.error:
            raise error_for(answer.error, command)
        if len(answer.data) < expect:
            raise RegistrarError(0, f"answer to 0x{command:X} has {len(answer.data)} bytes, expected {expect}")
        return answer.data

    # ---- questions (safe to repeat)

    @exclusive
    def fn_status(self) -> FnStatus:
        """FF01: life phase, open document, shift, warnings, clock, FN number, last document number."""
        data = self._call(sf.FN_STATUS, self.sysadmin, repeatable=True, expect=30)
        self._fn_cache = data[10:26].decode("ascii", "replace").strip(" \x00")
        return FnStatus(phase=data[0], document=data[1], shift_open=bool(data[3]), warnings=data[4],
                        at=_fn_time(data[5:10], self.tz), fn_number=self._fn_cache,
                        last_fd=int.from_bytes(data[26:30], "little"))

    @exclusive
    def valid_until(self) -> date:
        """FF03: the fiscal drive's validity date (YY MM DD); past it the drive signs nothing."""
        data = self._call(sf.FN_VALIDITY, self.sysadmin, repeatable=True, expect=3)
        try:
            return date(2000 + data[0], data[1], data[2])
        except ValueError as exc:
            raise RegistrarError(0, f"the registrar sent an impossible validity date {data[:3].hex()}") from exc

    @exclusive
    def short_status(self) -> tuple[int, int, int]:
        """10: (flags, mode, submode)."""
        data = self._call(sf.SHORT_STATUS, self.cashier, repeatable=True, expect=5)
        return int.from_bytes(data[1:3], "little"), data[3], data[4]

    @exclusive
    def full_status(self) -> dict[str, object]:
        """11: firmware, the registrar's clock, serial number, last closed shift, INN, mode and submode."""
        data = self._call(sf.FULL_STATUS, self.cashier, repeatable=True, expect=46)
        day, month, year, hour, minute, second = data[23:29]
        return {"firmware": data[1:3].decode("ascii", "replace") + str(int.from_bytes(data[3:5], "little")),
                "clock": _fn_time(bytes((year, month, day, hour, minute)), self.tz).replace(second=min(second, 59)),
                "mode": data[13], "submode": data[14], "serial": int.from_bytes(data[30:34], "little"),
                "last_closed_shift": int.from_bytes(data[34:36], "little"),
                "inn": int.from_bytes(data[40:46], "little")}

    @exclusive
    def device_type(self) -> dict[str, object]:
        """FC: type, subtype, protocol version, model and name (no password)."""
        data = self._call(sf.DEVICE_TYPE, None, repeatable=True, expect=6)
        return {"type": data[0], "subtype": data[1], "protocol": f"{data[2]}.{data[3]}", "model": data[4],
                "name": data[6:].decode("cp1251", "replace").strip(" \x00")}

    @exclusive
    def status(self) -> RegistrarStatus:
        """The registrar's and fiscal drive's state (FF01 + 10, and FF40/FF0A for when the shift opened)."""
        fn = self.fn_status()
        flags, mode, submode = self.short_status()
        opened = self._shift_opened_at(fn) if fn.shift_open else None
        return RegistrarStatus(
            shift_open=fn.shift_open, shift_opened_at=opened,
            shift_expired=mode & 0x0F == MODE_SHIFT_EXPIRED,
            paper=bool(flags & 0x02) and submode not in SUBMODES_NO_PAPER,
            receipt_open=mode & 0x0F == MODE_RECEIPT or fn.document == FN_RECEIPT_OPEN,
            fn_number=fn.fn_number, last_fd=fn.last_fd,
            warnings=frozenset(name for bit, name in WARNINGS.items() if fn.warnings & bit))

    def _shift_opened_at(self, fn: FnStatus) -> datetime | None:
        # FF01 does not say when the shift opened; the shift-open report is the document just before the
        # shift's receipts, so look there (and a few back, for other documents in between).
        data = self._call(sf.FN_SHIFT_PARAMS, self.sysadmin, repeatable=True, expect=5)
        shift, receipts = int.from_bytes(data[1:3], "little"), int.from_bytes(data[3:5], "little")
        if self._shift_seen is not None and self._shift_seen[0] == (fn.fn_number, shift):
            return self._shift_seen[1]  # a shift opens once: no need to look it up on every status
        for number in range(fn.last_fd - receipts, max(fn.last_fd - receipts - 4, 0), -1):
            found = self.document(number)
            if found is not None and found.kind == "shift_open":
                self._shift_seen = ((fn.fn_number, shift), found.at)
                return found.at
        return None

    @exclusive
    def document(self, number: int) -> FiscalDocument | None:
        """FF0A: the document with this FD number if the fiscal drive has it (None if not)."""
        answer = self.link.exchange(sf.FN_FIND_DOCUMENT, self.sysadmin, number.to_bytes(4, "little"),
                                    repeatable=True)
        if answer.error == FN_NO_DATA:
            return None
        if answer.error:
            raise error_for(answer.error, sf.FN_FIND_DOCUMENT)
        data = answer.data
        if len(data) < 15:
            raise RegistrarError(0, f"answer to FF0A has {len(data)} bytes, expected 15 or more")
        kind = DOCUMENT_KINDS.get(data[0])
        if kind is None:
            log.info("registrar: document %d is of FN type %d, not a receipt or shift report", number, data[0])
            return None
        receipt = kind == "receipt" and len(data) >= 21
        total = int.from_bytes(data[16:21], "little") if receipt else None
        return FiscalDocument(number=int.from_bytes(data[7:11], "little"), sign=int.from_bytes(data[11:15], "little"),
                              at=_fn_time(data[2:7], self.tz), fn_number=self._fn_number(), kind=kind, total=total,
                              calculation=data[15] if receipt else 1)

    def _fn_number(self) -> str:
        if self._fn_cache is None:
            self._fn_cache = self.fn_status().fn_number
        return self._fn_cache

    # ---- shifts

    @exclusive
    def open_shift(self) -> FiscalDocument:
        """E0: open the shift; the shift-open report's FD and FP come from the drive."""
        return self._document_command(sf.OPEN_SHIFT, self.cashier, "shift_open")

    @exclusive
    def close_shift(self) -> FiscalDocument:
        """41: Z-report, closing the shift."""
        return self._document_command(sf.Z_REPORT, self.admin, "z_report")

    def _document_command(self, command: int, password: int, kind: DocumentKind) -> FiscalDocument:
        expected = self.fn_status().last_fd + 1
        try:
            self._call(command, password)
        except LostReply as exc:
            raise LostReply(f"{exc}; ask document({expected})", expected) from exc
        except RegistrarError:
            settled = self._settled(expected, kind)
            if settled is None:
                raise
            return settled
        found = self.document(expected)
        if found is None or found.kind != kind:
            raise RegistrarError(0, f"{kind} reported done but document {expected} is not one")
        return found

    def _settled(self, expected: int, kind: DocumentKind) -> FiscalDocument | None:
        """After an error answer: the document the drive signed anyway, if it did."""
        try:
            if self.fn_status().last_fd < expected:
                return None
            found = self.document(expected)
        except (LinkDown, LostReply, RegistrarError):
            return None
        if found is not None and found.kind == kind:
            log.warning("registrar: error answer, but the fiscal drive signed document %d", expected)
            return found
        return None

    # ---- receipts

    @exclusive
    def sell(self, receipt: FiscalReceipt) -> FiscalDocument:
        """Register and print one receipt; LostReply carries the document number to ask about.

        A receipt left open (by a process that died before FF45) is cancelled first: an open receipt is never
        registered, so nothing of value is lost, and the new one could not start otherwise.
        """
        if receipt.kind not in RECEIPT_TYPES:
            raise ValueError(f"no receipt of calculation sign (1054) {receipt.kind}")
        fn = self.fn_status()
        expected = fn.last_fd + 1
        if fn.document == FN_RECEIPT_OPEN:
            log.warning("registrar: cancelling a receipt left open before document %d", expected)
            self.cancel_receipt()
        try:
            self._call(sf.OPEN_RECEIPT, self.cashier, bytes((RECEIPT_TYPES[receipt.kind],)))
            for line in receipt.header_lines:
                self._line(line)
            for item in receipt.items:
                name = item.name.encode("cp1251", "replace")[:NAME_LIMIT]
                self._call(sf.FN_OPERATION, self.sysadmin,
                           bytes((receipt.kind,)) + (item.quantity_milli * 1000).to_bytes(6, "little")
                           + _money(item.price) + b"\xff" * 5 + b"\xff" * 5
                           + bytes((item.tax, 0, item.method, item.subject)) + name)
                for block in tlv.chunks(item.tags, TLV_LIMIT):
                    self._call(sf.FN_ITEM_TLV, self.sysadmin, block)
            for block in tlv.chunks(receipt.tags, TLV_LIMIT):
                self._call(sf.FN_RECEIPT_TLV, self.sysadmin, block)
        except RegistrarError:
            self._cancel_quietly()
            raise
        except LostReply as exc:
            # Nothing before FF45 makes a fiscal document: the receipt is at most open, never registered.
            self._cancel_quietly()
            raise LinkDown(f"{exc} (before closing the receipt: nothing registered)") from exc
        # payment sums: #1 cash, #2 electronic, 14 more unused; rounding; 6 tax sums (the device computes them)
        close = (_money(receipt.cash) + _money(receipt.electronic) + bytes(5 * 14) + b"\x00" + bytes(5 * 6)
                 + bytes((receipt.taxation,)))
        try:
            data = self._call(sf.FN_CLOSE_RECEIPT, self.sysadmin, close)
        except LostReply as exc:
            raise LostReply(f"{exc}; ask document({expected})", expected) from exc
        except RegistrarError:
            settled = self._settled(expected, "receipt")
            if settled is None:
                self._cancel_quietly()
                raise
            return settled
        if len(data) < 18:
            settled = self._settled(expected, "receipt")
            if settled is None:
                raise LostReply(f"malformed answer to closing the receipt; ask document({expected})", expected)
            return settled
        return FiscalDocument(number=int.from_bytes(data[5:9], "little"), sign=int.from_bytes(data[9:13], "little"),
                              at=_fn_time(data[13:18], self.tz), fn_number=self._fn_number(), kind="receipt",
                              total=receipt.total, calculation=receipt.kind)

    @exclusive
    def cancel_receipt(self) -> None:
        """88: cancel an open receipt; nothing happens when none is open."""
        try:
            self._call(sf.CANCEL_RECEIPT, self.cashier)
        except WrongMode:
            pass  # no receipt open

    def _cancel_quietly(self) -> None:
        try:
            self.cancel_receipt()
        except (RegistrarError, LinkDown, LostReply) as exc:
            log.warning("registrar: could not cancel the open receipt: %s", exc)

    # ---- printing

    def _line(self, text: str) -> None:
        raw = text.encode("cp1251", "replace")[:LINE_WIDTH]
        self._call(sf.PRINT_LINE, self.cashier, bytes((PRINT_ON_RECEIPT,)) + raw.ljust(LINE_WIDTH, b"\x00"))

    @exclusive
    def print_lines(self, lines: Sequence[str], cut: bool = True) -> None:
        """17 per line (long lines wrapped at 40 characters), then 25 to cut."""
        for line in lines:
            for start in range(0, max(len(line), 1), LINE_WIDTH):
                self._line(line[start:start + LINE_WIDTH])
        if cut:
            self._call(sf.CUT, self.cashier, b"\x01")

    @exclusive
    def continue_printing(self) -> None:
        """B0: finish what paper-out interrupted, after new paper is in."""
        self._call(sf.CONTINUE_PRINTING, self.cashier)


if TYPE_CHECKING:
    _PORT: type[FiscalRegistrar] = ShtrihRegistrar  # mypy proves the driver implements the whole port
