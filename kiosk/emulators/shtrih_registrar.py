"""What an emulated Shtrih-M registrar does with a command: modes, receipts, printing, FN documents.

Wire-independent: `execute(request)` returns (error code, answer data). The wire side (handshake, lost answers,
power cuts) is kiosk.emulators.shtrih.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from kiosk.drivers import shtrih_frame as sf
from kiosk.emulators.shtrih_drive import DOC_RECEIPT, DOC_SHIFT_CLOSE, DOC_SHIFT_OPEN, FiscalDrive
from kiosk.emulators.shtrih_paper import receipt_lines, rub
from kiosk.fiscal import tlv

# Error codes the emulator answers with
OK = 0x00
FN_NO_DATA = 0x08  # FN: the requested data is not there
FN_TERM_OVER = 0x05  # FN: its validity term is over (the driver's DriveFull)
FN_SHIFT_EXPIRED = 0x16
BAD_PARAMETER = 0x33
SHIFT_CLOSED = 0x3D
PAYMENT_SHORT = 0x45
RECEIPT_OPEN = 0x4A
SHIFT_EXPIRED = 0x4E
BAD_PASSWORD = 0x4F
WAITING_CONTINUE = 0x58
NO_PAPER = 0x6B
WRONG_MODE = 0x73
UNKNOWN_COMMAND = 0x37

MODE_SHIFT_OPEN = 2
MODE_SHIFT_EXPIRED = 3
MODE_SHIFT_CLOSED = 4
MODE_RECEIPT = 8
SUBMODE_PAPER_OUT = 1  # no paper, nothing to print
SUBMODE_PAPER_OUT_PRINTING = 2  # ran out while printing
SUBMODE_WAIT_CONTINUE = 3  # paper is back: waiting for B0

ADMIN, SYSADMIN = 29, 30
OPEN_TYPES = {b"": tlv.KIND_INCOME, b"\x00": tlv.KIND_INCOME, b"\x02": tlv.KIND_INCOME_RETURN}  # 8D type → 1054
WARN_DAYS_30, WARN_DAYS_3 = 30, 3  # FF01 warns this many days before the drive's validity date
LINE_WIDTH = 40
DEVICE_NAME = "ШТРИХ-М-01Ф ЭМУЛЯТОР"
PAYMENT_TYPES = 16
TAX_SUMS = 6


class CommandFailed(Exception):
    """A command refused with an error code (internal to the emulator)."""

    def __init__(self, code: int) -> None:
        super().__init__(f"0x{code:02X}")
        self.code = code


@dataclass
class OpenReceipt:
    """A receipt between 8D/first item and FF45: nothing of it is in the fiscal drive yet."""

    kind: int = 0  # 1054 (1 приход, 2 возврат прихода) as 8D or the first item set it; 0: not yet
    items: list[dict[str, Any]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)  # hex of receipt-level TLV blocks
    lines: list[str] = field(default_factory=list)  # non-fiscal text printed inside the receipt


def money(data: bytes) -> int:
    """A 5-byte (or any width) little-endian amount."""
    return int.from_bytes(data, "little")


def fn_datetime(at: datetime) -> bytes:
    """FN DATE_TIME: YY MM DD HH MM."""
    return bytes((at.year % 100, at.month, at.day, at.hour, at.minute))


class Registrar:
    """The registrar's logic over a fiscal drive; `printout` receives every printed line."""

    def __init__(self, drive: FiscalDrive, printout: str | os.PathLike | None = None) -> None:
        self.drive = drive
        self.printout = Path(printout) if printout else None
        self.receipt: OpenReceipt | None = None
        self.submode = 0 if drive.state.paper else SUBMODE_PAPER_OUT
        self.paper_lines: int | None = None  # lines left on the roll (None: plenty)
        self.unprinted: list[str] = []  # what paper-out interrupted, printed on B0
        self.before_document: Callable[[], None] = lambda: None  # fault hooks (power cut) around the FN write
        self.after_document: Callable[[], None] = lambda: None
        self.close_error = 0  # answer FF45 with this error after registering (firmware that does so)
        self._handlers: dict[int, Callable[[sf.Request], bytes]] = {
            sf.SHORT_STATUS: self._short_status, sf.FULL_STATUS: self._full_status,
            sf.DEVICE_TYPE: self._device_type, sf.OPEN_SHIFT: self._open_shift, sf.Z_REPORT: self._z_report,
            sf.OPEN_RECEIPT: self._open_receipt, sf.FN_OPERATION: self._operation, sf.FN_ITEM_TLV: self._item_tlv,
            sf.FN_RECEIPT_TLV: self._receipt_tlv, sf.FN_CLOSE_RECEIPT: self._close_receipt,
            sf.CANCEL_RECEIPT: self._cancel, sf.PRINT_LINE: self._print_line, sf.CUT: self._cut,
            sf.CONTINUE_PRINTING: self._continue, sf.FN_STATUS: self._fn_status,
            sf.FN_FIND_DOCUMENT: self._find_document, sf.FN_SHIFT_PARAMS: self._shift_params,
            sf.FN_VALIDITY: self._validity,
        }

    # ---- state the status commands report

    @property
    def mode(self) -> int:
        """Mode as 10/11 report it."""
        if self.receipt is not None:
            return MODE_RECEIPT
        if not self.drive.state.shift_open:
            return MODE_SHIFT_CLOSED
        return MODE_SHIFT_EXPIRED if self.drive.shift_expired else MODE_SHIFT_OPEN

    @property
    def paper(self) -> bool:
        """The receipt roll is in."""
        return self.drive.state.paper

    def set_paper(self, present: bool, lines: int | None = None) -> None:
        """Take the roll out, put it in, or let it run out after `lines` printed lines."""
        self.drive.state.paper = present
        self.paper_lines = lines if present else None
        if not present:
            self.submode = SUBMODE_PAPER_OUT
        elif self.submode in (SUBMODE_PAPER_OUT, SUBMODE_PAPER_OUT_PRINTING):
            self.submode = SUBMODE_WAIT_CONTINUE if self.unprinted else 0
        self.drive.save()

    def set_clock_offset(self, seconds: float) -> None:
        """Run the registrar's clock this far ahead of the host's (a shift over 24 hours without waiting)."""
        self.drive.state.clock_offset = seconds
        self.drive.save()

    def set_valid_until(self, until: str) -> None:
        """Set the drive's validity date (ISO); past it the drive signs nothing (FN error 05)."""
        self.drive.state.valid_until = until
        self.drive.save()

    def set_drive_full(self, code: int) -> None:
        """Make the fiscal drive refuse new documents with this error code (0: a healthy drive)."""
        self.drive.state.full_code = code
        self.drive.save()

    def power_up(self) -> None:
        """After a power cut: memory is gone, the drive's file is what remains; an open receipt is annulled."""
        self.drive.reload()
        self.receipt = None
        self.unprinted.clear()
        self.submode = 0 if self.drive.state.paper else SUBMODE_PAPER_OUT

    def status(self) -> dict[str, Any]:
        """For the control line's `status`."""
        state = self.drive.state
        return {"mode": self.mode, "submode": self.submode, "paper": state.paper, "shift_open": state.shift_open,
                "shift_expired": self.drive.shift_expired, "last_fd": state.last_fd, "fn": state.fn_number,
                "receipt_open": self.receipt is not None, "full_code": state.full_code,
                "clock_offset": state.clock_offset, "valid_until": state.valid_until}

    # ---- dispatch

    def execute(self, request: sf.Request) -> tuple[int, bytes]:
        """Run one command: (error code, answer data)."""
        handler = self._handlers.get(request.command)
        if handler is None:
            return UNKNOWN_COMMAND, b""
        if request.command != sf.DEVICE_TYPE:
            needed = SYSADMIN if request.command >> 8 == sf.FN_PREFIX else ADMIN if request.command == sf.Z_REPORT else 1
            if request.password is None or not needed <= request.password <= SYSADMIN:
                return BAD_PASSWORD, b""
        try:
            return OK, handler(request)
        except CommandFailed as failed:
            return failed.code, b""
        except (ValueError, IndexError, UnicodeDecodeError):
            return BAD_PARAMETER, b""

    def _operator(self, request: sf.Request) -> bytes:
        return bytes((min(request.password or 0, SYSADMIN),))

    def _need_printer(self) -> None:
        if not self.drive.state.paper:
            raise CommandFailed(NO_PAPER)
        if self.submode == SUBMODE_WAIT_CONTINUE:
            raise CommandFailed(WAITING_CONTINUE)

    def _need_document_allowed(self, fn_error: bool) -> None:
        if self.drive.state.full_code:
            raise CommandFailed(self.drive.state.full_code)
        if self.drive.days_left() < 0:
            raise CommandFailed(FN_TERM_OVER)
        if self.drive.shift_expired:
            raise CommandFailed(FN_SHIFT_EXPIRED if fn_error else SHIFT_EXPIRED)

    # ---- status

    def _flags(self) -> bytes:
        return (0x0001 | (0x0002 if self.drive.state.paper else 0)).to_bytes(2, "little")  # journal, receipt roll

    def _short_status(self, request: sf.Request) -> bytes:
        return (self._operator(request) + self._flags() + bytes((self.mode, self.submode, 0, 0x9A, 0xB4, 0, 0, 0))
                + bytes(3))

    def _full_status(self, request: sf.Request) -> bytes:
        now, state = self.drive.now(), self.drive.state
        return (self._operator(request) + b"C." + (1).to_bytes(2, "little") + bytes((1, 1, 26, 1))
                + (state.last_fd & 0xFFFF).to_bytes(2, "little") + self._flags() + bytes((self.mode, self.submode, 0))
                + b"C." + (1).to_bytes(2, "little") + bytes((1, 1, 26))
                + bytes((now.day, now.month, now.year % 100, now.hour, now.minute, now.second, 0))
                + (12345678).to_bytes(4, "little") + (state.shift_number - state.shift_open).to_bytes(2, "little")
                + (2000).to_bytes(2, "little") + bytes((0, 0)) + (7707083893).to_bytes(6, "little"))

    def _device_type(self, request: sf.Request) -> bytes:
        return bytes((0, 0, 1, 12, 0, 0)) + DEVICE_NAME.encode("cp1251")

    def _fn_status(self, request: sf.Request) -> bytes:
        state = self.drive.state
        document = 0x04 if self.receipt is not None else 0
        return (bytes((0x0F, document, 1 if self.receipt and self.receipt.items else 0, int(state.shift_open),
                       self._warnings()))
                + fn_datetime(self.drive.now()) + state.fn_number.encode("ascii").ljust(16)[:16]
                + state.last_fd.to_bytes(4, "little"))

    def _warnings(self) -> int:
        """FF01's warning flags the drive's own term raises: replace within 30 days (bit 1), within 3 (bit 0)."""
        left = self.drive.days_left()
        return (0x02 if left <= WARN_DAYS_30 else 0) | (0x01 if left <= WARN_DAYS_3 else 0)

    def _validity(self, request: sf.Request) -> bytes:
        until = self.drive.valid_until
        return bytes((until.year % 100, until.month, until.day))

    def _shift_params(self, request: sf.Request) -> bytes:
        state = self.drive.state
        return (bytes((int(state.shift_open),)) + state.shift_number.to_bytes(2, "little")
                + state.receipts_in_shift.to_bytes(2, "little"))

    def _find_document(self, request: sf.Request) -> bytes:
        document = self.drive.document(int.from_bytes(request.data[:4], "little"))
        if document is None:
            raise CommandFailed(FN_NO_DATA)
        head = (bytes((document["type"], 0)) + fn_datetime(datetime.fromisoformat(document["at"]))
                + int(document["fd"]).to_bytes(4, "little") + int(document["fp"]).to_bytes(4, "little"))
        if document["type"] == DOC_RECEIPT:
            return head + bytes((int(document.get("kind_1054", 1)),)) + int(document["total"]).to_bytes(5, "little")
        return head + int(document["shift"]).to_bytes(2, "little")

    # ---- shift

    def _open_shift(self, request: sf.Request) -> bytes:
        if self.drive.state.shift_open:
            raise CommandFailed(WRONG_MODE)
        self._need_document_allowed(fn_error=False)
        self._need_printer()
        document = self._register(DOC_SHIFT_OPEN, cashier=request.password)
        self._print_document(["ОТЧЕТ ОБ ОТКРЫТИИ СМЕНЫ", f"СМЕНА {document['shift']}"], document)
        return self._operator(request)

    def _z_report(self, request: sf.Request) -> bytes:
        if self.receipt is not None:
            raise CommandFailed(RECEIPT_OPEN)
        if not self.drive.state.shift_open:
            raise CommandFailed(SHIFT_CLOSED)
        if self.drive.state.full_code:
            raise CommandFailed(self.drive.state.full_code)
        self._need_printer()
        shift = [d for d in self.drive.state.documents.values()
                 if d["type"] == DOC_RECEIPT and d["shift"] == self.drive.state.shift_number]
        totals = sum(int(d.get("total", 0)) for d in shift if d.get("kind_1054", 1) == tlv.KIND_INCOME)
        returns = sum(int(d.get("total", 0)) for d in shift if d.get("kind_1054", 1) == tlv.KIND_INCOME_RETURN)
        document = self._register(DOC_SHIFT_CLOSE, receipts=self.drive.state.receipts_in_shift, total=totals)
        self._print_document(["ОТЧЕТ О ЗАКРЫТИИ СМЕНЫ", f"СМЕНА {document['shift']}",
                              f"ЧЕКОВ ЗА СМЕНУ {document['receipts']}", f"ПРИХОД {rub(totals)}",
                              f"ВОЗВРАТ ПРИХОДА {rub(returns)}"], document)
        return self._operator(request)

    # ---- receipt

    def _start_receipt(self) -> OpenReceipt:
        if self.receipt is not None:
            return self.receipt
        if not self.drive.state.shift_open:
            raise CommandFailed(SHIFT_CLOSED)
        self._need_document_allowed(fn_error=False)
        self._need_printer()
        self.receipt = OpenReceipt()
        return self.receipt

    def _open_receipt(self, request: sf.Request) -> bytes:
        if self.receipt is not None:
            raise CommandFailed(RECEIPT_OPEN)
        kind = OPEN_TYPES.get(request.data[:1])
        if kind is None:
            raise CommandFailed(BAD_PARAMETER)  # only приход and возврат прихода are emulated
        self._start_receipt().kind = kind
        return self._operator(request)

    def _operation(self, request: sf.Request) -> bytes:
        data = request.data
        if len(data) < 30 or data[0] not in OPEN_TYPES.values():
            raise CommandFailed(BAD_PARAMETER)
        if self.drive.shift_expired:
            raise CommandFailed(FN_SHIFT_EXPIRED)
        self._need_printer()
        receipt = self._start_receipt()
        if receipt.kind and receipt.kind != data[0]:
            raise CommandFailed(BAD_PARAMETER)  # a return item in a sale receipt, or the other way round
        receipt.kind = data[0]
        quantity, price, given = money(data[1:7]), money(data[7:12]), data[12:17]
        total = (price * quantity + 500_000) // 1_000_000 if given == b"\xff" * 5 else money(given)
        receipt.items.append({"quantity": quantity, "price": price, "total": total, "tax": data[22],
                              "department": data[23], "method": data[24], "subject": data[25],
                              "name": data[26:].rstrip(b"\x00").decode("cp1251"), "tags": []})
        return b""

    def _item_tlv(self, request: sf.Request) -> bytes:
        if self.receipt is None or not self.receipt.items:
            raise CommandFailed(WRONG_MODE)
        tlv.decode(request.data)  # refuse a malformed list (ValueError → bad parameter)
        self.receipt.items[-1]["tags"].append(request.data.hex())
        return b""

    def _receipt_tlv(self, request: sf.Request) -> bytes:
        if self.receipt is None:
            raise CommandFailed(WRONG_MODE)
        tlv.decode(request.data)
        self.receipt.tags.append(request.data.hex())
        return b""

    def _close_receipt(self, request: sf.Request) -> bytes:
        receipt, data = self.receipt, request.data
        if receipt is None or not receipt.items:
            raise CommandFailed(WRONG_MODE)
        if len(data) < PAYMENT_TYPES * 5 + 1 + TAX_SUMS * 5 + 1:
            raise CommandFailed(BAD_PARAMETER)
        self._need_document_allowed(fn_error=True)
        self._need_printer()
        payments = [money(data[i * 5:i * 5 + 5]) for i in range(PAYMENT_TYPES)]
        taxation = data[PAYMENT_TYPES * 5 + 1 + TAX_SUMS * 5]
        total = sum(int(item["total"]) for item in receipt.items)
        if sum(payments) < total:
            raise CommandFailed(PAYMENT_SHORT)
        change = payments[0] - (total - sum(payments[1:])) if payments[0] else 0
        extra = {"electronic": sum(payments[1:])} if any(payments[1:]) else {}
        document = self._register(DOC_RECEIPT, kind_1054=receipt.kind or tlv.KIND_INCOME, total=total,
                                  cash=payments[0], change=change, taxation=taxation, items=receipt.items,
                                  tags=receipt.tags, **extra)
        self.receipt = None
        self._print_document(receipt_lines(document, receipt.lines), document)
        if self.close_error:
            raise CommandFailed(self.close_error)
        at = datetime.fromisoformat(document["at"])
        return (change.to_bytes(5, "little") + int(document["fd"]).to_bytes(4, "little")
                + int(document["fp"]).to_bytes(4, "little") + fn_datetime(at))

    def _cancel(self, request: sf.Request) -> bytes:
        if self.receipt is None:
            raise CommandFailed(WRONG_MODE)
        lines = self.receipt.lines
        self.receipt = None
        if self.drive.state.paper:
            self._print([*lines, "ЧЕК АННУЛИРОВАН", "-" * LINE_WIDTH])
        return self._operator(request)

    # ---- printing

    def _print_line(self, request: sf.Request) -> bytes:
        self._need_printer()
        text = request.data[1:].rstrip(b"\x00 ").decode("cp1251")
        if self.receipt is not None:
            self.receipt.lines.append(text)
        elif request.data[0] & 0x02:
            self._print([text])
        return self._operator(request)

    def _cut(self, request: sf.Request) -> bytes:
        self._need_printer()
        self._print(["~" * LINE_WIDTH + " (cut)"])
        return self._operator(request)

    def _continue(self, request: sf.Request) -> bytes:
        if not self.drive.state.paper:
            raise CommandFailed(NO_PAPER)
        lines, self.unprinted = self.unprinted, []
        self.submode = 0
        self._print(lines)
        return self._operator(request)

    def _register(self, doc_type: int, **fields: Any) -> dict[str, Any]:
        self.before_document()
        document = self.drive.register(doc_type, **fields)
        self.drive.save()
        self.after_document()
        return document

    def _print_document(self, lines: list[str], document: dict[str, Any]) -> None:
        at = datetime.fromisoformat(document["at"]).strftime("%d.%m.%y %H:%M")
        self._print([*lines, f"ДАТА {at}", f"ФН {self.drive.state.fn_number}", f"ФД {document['fd']}",
                     f"ФП {document['fp']}", *([f"[QR {document['qr']}]"] if "qr" in document else []),
                     "=" * LINE_WIDTH])

    def _print(self, lines: list[str]) -> None:
        """Put lines on paper until the roll runs out; the rest waits for paper and B0."""
        printed: list[str] = []
        for index, line in enumerate(lines):
            if self.paper_lines is not None:
                if self.paper_lines <= 0:
                    self.unprinted.extend(lines[index:])
                    self.drive.state.paper, self.paper_lines = False, None
                    self.submode = SUBMODE_PAPER_OUT_PRINTING
                    printed.append("[PAPER OUT: THE REST WAITS FOR PAPER AND CONTINUE]")
                    self.drive.save()
                    break
                self.paper_lines -= 1
            printed.append(line)
        if self.printout and printed:
            with open(self.printout, "a", encoding="utf-8") as out:
                out.write("\n".join(printed) + "\n")

