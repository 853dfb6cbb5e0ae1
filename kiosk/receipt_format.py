"""How values are written on a receipt: the time with its zone, the account (masked), the support QR payload.

QR payload (ASCII, fields in this order, '|' separated)::

    KIOSK1|T=<terminal>|N=<operation>|S=<cash accepted, integer minor units>|D=<local time YYYYMMDDTHHMMSS±HHMM>
    KIOSK1|T=10001|N=42|S=150000|D=20261121T140509+0300

`KIOSK1` is the format version; a reader rejects anything else rather than guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kiosk.money import Money

QR_VERSION = "KIOSK1"


def time_zone(name: str) -> ZoneInfo:
    """The IANA time zone of that name; ValueError naming what was expected."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"expected an IANA time zone like 'Europe/Moscow', got {name!r}") from None


def format_time(when: datetime, timezone: str, lang: str) -> str:
    """'21.11.2026 14:05:09 MSK (UTC+03:00)'; English uses ISO date order, which no reader misreads."""
    local = when.astimezone(time_zone(timezone))
    offset = local.strftime("%z")
    utc = f"UTC{offset[:3]}:{offset[3:]}"
    abbrev = local.tzname() or ""
    # Zones without a letter abbreviation report '+05'; printing it twice says nothing.
    zone = f"{abbrev} ({utc})" if abbrev and abbrev[0].isalpha() else utc
    stamp = local.strftime("%d.%m.%Y %H:%M:%S" if lang == "ru" else "%Y-%m-%d %H:%M:%S")
    return f"{stamp} {zone}"


def format_account(account: str, masking: str) -> str:
    """A phone in full (+7 (912) 345-67-89), a card-like number masked (4276 **** **** 1234), else as typed."""
    digits = re.sub(r"\D", "", account)
    if masking == "phone":
        if len(digits) == 11 and digits[0] in "78":
            digits = digits[1:]
        if len(digits) == 10:
            return f"+7 ({digits[:3]}) {digits[3:6]}-{digits[6:8]}-{digits[8:]}"
        return account
    if masking == "card":
        if len(digits) < 10:
            return "*" * max(len(digits) - 4, 0) + digits[-4:]
        # First 4 and last 4 stay readable, as on card slips; every other digit becomes '*'.
        hidden = digits[:4] + "*" * (len(digits) - 8) + digits[-4:]
        return " ".join(hidden[i:i + 4] for i in range(0, len(hidden), 4))
    return account


def qr_payload(terminal: str, operation: int, cash: Money, when: datetime) -> str:
    """The support QR payload (see the module docstring)."""
    stamp = when.strftime("%Y%m%dT%H%M%S%z")
    return f"{QR_VERSION}|T={terminal}|N={operation}|S={cash.minor}|D={stamp}"


@dataclass(frozen=True, slots=True)
class QrFields:
    """A parsed support QR payload."""

    terminal: str
    operation: int
    cash_minor: int
    when: datetime


_QR_RE = re.compile(rf"{QR_VERSION}\|T=(\d{{1,10}})\|N=(\d+)\|S=(\d+)\|D=(\d{{8}}T\d{{6}}[+-]\d{{4}})")


def parse_qr_payload(text: str) -> QrFields:
    """Read a support QR payload back; ValueError for anything that is not exactly our format."""
    match = _QR_RE.fullmatch(text)
    if not match:
        raise ValueError(f"not a {QR_VERSION} receipt payload: {text!r}")
    when = datetime.strptime(match[4], "%Y%m%dT%H%M%S%z")
    return QrFields(match[1], int(match[2]), int(match[3]), when)
