"""From a journaled operation to a printed receipt; the session only learns what was printed."""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kiosk.catalog import Catalog, InputField
from kiosk.config import Config
from kiosk.dealer_link.identity import LINK_FOLDER
from kiosk.dealer_link.status_signer import StatusSigner
from kiosk.drivers.printer import PrinterStatus, ReceiptPrinter
from kiosk.money import Money
from kiosk.offline_queue.journal import Operation
from kiosk.receipt import (
    AccountMasking,
    AgentInfo,
    EncashmentReceiptData,
    PaymentReceiptData,
    PaymentStatus,
    ProviderInfo,
    Receipt,
    build_encashment,
    build_payment,
)
from kiosk.utility_receipt import bank_details

if TYPE_CHECKING:
    from kiosk.fiscal.desk import FiscalDesk
    from kiosk.receipt_fiscal_printer import FiscalPrinter

log = logging.getLogger(__name__)

#: session receipt kind → what the receipt says happened to the money
STATUS: dict[str, PaymentStatus] = {"payment": "delivered", "queued": "queued", "not_completed": "not_completed"}
#: printer outcome → journal receipt status
JOURNAL_STATUS = {"printed": "printed", "failed": "failed", "incomplete": "incomplete"}


def masking(field: InputField | None) -> AccountMasking:
    """How the account shows on paper: a phone in full, a card-like number partly hidden."""
    if field is None:
        return "plain"
    if field.mask.startswith("+7"):
        return "phone"
    if field.checksum == "luhn" or field.min_length >= 16:
        return "card"
    return "plain"


def receipt_data(config: Config, catalog: Catalog, op: Operation, kind: str, lang: str,
                 status_link: str = "") -> PaymentReceiptData:
    """The receipt model's input for one operation."""
    provider = catalog.providers.get(op.provider)
    field = provider.account_field if provider else None
    return PaymentReceiptData(
        terminal=op.terminal, operation=op.operation,
        when=datetime.fromisoformat(op.committed_at or op.created_at), timezone=config.timezone.key,
        terminal_address=config.address, agent=AgentInfo.from_agent(config.agent),
        provider=ProviderInfo.from_provider(provider) if provider else ProviderInfo(
            {"ru": op.provider, "en": op.provider}, "", ""),
        account=op.account, cash=Money(op.cash, op.currency), fee=Money(op.fee or 0, op.currency),
        credited=Money(op.credited if op.credited is not None else op.cash, op.currency),
        status=STATUS.get(kind, "queued"), support_phone=config.support_phone, lang=lang,
        account_masking=masking(field), account_label=dict(field.label) if field else {},
        external_id=op.external_id or "", reason=op.attention_reason or "",
        restored=op.commit_reason == "reconciled", status_link=status_link,
        utility={**{key: op.details[key] for key in ("split", "readings", "debt") if op.details.get(key)},
                 **bank_details(provider, op)},
    )


class ReceiptDesk:
    """Prints payment receipts and remembers the last one for the service menu's reprint."""

    def __init__(self, config: Config, catalog: Catalog, printer: ReceiptPrinter | FiscalPrinter | None) -> None:
        self.config, self.catalog, self.printer = config, catalog, printer
        self.language = config.screen.language
        self.last: Receipt | None = None
        self._lock = threading.Lock()  # one receipt at a time through one printer
        self._known_ready: bool | None = None  # kept fresh by refresh(), so asking never blocks the screen
        self.known_status: PrinterStatus | None = None  # the last status refresh() read (heartbeats report it)
        self.monitored = False  # a scheduler calls refresh(): ready() answers from the last status
        self.status_links = StatusSigner(config.status_url, config.journal_path.parent / LINK_FOLDER)
        self.fiscal: FiscalDesk | None = None  # a fiscal registrar makes payment receipts (kiosk.fiscal.wiring)

    @classmethod
    def from_config(cls, config: Config, catalog: Catalog) -> ReceiptDesk:
        """A desk with the configured printer, or none when the link is 'none'."""
        part = config.printer
        # "fiscal": the registrar is attached by kiosk.fiscal.wiring once the journal is open
        printer = None if part.kind in ("none", "fiscal") else ReceiptPrinter.from_config(part.kind, part.options,
                                                                              str(config.file))
        return cls(config, catalog, printer)

    def ready(self) -> bool:
        """Whether a receipt can be printed now (unknown counts as ready: one-way links cannot tell)."""
        if self.printer is None:
            return False
        if self.monitored and self._known_ready is not None:
            return self._known_ready
        return self.refresh()

    def refresh(self) -> bool:
        """Ask the printer for its status now and remember the answer."""
        if self.printer is None:
            return False
        with self._lock:
            try:
                status = self.printer.status()
                ready = status.summary in ("ok", "near_end", "unknown")
            except Exception:  # a status query that fails is a printer that cannot print
                log.exception("printer status query failed")
                status, ready = None, False
            self.known_status = status
        self._known_ready = ready
        return ready

    def print_operation(self, op: Operation, kind: str) -> str:
        """Print the receipt of an operation; returns the journal's receipt status."""
        link = self.status_links.link(op.terminal, op.operation, op.nonce)
        receipt = build_payment(receipt_data(self.config, self.catalog, op, kind, self.language, link))
        if self.fiscal is not None:
            return self._fiscal(op, receipt)
        return self._print(receipt)

    def _fiscal(self, op: Operation, receipt: Receipt) -> str:
        """The payment's fiscal receipt (the registrar prints it with our lines above the fiscal part)."""
        self.last = receipt
        if self.fiscal is None:
            return "not_printed"
        with self._lock:
            try:
                status = self.fiscal.issue(op, tuple(line for line in receipt.plain_lines()
                                                     if not line.startswith("[QR ")))
            except Exception:  # a registrar or journal fault must never stop the payment flow
                log.exception("fiscal receipt for operation %d failed", op.operation)
                status = "failed"
        if status != "printed":
            self._known_ready = False  # the next payer is told before paying, not after
        return status

    def print_encashment(self, record: dict[str, Any]) -> str:
        """Print the receipt the collector takes away with the cassette."""
        currency = self.config.currency
        data = EncashmentReceiptData(
            terminal=self.config.terminal, number=record["id"], when=datetime.fromisoformat(record["closed_at"]),
            timezone=self.config.timezone.key, terminal_address=self.config.address,
            agent=AgentInfo.from_agent(self.config.agent),
            counts={Money(value, currency): count for value, count in sorted(record["counts"].items())},
            since=datetime.fromisoformat(record["since"]) if record.get("since") else None,
            operations=record.get("operations", 0), support_phone=self.config.support_phone, lang=self.language)
        return self._print(build_encashment(data))

    def reprint_last(self) -> str:
        """Print the last receipt again."""
        if self.last is None:
            return "none"
        return self._print(self.last)

    def _print(self, receipt: Receipt) -> str:
        self.last = receipt
        if self.printer is None:
            return "not_printed"
        with self._lock:
            try:
                result = self.printer.print_receipt(receipt)
            except Exception:  # a printer fault must never stop the payment flow
                log.exception("printing failed")
                self._known_ready = False
                return "failed"
        if result.outcome != "printed":
            self._known_ready = False  # the next payer is told before paying, not after
        if result.outcome != "printed":
            log.warning("receipt %s: %s", result.outcome, result.reason)
        return JOURNAL_STATUS[result.outcome]
