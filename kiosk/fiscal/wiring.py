"""Puts a fiscal registrar behind a terminal's receipt desk: `[devices.printer] link = "fiscal"`.

The registrar's driver is chosen by `model` (default "shtrih") from kiosk.registry.FISCAL_REGISTRARS; its other
options (port, baud, passwords) go to the driver as they are written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kiosk.errors import ConfigError, KioskError
from kiosk.fiscal.desk import FiscalDesk
from kiosk.fiscal.ledger import FiscalLedger
from kiosk.fiscal.port import FiscalRegistrar
from kiosk.fiscal.validity import note_validity
from kiosk.offline_queue.journal import Journal, Operation
from kiosk.receipt_fiscal import check_catalog
from kiosk.receipt_fiscal_printer import FiscalPrinter
from kiosk.receipt_port import ReceiptDesk

log = logging.getLogger(__name__)

UPKEEP_SECONDS = 60  # how often, between payments, the terminal looks at the shift and at receipts still owed


def open_registrar(options: dict[str, Any], file: str) -> FiscalRegistrar:
    """The configured registrar driver, opened; a ConfigError names the key that is wrong."""
    from kiosk.registry import FISCAL_REGISTRARS, load

    opts = dict(options)
    model = str(opts.pop("model", "shtrih"))
    try:
        driver = load("fiscal registrar", FISCAL_REGISTRARS, model)
    except KioskError as exc:
        raise ConfigError(file, "devices.printer.model", str(exc)) from exc
    try:
        registrar: FiscalRegistrar = driver(**opts)
    except (TypeError, ValueError) as exc:
        raise ConfigError(file, "devices.printer", f"bad options for the {model!r} fiscal registrar: {exc}") from exc
    return registrar


def attach(desk: ReceiptDesk, journal: Journal, registrar: FiscalRegistrar | None = None) -> FiscalDesk:
    """Make the desk's printer the registrar and its payment receipts fiscal ones."""
    config = desk.config
    if config.fiscal is None:
        raise ConfigError(str(config.file), "fiscal", "required table is missing (the printer is a fiscal registrar)")
    check_catalog(desk.catalog, str(config.catalog_path))
    if registrar is None:
        # the registrar's clock is read in the terminal's zone unless the configuration names another
        registrar = open_registrar({"tz": config.timezone.key, **config.printer.options}, str(config.file))
    ledger = FiscalLedger(journal)
    ledger.start()
    fiscal = FiscalDesk(registrar, ledger, config, desk.catalog)
    desk.printer = FiscalPrinter(registrar, fiscal.lock)
    desk.fiscal = fiscal
    return fiscal


def upkeep(fiscal: FiscalDesk, operation: Callable[[int], Operation]) -> dict[str, Any]:
    """Between payments: the scheduled Z-report, then receipts still owed (after paper out, a crash, a lost link)."""
    try:
        fiscal.scheduled_z_report()
    except Exception as exc:  # reported, and tried again at the next upkeep; payments go on
        log.warning("scheduled Z-report: %s", exc)
    note_warnings(fiscal)
    note_validity(fiscal, fiscal.now())  # the registrar's real time, like its shifts
    result = fiscal.catch_up(operation)
    if result["made"] or result["owed"]:
        log.info("fiscal upkeep: %s", result)
    return result


WARNINGS_KEY = "fiscal_warnings"  # journal meta: the fiscal drive's warnings last seen (comma-separated)
WARNING_WORDS = {"fn_replace_3_days": "the fiscal drive must be replaced within 3 days",
                 "fn_replace_30_days": "the fiscal drive must be replaced within 30 days",
                 "fn_memory_90": "the fiscal drive's memory is 90 % full",
                 "ofd_timeout": "documents have waited too long for the fiscal data operator (OFD)"}


def note_warnings(fiscal: FiscalDesk) -> list[str]:
    """A warning the fiscal drive starts to give is journaled once as an incident (support replaces the drive)."""
    journal = fiscal.ledger.journal
    try:
        with fiscal.lock:
            current = sorted(fiscal.registrar.status().warnings)
    except Exception as exc:  # the registrar not answering is the receipts' problem, reported there
        log.info("fiscal warnings not read: %s", exc)
        return []
    seen = set(filter(None, (journal.meta(WARNINGS_KEY) or "").split(",")))
    new = [w for w in current if w not in seen]
    for warning in new:
        journal.incident("fiscal_warning", WARNING_WORDS.get(warning, warning))
    if set(current) != seen:
        journal.set_meta(WARNINGS_KEY, ",".join(current))
    return new
