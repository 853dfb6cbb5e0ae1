"""The fiscal receipt of a payment, made exactly once: shift care, intent before the command, recovery.

Every document follows one path: read the drive's last FD number, journal the intent with it, send the command,
journal what the drive made. A reply that never came (LostReply), an error, or a crash between the intent and
the result is resolved by asking the drive (`status().last_fd`, `document(n)`) whether the document exists,
never by sending the command again while that is unknown. So one payment never gets two fiscal documents, and a
document the drive made is never missing from the journal.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from kiosk.catalog import Catalog
from kiosk.config import Config
from kiosk.fiscal.ledger import RECEIPT, REFUND, REPLACED, FiscalLedger, FiscalRow, qr_text
from kiosk.fiscal.port import (
    FiscalDocument,
    FiscalError,
    FiscalRegistrar,
    LinkDown,
    LostReply,
    RegistrarStatus,
    ShiftExpired,
    StillPrinting,
)
from kiosk.fiscal.settings import MAX_SHIFT_HOURS
from kiosk.fiscal.tlv import KIND_INCOME, KIND_INCOME_RETURN
from kiosk.offline_queue.journal import Operation
from kiosk.offline_queue.operation import REFUNDED
from kiosk.receipt_fiscal import fiscal_receipt

log = logging.getLogger(__name__)

PRINTED, FAILED = "printed", "failed"  # journal receipt statuses (kiosk.offline_queue.operation.RECEIPT_STATES)


CALCULATIONS = {RECEIPT: KIND_INCOME, REFUND: KIND_INCOME_RETURN}  # ledger kind → the receipt's 1054


def refund_way(op: Operation) -> str:
    """How the payer got the cash back, as the refund correction recorded it (cash, transfer, other)."""
    refunds = [c for c in op.details.get("corrections", []) if c.get("kind") == "refund"]
    return str(refunds[-1].get("how", "cash")) if refunds else "cash"


class Unresolved(Exception):
    """Whether the drive made a document cannot be known now (the registrar does not answer)."""


class Replaced(Unresolved):
    """The intent was for another fiscal drive: only a person who reads the old drive can settle it."""


class FiscalDesk:
    """Issues fiscal receipts and shift documents through one registrar; one document at a time."""

    def __init__(self, registrar: FiscalRegistrar, ledger: FiscalLedger, config: Config, catalog: Catalog,
                 now: Callable[[], datetime] | None = None) -> None:
        self.registrar, self.ledger, self.config, self.catalog = registrar, ledger, config, catalog
        self.now = now or (lambda: datetime.now(UTC))  # the registrar keeps real time, whatever the session's clock
        self.lock = threading.RLock()  # one conversation with the registrar at a time (its printer view shares it)

    @property
    def shift_hours(self) -> int:
        """Close the shift this long after it opened (the dealer's setting, below the legal 24 h)."""
        return self.config.fiscal.shift_hours if self.config.fiscal is not None else MAX_SHIFT_HOURS - 1

    # -- a payment's receipt ---------------------------------------------------------------------------
    def issue(self, op: Operation, header_lines: tuple[str, ...] = (), retry: bool = False) -> str:
        """Make the operation's fiscal receipt unless it has one; the journal's receipt status.

        retry: a later attempt (upkeep) — a failure updates the operation's fiscal status but raises no new
        incident, so a registrar that keeps failing does not flood support with one per minute.
        """
        return self._issue(op, header_lines, renewed=False, quiet=retry, kind=RECEIPT)

    def refund(self, op: Operation, retry: bool = False) -> str:
        """The refund receipt (возврат прихода, 1054 = 2) of a refunded operation, once; its sale receipt first.

        The same items and agent tags as the sale; the cash given back, or for a refund by transfer an electronic
        payment. Journaled like a sale document (intent, then FD/FP/QR in details["fiscal_refund"]).
        """
        with self.lock:
            if op.state != REFUNDED:
                raise ValueError(f"operation {op.operation} is {op.state}, not refunded: no refund receipt")
            if self.ledger.receipt_of(op.operation) is None and self.issue(op, retry=retry) != PRINTED:
                return FAILED  # the sale's own receipt is still owed: the refund follows it
            return self._issue(op, (), renewed=False, quiet=retry, kind=REFUND)

    def _issue(self, op: Operation, header_lines: tuple[str, ...], renewed: bool, quiet: bool, kind: str) -> str:
        with self.lock:
            if self.ledger.receipt_of(op.operation, kind) is not None:
                return PRINTED  # made already (a recovery, a retry): never a second one
            try:
                if self.resolve_intents() and self.ledger.receipt_of(op.operation, kind) is not None:
                    return PRINTED  # the receipt a crash or a lost reply left unknown was made after all
                status = self._ready_to_sell()
            except (FiscalError, Unresolved) as exc:
                log.warning("fiscal %s for operation %d not attempted: %s", kind, op.operation, exc)
                self.ledger.not_attempted(op.operation, _words(exc), op.cash, incident=not quiet, kind=kind)
                return FAILED
            try:
                receipt = fiscal_receipt(self.config, self.catalog, op, header_lines, CALCULATIONS[kind],
                                         in_cash=kind == RECEIPT or refund_way(op) == "cash")
            except ValueError as exc:  # data the drive cannot take (a configuration fault): reported, retried
                log.error("fiscal %s for operation %d cannot be built: %s", kind, op.operation, exc)
                self.ledger.not_attempted(op.operation, _words(exc), op.cash, incident=not quiet, kind=kind)
                return FAILED
            row = self.ledger.intend(op.operation, kind, status.fn_number, status.last_fd, op.cash)
            try:
                document: FiscalDocument | None = self.registrar.sell(receipt)
                error = ""
            except FiscalError as exc:
                error = _words(exc)
                try:
                    document = self._find(row)
                except Unresolved as unknown:
                    self.ledger.unresolved(row, f"{error}; {unknown}")
                    return FAILED
                if document is None and isinstance(exc, ShiftExpired | StillPrinting) and not renewed:
                    # refused, so nothing was made: renew the shift or finish the interrupted printout, try again
                    self.ledger.failed(row, error, incident=False)
                    try:
                        self._renew_shift() if isinstance(exc, ShiftExpired) else self._continue_printing()
                    except (FiscalError, Unresolved) as renewal:
                        log.warning("making the registrar ready again failed: %s", renewal)
                        self.ledger.not_attempted(op.operation, f"{error}; {_words(renewal)}", op.cash,
                                                  incident=not quiet, kind=kind)
                        return FAILED
                    return self._issue(op, header_lines, renewed=True, quiet=quiet, kind=kind)
            if document is None:
                self.ledger.failed(row, error or "the registrar made no document", incident=not quiet)
                self._cancel_open_receipt()
                return FAILED
            self.ledger.done(row, document, qr_text(document, op.cash, self.config.timezone))
            return PRINTED

    def _continue_printing(self) -> None:
        """After paper ran out mid-printout and was put back: finish printing (B0), if the registrar has it."""
        resume = getattr(self.registrar, "continue_printing", None)
        if resume is not None:
            resume()

    def _ready_to_sell(self) -> RegistrarStatus:
        """A status that allows selling: paper in, no receipt left open, a shift open and under 24 h."""
        status = self.registrar.status()
        if status.receipt_open:
            self.registrar.cancel_receipt()  # an unfinished receipt holds nothing: the drive signs only on close
            status = self.registrar.status()
        if not status.paper:
            raise FiscalError("no receipt paper in the fiscal registrar")
        if status.shift_open and (status.shift_expired or self._shift_age(status) >= timedelta(hours=MAX_SHIFT_HOURS)):
            self._renew_shift()
            status = self.registrar.status()
        elif not status.shift_open:
            self._shift_document("shift_open")
            status = self.registrar.status()
        return status

    def _shift_age(self, status: RegistrarStatus) -> timedelta:
        if status.shift_opened_at is None:
            return timedelta(0)
        return self.now() - status.shift_opened_at

    def _renew_shift(self) -> None:
        """Close an expired shift with a Z-report and open a new one."""
        status = self.registrar.status()
        if status.shift_open:
            self._shift_document("z_report")
        self._shift_document("shift_open")

    # -- shift documents ----------------------------------------------------------------------------------
    def _shift_document(self, kind: str) -> FiscalDocument:
        """Open the shift or close it with a Z-report, through the same intent → result path."""
        status = self.registrar.status()
        row = self.ledger.intend(None, kind, status.fn_number, status.last_fd, None)
        command = self.registrar.open_shift if kind == "shift_open" else self.registrar.close_shift
        try:
            document = command()
        except FiscalError as exc:
            try:
                found = self._find(row)
            except Unresolved as unknown:
                self.ledger.unresolved(row, f"{_words(exc)}; {unknown}")
                raise
            if found is None:
                self.ledger.failed(row, _words(exc))
                raise
            document = found
        self.ledger.done(row, document, "")
        log.info("fiscal %s: FD %d", kind, document.number)
        return document

    def scheduled_z_report(self) -> FiscalDocument | None:
        """Between payments: close a shift that is older than the dealer's limit (the next sale opens one)."""
        with self.lock:
            self.resolve_intents()
            status = self.registrar.status()
            if not status.shift_open:
                return None
            if not status.shift_expired and self._shift_age(status) < timedelta(hours=self.shift_hours):
                return None
            return self._shift_document("z_report")

    # -- recovery --------------------------------------------------------------------------------------
    def _find(self, row: FiscalRow) -> FiscalDocument | None:
        """Ask the drive whether the document of an intent exists (a newer FD of the right kind and total)."""
        try:
            status = self.registrar.status()
        except (LinkDown, LostReply) as exc:
            raise Unresolved(f"the registrar does not answer: {exc}") from exc
        if row.fn and status.fn_number and status.fn_number != row.fn:
            raise Replaced(f"{REPLACED} ({row.fn} → {status.fn_number}): a person must say whether the old one "
                           f"made it (kiosk fiscal resolve)")
        last = row.last_fd or 0
        wanted = "receipt" if row.kind in CALCULATIONS else row.kind  # a refund is a receipt of 1054 = 2
        for number in range(last + 1, status.last_fd + 1):
            try:
                document = self.registrar.document(number)
            except (LinkDown, LostReply) as exc:
                raise Unresolved(f"the registrar does not answer: {exc}") from exc
            if document is not None and document.kind == wanted and (
                    row.kind not in CALCULATIONS or document.calculation == CALCULATIONS[row.kind]) and (
                    row.total is None or document.total is None or document.total == row.total):
                return document
        return None

    def resolve_intents(self) -> int:
        """Settle every intent a lost reply or a crash left: done if the drive has it, failed if not."""
        settled = 0
        with self.lock:
            for row in self.ledger.rows(state="intent"):
                try:
                    document = self._find(row)
                except Replaced as replaced:  # held for a person: said on the intent, where support reads it
                    if row.error != str(replaced):
                        self.ledger.unresolved(row, str(replaced))
                        self.ledger.journal.incident("fiscal_drive_replaced", f"intent {row.id}: {replaced}",
                                                     row.operation, row.total)
                    raise  # nothing new may start while one is unknown

                if document is None:
                    self.ledger.failed(row, row.error or "interrupted before the registrar made the document")
                    self._cancel_open_receipt()
                else:
                    total = row.total if row.total is not None else document.total or 0
                    qr = qr_text(document, total, self.config.timezone) if row.kind in CALCULATIONS else ""
                    self.ledger.done(row, document, qr)
                settled += 1
        return settled

    def catch_up(self, journal_get: Callable[[int], Operation], limit: int = 20) -> dict[str, Any]:
        """Resolve intents, then issue the receipts still owed (paper was out, the link was down, a crash)."""
        made = failed = 0
        with self.lock:
            try:
                self.resolve_intents()
                if not self.registrar.status().paper:
                    return {"made": 0, "failed": 0, "owed": len(self.ledger.owed(limit)), "why": "no paper"}
            except (FiscalError, Unresolved) as exc:
                return {"made": 0, "failed": 0, "owed": len(self.ledger.owed(limit)), "why": _words(exc)}
            owed = [(number, RECEIPT) for number in self.ledger.owed(limit)]
            owed += [(number, REFUND) for number in self._owed_refunds(limit)]
            for number, kind in owed:
                op, quiet = journal_get(number), self.ledger.reported(number, kind)
                # a refunded payment whose sale receipt was still owed gets both now, the sale's first
                refunding = kind == REFUND or (op.state == REFUNDED and self.makes_refunds)
                made_now = self.refund(op, retry=quiet) if refunding else self.issue(op, retry=quiet)
                if made_now == PRINTED:
                    made += 1
                else:
                    failed += 1
                    break  # the registrar is failing again: try the rest later
        still = len(self.ledger.owed(limit)) + len(self._owed_refunds(limit))
        return {"made": made, "failed": failed, "owed": still, "why": ""}

    @property
    def makes_refunds(self) -> bool:
        """Whether this terminal makes refunds' return receipts (the dealer may leave them to the office's register)."""
        return self.config.fiscal is None or self.config.fiscal.refund_receipts

    def _owed_refunds(self, limit: int) -> list[int]:
        return self.ledger.owed_refunds(limit) if self.makes_refunds else []

    def _cancel_open_receipt(self) -> None:
        try:
            if self.registrar.status().receipt_open:
                self.registrar.cancel_receipt()
        except FiscalError as exc:
            log.warning("could not cancel an open receipt: %s", exc)


def _words(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
