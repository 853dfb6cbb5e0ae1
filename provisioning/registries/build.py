"""A provider's daily payment registry: the day's delivered payments (the provider's local day), one line per
payment — or, for a payment whose details split the sum across utility services or carry meter readings, one line
per service and meter — written as CSV (UTF-8 or Windows-1251, ';') or XLSX, and kept in the archive.

The layout (docs/registries.md): every line repeats the payment's columns, so a loader keys on terminal+operation;
`service_amount` is filled once per service, so the service amounts of a payment add up to its `amount`."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from provisioning.db.models import Terminal
from provisioning.journal.models import JournalOperation
from provisioning.registries.models import RegistryFile, RegistryProfile

FORMATS = ("csv", "xlsx")
ENCODINGS = ("utf-8", "windows-1251")
BOOKED = "delivered"  # only payments the provider accepted belong in its registry
PROVIDER = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")  # the catalog's provider ids (also the file's name)
COLUMNS = ("terminal", "operation", "paid_at", "account", "amount", "fee", "cash", "gateway_id", "service",
           "service_name", "service_amount", "meter", "meter_name", "unit", "previous", "value")


class RegistryError(Exception):
    """A registry that cannot be built as asked (unknown format, a zone that does not exist, text the encoding
    cannot hold), naming what was wrong."""


@dataclass(frozen=True)
class Payment:
    """One delivered payment as the registry shows it (times in the provider's zone, money in kopecks)."""

    terminal: str
    operation: int
    paid_at: datetime
    account: str
    amount: int
    fee: int
    cash: int
    gateway_id: str
    split: list[dict[str, Any]] = field(default_factory=list)
    readings: list[dict[str, Any]] = field(default_factory=list)


def check_provider(code: str) -> str:
    """The provider id, or a RegistryError when it is not one the catalog allows."""
    if not PROVIDER.fullmatch(code):
        raise RegistryError(f"provider {code!r}: expected a lower-case id (letters, digits, _ and -)")
    return code


def zone_of(name: str) -> ZoneInfo:
    """The zone named, or a RegistryError naming it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise RegistryError(f"unknown time zone {name!r}") from exc


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The local day as a UTC-comparable half-open range (a 23- or 25-hour day where the clocks change)."""
    return datetime.combine(day, time(), zone), datetime.combine(day + timedelta(days=1), time(), zone)


def profile_of(session: Session, dealer_id: int, provider: str) -> RegistryProfile:
    """The provider's registry settings, or the defaults (not stored) when none were saved."""
    found = session.scalar(select(RegistryProfile).where(RegistryProfile.dealer_id == dealer_id,
                                                         RegistryProfile.provider == provider))
    return found or RegistryProfile(dealer_id=dealer_id, provider=provider, name="", timezone="Europe/Moscow",
                                    build_at="03:00", scheduled=False, formats="csv", encoding="utf-8", emails="",
                                    drop_dir="", import_format="{}")


def details_of(op: JournalOperation) -> dict[str, Any]:
    """The operation's details as the terminal journaled them (an empty dict for missing or broken JSON)."""
    try:
        details = json.loads(op.details or "{}")
    except ValueError:
        return {}
    return details if isinstance(details, dict) else {}


def payments(session: Session, dealer_id: int, provider: str, day: date, zone: ZoneInfo) -> list[Payment]:
    """The provider's delivered payments opened on its local `day`, in time order."""
    start, end = day_bounds(day, zone)
    rows = session.execute(
        select(Terminal.number, JournalOperation).join(Terminal, Terminal.id == JournalOperation.terminal_id)
        .where(JournalOperation.dealer_id == dealer_id, JournalOperation.provider == provider,
               JournalOperation.state == BOOKED, JournalOperation.created_utc >= start,
               JournalOperation.created_utc < end)
        .order_by(JournalOperation.created_utc, Terminal.number, JournalOperation.operation)).all()
    out = []
    for number, op in rows:
        details = details_of(op)
        split = [s for s in details.get("split") or [] if isinstance(s, dict)]
        readings = [r for r in details.get("readings") or [] if isinstance(r, dict)]
        fee = op.fee or 0
        out.append(Payment(number, op.operation, op.created_utc.astimezone(zone), op.account,
                           op.credited if op.credited is not None else op.cash - fee, fee, op.cash,
                           op.external_id or "", split, readings))
    return out


def fingerprint(session: Session, dealer_id: int, provider: str, day: date, zone: ZoneInfo) -> str:
    """A cheap sign that the day's registry may have changed, counted in the database: how many payments and the sum
    of their change sequence numbers (every version a terminal uploads has a higher one). Equal: nothing changed;
    different: `digest` decides (an upload that changed only the receipt's state changes no registry line)."""
    start, end = day_bounds(day, zone)
    count, changes = session.execute(
        select(func.count(), func.coalesce(func.sum(JournalOperation.change_seq), 0))
        .where(JournalOperation.dealer_id == dealer_id, JournalOperation.provider == provider,
               JournalOperation.state == BOOKED, JournalOperation.created_utc >= start,
               JournalOperation.created_utc < end)).one()
    return f"{count}:{changes}"


def roubles(kopecks: int) -> Decimal:
    """Kopecks as an exact rouble amount with two places."""
    return (Decimal(kopecks) / 100).quantize(Decimal("0.01"))


def lines(found: list[Payment]) -> list[list[Any]]:
    """The registry's lines (without the header): COLUMNS in order, money as Decimal roubles."""
    out: list[list[Any]] = []
    for p in found:
        head = [p.terminal, p.operation, p.paid_at.strftime("%Y-%m-%d %H:%M:%S"), p.account, roubles(p.amount),
                roubles(p.fee), roubles(p.cash), p.gateway_id]
        services = [(str(s.get("service", "")), str(s.get("name", "")), s.get("amount")) for s in p.split]
        named = {code for code, _, _ in services}
        for reading in p.readings:  # a reading of a service the split does not name gets a line of its own
            code = str(reading.get("service", ""))
            if code not in named:
                named.add(code)
                services.append((code, "", None))
        if not services:
            out.append([*head, "", "", "", "", "", "", "", ""])
            continue
        for code, name, amount in services:
            meters: list[dict[str, Any] | None] = [r for r in p.readings if str(r.get("service", "")) == code]
            for index, meter_reading in enumerate(meters or [None]):
                money = roubles(int(amount)) if isinstance(amount, int) and index == 0 else ""
                meter = ([str(meter_reading.get(k, "")) for k in ("meter", "name", "unit", "previous", "value")]
                         if meter_reading else ["", "", "", "", ""])
                out.append([*head, code, name, money, *meter])
    return out


def render_csv(found: list[Payment], encoding: str) -> bytes:
    """The registry as CSV: a header line, ';' between fields, CRLF, in the given encoding."""
    if encoding not in ENCODINGS:
        raise RegistryError(f"CSV encoding {encoding!r}: expected one of {', '.join(ENCODINGS)}")
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for number, line in enumerate(lines(found), start=2):
        row = [str(v) for v in line]
        try:
            "".join(row).encode(encoding)
        except UnicodeEncodeError as exc:
            raise RegistryError(f"line {number}: {exc.object[exc.start:exc.end]!r} cannot be written in "
                                f"{encoding}") from exc
        writer.writerow(row)
    return buffer.getvalue().encode(encoding)


def render_xlsx(found: list[Payment], title: str) -> bytes:
    """The registry as an XLSX workbook: sheet 'registry' (COLUMNS, money as numbers shown with two decimals) and
    sheet 'totals'. Written in openpyxl's streaming mode (a busy day's registry in little memory)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet("registry")
    sheet.append(list(COLUMNS))
    money = {COLUMNS.index(name) for name in ("amount", "fee", "cash", "service_amount")}

    def cell(index: int, value: Any) -> Any:
        if index not in money or value == "":
            return value
        made = WriteOnlyCell(sheet, value=value)
        made.number_format = "0.00"
        return made

    for line in lines(found):
        sheet.append([cell(i, v) for i, v in enumerate(line)])
    totals = book.create_sheet("totals")
    for row in (("registry", title), ("payments", len(found)), ("amount", roubles(sum(p.amount for p in found))),
                ("fee", roubles(sum(p.fee for p in found))), ("cash", roubles(sum(p.cash for p in found)))):
        totals.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def render(found: list[Payment], fmt: str, encoding: str, title: str) -> bytes:
    """The registry in one of FORMATS."""
    if fmt == "csv":
        return render_csv(found, encoding)
    if fmt == "xlsx":
        return render_xlsx(found, title)
    raise RegistryError(f"format {fmt!r}: expected one of {', '.join(FORMATS)}")


def digest(found: list[Payment]) -> str:
    """What a registry holds, whatever its format (an XLSX differs byte for byte each time it is written): two
    builds of a day with the same digest list the same payments with the same columns."""
    text = json.dumps([[p.terminal, p.operation, p.paid_at.isoformat(), p.account, p.amount, p.fee, p.cash,
                        p.gateway_id, p.split, p.readings] for p in found], ensure_ascii=False, sort_keys=True,
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def build(session: Session, dealer_id: int, provider: str, day: date, fmt: str, actor: str,
          amendment: bool = False) -> RegistryFile:
    """Build the provider's registry for its local `day` and keep it in the archive (a new version each time;
    `amendment`: made because the day changed after it was built, and named so)."""
    check_provider(provider)
    profile = profile_of(session, dealer_id, provider)
    zone = zone_of(profile.timezone)
    # counted before the rows are read: a change landing in between makes the next check look again, never miss it
    sign = fingerprint(session, dealer_id, provider, day, zone)
    found = payments(session, dealer_id, provider, day, zone)
    title = f"{profile.name or provider} {day.isoformat()}"
    content = render(found, fmt, profile.encoding, title)
    version = (session.scalar(select(func.max(RegistryFile.version)).where(
        RegistryFile.dealer_id == dealer_id, RegistryFile.provider == provider, RegistryFile.day == day,
        RegistryFile.format == fmt)) or 0) + 1
    suffix = (f"_v{version}" if version > 1 else "") + ("_amendment" if amendment else "")
    row = RegistryFile(dealer_id=dealer_id, provider=provider, day=day, format=fmt, version=version,
                       file_name=f"{provider}_{day:%Y%m%d}{suffix}.{fmt}", content=content,
                       sha256=hashlib.sha256(content).hexdigest(), payments=len(found),
                       amount=sum(p.amount for p in found), fee=sum(p.fee for p in found), built_by=actor[:200],
                       digest=digest(found), fingerprint=sign, amendment=amendment)
    session.add(row)
    session.flush()
    return row
