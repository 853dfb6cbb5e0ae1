"""A fiscal registrar where the receipt desk expects a printer: status, and non-fiscal slips as plain text.

Payment receipts never come through here (kiosk.fiscal.desk makes them, once); encashment slips, test pages and
the service menu's reprint are printed as non-fiscal text, so a reprint can never become a second fiscal receipt.
"""

from __future__ import annotations

import logging
import threading
from contextlib import AbstractContextManager
from typing import Any

from kiosk.drivers.printer import PrinterStatus, PrintResult
from kiosk.fiscal.port import FiscalError, FiscalRegistrar, LinkDown
from kiosk.receipt import Receipt

log = logging.getLogger(__name__)

COPY_MARK = "*** КОПИЯ / COPY: НЕ ФИСКАЛЬНЫЙ ДОКУМЕНТ ***"


class FiscalPrinter:
    """The registrar's printer, as the receipt desk and the service menu see a printer."""

    def __init__(self, registrar: FiscalRegistrar, lock: AbstractContextManager[Any] | None = None) -> None:
        self.registrar = registrar
        # the fiscal desk's lock: a status query must never interleave with a receipt on the same wire
        self.lock = lock if lock is not None else threading.RLock()

    def status(self) -> PrinterStatus:
        """Paper and link, from the registrar's status."""
        try:
            with self.lock:
                status = self.registrar.status()
        except LinkDown:
            return PrinterStatus("unknown", online=False)
        except FiscalError as exc:
            log.warning("fiscal registrar status: %s", exc)
            return PrinterStatus("unknown", online=False)
        return PrinterStatus("ok" if status.paper else "out", online=True)

    def print_receipt(self, receipt: Receipt) -> PrintResult:
        """Print a receipt model as non-fiscal text (a payment receipt's copy is marked as one)."""
        lines = receipt.plain_lines()
        if receipt.kind in ("payment", "restored", "not_completed"):
            lines = [COPY_MARK, *lines]
        try:
            with self.lock:
                self.registrar.print_lines(lines, cut=True)
        except FiscalError as exc:
            log.warning("non-fiscal print on the registrar: %s", exc)
            return PrintResult("failed", str(exc))
        return PrintResult("printed")

    def close(self) -> None:
        """Release the registrar's link."""
        self.registrar.close()
