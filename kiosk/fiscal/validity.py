"""The fiscal drive's validity date (FF03): read between payments, kept in the journal for the heartbeat, and
warned about once per step as the date nears (support must replace the drive before it stops signing)."""

from __future__ import annotations

import json
import logging
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from kiosk.fiscal.desk import FiscalDesk
from kiosk.offline_queue.journal import Journal

log = logging.getLogger(__name__)

VALIDITY_KEY = "fiscal_validity"  # journal meta: {"fn", "valid_until"} as last read from the drive
WARNED_KEY = "fiscal_validity_warned"  # journal meta: "FN:step" of the last warning given
#: warning steps: fewer days left than this → one incident (the drive signs nothing after its date)
STEPS = (30, 3, 0)


def days_left(valid_until: date, now: datetime, timezone: ZoneInfo) -> int:
    """Whole days from the terminal's local today to the validity date (negative: past it)."""
    return (valid_until - now.astimezone(timezone).date()).days


def known_validity(journal: Journal, now: datetime, timezone: ZoneInfo) -> dict[str, Any] | None:
    """What the heartbeat reports: FN number, validity date and days left, from the last reading (no device I/O)."""
    raw = journal.meta(VALIDITY_KEY)
    if not raw:
        return None
    known = json.loads(raw)
    until = date.fromisoformat(known["valid_until"])
    return {"fn": known["fn"], "valid_until": until.isoformat(), "days_left": days_left(until, now, timezone)}


def note_validity(fiscal: FiscalDesk, now: datetime) -> dict[str, Any] | None:
    """Read FF03, remember it, and journal an incident the first time the days left fall below each step."""
    journal = fiscal.ledger.journal
    try:
        with fiscal.lock:
            until = fiscal.registrar.valid_until()
            fn = fiscal.registrar.status().fn_number
    except Exception as exc:  # the registrar not answering is the receipts' problem, reported there
        log.info("fiscal drive validity not read: %s", exc)
        return known_validity(journal, now, fiscal.config.timezone)
    journal.set_meta(VALIDITY_KEY, json.dumps({"fn": fn, "valid_until": until.isoformat()}))
    left = days_left(until, now, fiscal.config.timezone)
    step = min((s for s in STEPS if left < s), default=None)
    warned = journal.meta(WARNED_KEY) or ""
    if step is not None and warned != f"{fn}:{step}" and not _warned_lower(warned, fn, step):
        words = (f"the fiscal drive {fn} is past its validity date {until.isoformat()}: it signs nothing, replace it"
                 if left < 0 else
                 f"the fiscal drive {fn} must be replaced: valid until {until.isoformat()}, {left} day(s) left")
        journal.incident("fiscal_drive_expiring", words)
        journal.set_meta(WARNED_KEY, f"{fn}:{step}")
    return {"fn": fn, "valid_until": until.isoformat(), "days_left": left}


def _warned_lower(warned: str, fn: str, step: int) -> bool:
    """A warning for this drive at a later (smaller) step was given already: no going back up."""
    drive, _, given = warned.partition(":")
    return drive == fn and given.isdigit() and int(given) <= step
