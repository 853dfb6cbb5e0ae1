"""A charge registry file (docs/charge-registry.md) read into accounts, or every row-level error it has.

CSV (UTF-8 with or without BOM, else Windows-1251; `;` or `,` between fields, told by the header line) or XLSX (the
first sheet). One line per account and service; a further line of the same account and service carries one more
meter. Nothing is guessed: a value that is not what its column holds is an error naming the line and the column."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from provisioning.row_errors import RowError

MAX_BYTES = 50 * 1024 * 1024
MAX_ERRORS = 200
MAX_LINES = 2_000_000  # a workbook's rows are not bounded by its compressed size: stop reading a "zip bomb" early
REQUIRED = ("account", "period", "service", "debt")
OPTIONAL = ("payer", "address", "service_name", "charge", "meter", "meter_name", "unit", "previous", "previous_date")
COLUMNS = REQUIRED + OPTIONAL
METER_COLUMNS = ("meter", "meter_name", "unit", "previous", "previous_date")
ACCOUNT = re.compile(r"[0-9A-Za-z._/-]{1,40}")
SERVICE = re.compile(r"[0-9A-Za-z_.-]{1,40}")
METER = re.compile(r"[0-9A-Za-z_./-]{1,40}")
AMOUNT = re.compile(r"(-?)(\d{1,11})(?:[.,](\d{1,2}))?")
READING = re.compile(r"(\d{1,9})(?:[.,](\d{1,3}))?")
PERIOD = re.compile(r"(0[1-9]|1[0-2])[./-]?(\d{4})")
# the protocol's meter units (contracts.md: m3 | kWh): payers read water and electricity meters, not heat meters
UNITS = {"m3": "m3", "м3": "m3", "м³": "m3", "m³": "m3", "kwh": "kWh", "квт·ч": "kWh", "квт*ч": "kWh", "квтч": "kWh",
         "квт.ч": "kWh"}
_SPACES = str.maketrans("", "", " \u00a0\u202f\u2009")


@dataclass
class ParsedAccount:
    """One account as the registry states it (amounts in kopecks, readings as decimal strings)."""

    account: str
    line: int
    payer: str = ""
    address: str = ""
    services: list[dict[str, Any]] = field(default_factory=list)
    meters: list[dict[str, str]] = field(default_factory=list)

    @property
    def debt(self) -> int:
        """The account's whole debt: the sum of its services' (an overpaid service counts negative)."""
        return sum(int(s["amount"]) for s in self.services)


@dataclass
class ParsedRegistry:
    """A whole valid registry: its period (MMYYYY) and accounts in file order."""

    period: str
    accounts: list[ParsedAccount]

    @property
    def period_key(self) -> int:
        """YYYYMM, to order periods."""
        return int(self.period[2:]) * 100 + int(self.period[:2])

    @property
    def total(self) -> int:
        """The sum of every account's debt, in kopecks."""
        return sum(a.debt for a in self.accounts)


class RegistryRefused(Exception):
    """The file is refused as a whole; `errors` says where and why (at most MAX_ERRORS, `more` beyond them)."""

    def __init__(self, errors: list[RowError], more: int = 0) -> None:
        super().__init__("; ".join(str(e) for e in errors[:3]) + (" …" if len(errors) > 3 or more else ""))
        self.errors, self.more = errors, more


def parse(filename: str, data: bytes) -> ParsedRegistry:
    """The registry in `data` (CSV or XLSX, told by its content), or RegistryRefused with every error found."""
    if len(data) > MAX_BYTES:
        raise RegistryRefused([RowError(0, "", f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB")])
    if data.startswith(b"PK\x03\x04"):
        rows = _xlsx_rows(data)
    elif filename.lower().endswith((".xlsx", ".xlsm")):
        raise RegistryRefused([RowError(0, "", "the file is named .xlsx but is not an XLSX workbook")])
    else:
        rows = _csv_rows(data)
    return _Reader().read(rows)


def _csv_rows(data: bytes) -> Iterator[tuple[int, list[str]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1251", errors="replace")  # cp1251 maps almost every byte; the rest show as '?'
    header = text.split("\n", 1)[0]
    delimiter = ";" if header.count(";") >= header.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for row in reader:
            yield reader.line_num, row
    except csv.Error as exc:
        raise RegistryRefused([RowError(reader.line_num, "", f"not readable as CSV: {exc}")]) from exc


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise RegistryRefused([RowError(0, "", f"not a readable XLSX workbook: {exc}")]) from exc
    try:
        sheet = book.worksheets[0]
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [_cell_text(value) for value in row]
    finally:
        book.close()


def _cell_text(value: Any) -> str:
    """A spreadsheet cell as the text a CSV would hold (numbers exactly as stored, dates as ISO dates)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        # repr is the shortest text that reads back as the same float: 12.3 stays "12.3", never 12.2999…
        text = repr(value)
        return str(Decimal(text)) if "e" in text.lower() else text
    return str(value)


class _Reader:
    """Reads lines into accounts, collecting every error instead of stopping at the first."""

    def __init__(self) -> None:
        self.errors: list[RowError] = []
        self.more = 0
        self.accounts: dict[str, ParsedAccount] = {}
        self.service_lines: dict[tuple[str, str], int] = {}
        self.period = ""
        self.period_line = 0

    def error(self, line: int, column: str, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(RowError(line, column, message))
        else:
            self.more += 1

    def read(self, rows: Iterable[tuple[int, list[str]]]) -> ParsedRegistry:
        iterator = iter(rows)
        names: list[str] = []
        for line, row in iterator:
            if any(cell.strip() for cell in row):
                names = self.header(line, row)
                break
        else:
            raise RegistryRefused([RowError(1, "", "the file is empty: a header line is expected")])
        if self.errors:
            raise RegistryRefused(self.errors)
        for line, row in iterator:
            if line > MAX_LINES:
                self.error(line, "", f"the registry has more than {MAX_LINES} lines")
                break
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(names) and any(cell.strip() for cell in row[len(names):]):
                self.error(line, "", f"{len(row)} fields, the header names {len(names)}")
                continue
            self.line(line, {name: (row[i].strip() if i < len(row) else "") for i, name in enumerate(names)})
        if not self.accounts and not self.errors:
            self.error(0, "", "the registry has no accounts")
        if self.errors:
            raise RegistryRefused(self.errors, self.more)
        return ParsedRegistry(self.period, list(self.accounts.values()))

    def header(self, line: int, row: list[str]) -> list[str]:
        names = [cell.strip().lower() for cell in row]
        while names and not names[-1]:
            names.pop()
        for name in names:
            if name not in COLUMNS:
                self.error(line, name or "(empty)", f"unknown column; the columns are: {', '.join(COLUMNS)}")
            elif names.count(name) > 1:
                self.error(line, name, "the column is named twice")
        for name in REQUIRED:
            if name not in names:
                self.error(line, name, "the required column is missing")
        return names

    def line(self, line: int, row: dict[str, str]) -> None:
        before = len(self.errors) + self.more
        account = row["account"]
        if not ACCOUNT.fullmatch(account):
            self.error(line, "account", f"{account!r} is not an account (1-40 letters, digits, . _ / -)")
        self.check_period(line, row["period"])
        service = row["service"]
        if not SERVICE.fullmatch(service):
            self.error(line, "service", f"{service!r} is not a service code (1-40 letters, digits, _ . -)")
        debt = _amount(self, line, "debt", row["debt"])
        charge = _amount(self, line, "charge", row.get("charge", ""))
        meter = self.meter(line, row, service)
        if len(self.errors) + self.more > before:
            return
        entry = self.accounts.get(account)
        if entry is None:
            entry = self.accounts[account] = ParsedAccount(account, line, row.get("payer", ""), row.get("address", ""))
        for column in ("payer", "address"):
            value, kept = row.get(column, ""), getattr(entry, column)
            if value and kept and value != kept:
                self.error(line, column, f"{value!r} differs from line {entry.line}'s {kept!r} for the same account")
            elif value and not kept:
                setattr(entry, column, value)
        first = self.service_lines.get((account, service))
        if first is None:
            if debt is None:
                self.error(line, "debt", "the first line of a service must give its debt")
                return
            self.service_lines[(account, service)] = line
            entry.services.append({"service": service, "name": row.get("service_name", "") or service,
                                   "charge": debt if charge is None else charge, "amount": debt})
        elif debt is not None or charge is not None or meter is None:
            self.error(line, "debt" if debt is not None or charge is not None else "meter",
                       f"service {service!r} of this account is on line {first} already; a further line of it "
                       "carries one more meter and no amounts")
            return
        if meter is not None:
            if any(m["meter"] == meter["meter"] for m in entry.meters):
                self.error(line, "meter", f"meter {meter['meter']!r} is listed twice for this account")
            else:
                entry.meters.append(meter)

    def check_period(self, line: int, text: str) -> None:
        found = PERIOD.fullmatch(text.translate(_SPACES).zfill(6))
        if not found:
            self.error(line, "period", f"{text!r} is not a period (MMYYYY, e.g. 102026)")
            return
        period = found.group(1) + found.group(2)
        if not self.period:
            self.period, self.period_line = period, line
        elif period != self.period:
            self.error(line, "period", f"{period!r} differs from the registry's period {self.period!r} "
                                       f"(line {self.period_line}): one registry holds one period")

    def meter(self, line: int, row: dict[str, str], service: str) -> dict[str, str] | None:
        if not any(row.get(name, "") for name in METER_COLUMNS):
            return None
        meter, unit_text, previous = row.get("meter", ""), row.get("unit", ""), row.get("previous", "")
        ok = True
        if not METER.fullmatch(meter):
            self.error(line, "meter", f"{meter!r} is not a meter id (1-40 letters, digits, _ . / -)")
            ok = False
        unit = UNITS.get(unit_text.lower().replace(" ", ""))
        if unit is None:
            self.error(line, "unit", f"{unit_text!r} is not a unit; one of m3, kWh")
            ok = False
        reading = READING.fullmatch(previous.translate(_SPACES))
        if not reading:
            self.error(line, "previous", f"{previous!r} is not a meter reading (e.g. 123.45, not negative)")
            ok = False
        when = _date(row.get("previous_date", ""))
        if when is None:
            self.error(line, "previous_date", f"{row.get('previous_date')!r} is not a date (YYYY-MM-DD or DD.MM.YYYY)")
            ok = False
        if not ok or reading is None or unit is None or when is None:
            return None
        value = reading.group(1).lstrip("0") or "0"
        if reading.group(2):
            value += "." + reading.group(2)
        return {"meter": meter, "name": row.get("meter_name", "") or meter, "service": service, "unit": unit,
                "previous": value, "previous_date": when}


def _amount(reader: _Reader, line: int, column: str, text: str) -> int | None:
    """Kopecks from '1 234,5' or '-12.30'; None for an empty cell; an error for anything else."""
    if not text:
        return None
    found = AMOUNT.fullmatch(text.translate(_SPACES))
    if not found:
        reader.error(line, column, f"{text!r} is not an amount (roubles, e.g. 1234.56 or 1 234,56)")
        return None
    sign, roubles, kopecks = found.groups()
    value = int(roubles) * 100 + int((kopecks or "0").ljust(2, "0"))
    return -value if sign else value


def _date(text: str) -> str | None:
    """An ISO date from YYYY-MM-DD or DD.MM.YYYY; '' for an empty cell; None when it is not a date."""
    if not text:
        return ""
    for pattern in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, pattern).date().isoformat()
        except ValueError:
            continue
    return None
