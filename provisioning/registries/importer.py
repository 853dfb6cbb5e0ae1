"""Reading a processing system's registry: CSV in UTF-8 or Windows-1251, any delimiter, columns named by header or
by position, amounts in roubles ("1 234,50", "123.45") or kopecks, times in a configured format (the provider's
zone). The whole file is checked before anything is used: every malformed line is reported (line number, column,
what was wrong) and nothing of such a file is imported."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from provisioning.row_errors import RowError

FIELDS = ("external_id", "terminal", "operation", "account", "amount", "time")
MAX_ERRORS = 50
_ROUBLES = re.compile(r"-?\d+(?:[.,]\d{1,2})?")


class FormatError(Exception):
    """An import format (column mapping, encoding…) that cannot be used, naming the setting."""


class ImportRejected(Exception):
    """A file with malformed lines: every error found (at most MAX_ERRORS), none of the file imported."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__("; ".join(str(e) for e in errors[:5]) + (" …" if len(errors) > 5 else ""))
        self.errors = errors


@dataclass
class ImportFormat:
    """How to read one processing system's registry; `columns` maps our field to a header name or a 1-based
    column number (with `header` false, numbers only)."""

    delimiter: str = ";"
    encoding: str = "utf-8"
    header: bool = True
    columns: dict[str, str] = field(default_factory=lambda: {
        "external_id": "gateway_id", "terminal": "terminal", "operation": "operation", "account": "account",
        "amount": "amount", "time": "paid_at"})
    amount_unit: str = "roubles"  # or "kopecks"
    amount_is: str = "credited"  # what their amount is: credited to the provider, or the "cash" the payer gave
    time_format: str = "%Y-%m-%d %H:%M:%S"
    window_minutes: int = 10  # how far apart the two sides' times may be for a match by account and amount

    @classmethod
    def from_json(cls, text: str) -> ImportFormat:
        """The format saved with a provider's settings ('{}' gives the defaults: our own registry's layout)."""
        try:
            data = json.loads(text or "{}")
        except ValueError as exc:
            raise FormatError(f"import format is not JSON: {exc}") from exc
        if not isinstance(data, dict) or set(data) - set(cls.__dataclass_fields__):
            raise FormatError(f"import format: expected an object with some of {sorted(cls.__dataclass_fields__)}")
        made = cls(**data)
        made.check()
        return made

    def to_json(self) -> str:
        """As saved with the provider's settings."""
        return json.dumps(asdict(self), ensure_ascii=False)

    def check(self) -> None:
        """A FormatError for a setting that cannot work."""
        if len(self.delimiter) != 1:
            raise FormatError(f"delimiter {self.delimiter!r}: expected one character")
        if self.encoding not in ("utf-8", "windows-1251"):
            raise FormatError(f"encoding {self.encoding!r}: expected utf-8 or windows-1251")
        if self.amount_is not in ("credited", "cash"):
            raise FormatError(f"amount_is {self.amount_is!r}: expected credited or cash")
        if self.amount_unit not in ("roubles", "kopecks"):
            raise FormatError(f"amount_unit {self.amount_unit!r}: expected roubles or kopecks")
        unknown = set(self.columns) - set(FIELDS)
        if unknown:
            raise FormatError(f"columns: unknown field(s) {sorted(unknown)}; expected some of {list(FIELDS)}")
        if "amount" not in self.columns:
            raise FormatError("columns: the amount column is required")
        if not ({"external_id"} & set(self.columns) or {"terminal", "operation"} <= set(self.columns)
                or {"account", "time"} <= set(self.columns)):
            raise FormatError("columns: a match needs external_id, or terminal and operation, or account and time")
        if not self.header and not all(str(v).isdigit() for v in self.columns.values()):
            raise FormatError("columns: without a header line, columns are numbers (1 is the first)")


@dataclass(frozen=True)
class TheirRow:
    """One payment in the processing system's registry (money in kopecks; time aware, or None)."""

    line: int
    amount: int
    external_id: str = ""
    terminal: str = ""
    operation: int | None = None
    account: str = ""
    at: datetime | None = None


def kopecks(text: str, unit: str) -> int:
    """An amount cell as kopecks; ValueError saying what was expected."""
    cleaned = text.replace("\u00a0", "").replace(" ", "").strip()
    if unit == "kopecks":
        if not re.fullmatch(r"-?\d+", cleaned):
            raise ValueError(f"{text!r} is not a whole number of kopecks")
        return int(cleaned)
    if not _ROUBLES.fullmatch(cleaned):
        raise ValueError(f"{text!r} is not an amount in roubles like 123.45")
    try:
        return int(Decimal(cleaned.replace(",", ".")) * 100)
    except InvalidOperation as exc:
        raise ValueError(f"{text!r} is not an amount") from exc


def _decode(data: bytes, encoding: str) -> str:
    try:
        return data.decode("utf-8-sig" if encoding == "utf-8" else encoding)
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ImportRejected([RowError(line, "", f"byte 0x{data[exc.start]:02x} is not {encoding} text "
                                                 "(is the file in the other encoding?)")]) from exc


def _positions(fmt: ImportFormat, header: list[str]) -> tuple[dict[str, int], list[RowError]]:
    positions, errors = {}, []
    names = [h.strip().lower() for h in header]
    for name, column in fmt.columns.items():
        text = str(column).strip()
        if text.isdigit():
            positions[name] = int(text) - 1
        elif text.lower() in names:
            positions[name] = names.index(text.lower())
        else:
            errors.append(RowError(1, text, f"no such column in the header (the {name} column); the header has "
                                            f"{', '.join(h for h in header if h) or 'nothing'}"))
    return positions, errors


def _row(fmt: ImportFormat, zone: tzinfo, line: int, cells: list[str], positions: dict[str, int],
         labels: dict[str, str]) -> tuple[TheirRow | None, list[RowError]]:
    errors: list[RowError] = []
    values: dict[str, Any] = {}
    for name, index in positions.items():
        if index >= len(cells):
            errors.append(RowError(line, labels[name], f"missing: the line has only {len(cells)} fields"))
            continue
        text = cells[index].strip()
        try:
            if name == "amount":
                values[name] = kopecks(text, fmt.amount_unit)
            elif name == "operation":
                values[name] = int(text) if text else None
            elif name == "time":
                values["at"] = datetime.strptime(text, fmt.time_format).replace(tzinfo=zone) if text else None
            else:
                values[name] = text
        except ValueError as exc:
            problem = (f"{text!r} does not match the time format {fmt.time_format}" if name == "time"
                       else f"{text!r} is not an operation number" if name == "operation" else str(exc))
            errors.append(RowError(line, labels[name], problem))
    if errors:
        return None, errors
    return TheirRow(line=line, **values), []


def parse(data: bytes, fmt: ImportFormat, zone: tzinfo) -> list[TheirRow]:
    """Every payment line of the file, or ImportRejected listing what is wrong (blank lines are skipped)."""
    fmt.check()
    text = _decode(data, fmt.encoding)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=fmt.delimiter)
    rows: list[TheirRow] = []
    errors: list[RowError] = []
    positions: dict[str, int] = {}
    labels: dict[str, str] = {}
    try:
        for cells in reader:
            line = reader.line_num
            if fmt.header and not positions and not errors:
                positions, errors = _positions(fmt, cells)
                labels = {name: str(fmt.columns[name]) for name in positions}
                if errors:
                    break
                continue
            if not positions:
                positions = {name: int(str(column)) - 1 for name, column in fmt.columns.items()}
                labels = {name: f"{column} ({name})" for name, column in fmt.columns.items()}
            if not any(c.strip() for c in cells):
                continue
            row, problems = _row(fmt, zone, line, cells, positions, labels)
            errors += problems
            if row is not None:
                rows.append(row)
            if len(errors) >= MAX_ERRORS:
                break
    except csv.Error as exc:
        errors.append(RowError(reader.line_num, "", f"not CSV: {exc}"))
    if errors:
        raise ImportRejected(errors[:MAX_ERRORS])
    if fmt.header and not positions:
        raise ImportRejected([RowError(1, "", "the file is empty (no header line)")])
    return rows
