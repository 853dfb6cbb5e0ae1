"""GOST R 56042-2014 payment codes (the QR on a unified utility bill): parse with reasons, and format.

`parse(bytes or text)` returns a PaymentCode or a Refusal (a value, never an exception: a bad code is an
everyday outcome at a terminal). `format_code(PaymentCode)` writes one, so every valid code round-trips.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from types import MappingProxyType

from kiosk.bills.checksums import correspondent_account_ok, inn_ok, settlement_account_ok
from kiosk.bills.refusals import Reason, Refusal

HEADER = "ST0001"
ENCODINGS = MappingProxyType({"1": "cp1251", "2": "utf-8", "3": "koi8_r"})
DIGIT_OF_ENCODING = MappingProxyType({name: digit for digit, name in ENCODINGS.items()})
MANDATORY = ("Name", "PersonalAcc", "BankName", "BIC", "CorrespAcc")
MANDATORY_BLOCK_BYTES = 300
ACCOUNT_RE = re.compile(r"[1-9]\d{4}[0-9ABCEHKMPTX]\d{14}")
# A treasury account (03100…, 03221… at a territorial body of the Federal Treasury, whose BIC does not start
# with 04 as a credit institution's does). The Bank of Russia key rule does not hold for them: two public ones
# (03100643000000018500 at BIC 017003983, 03100643000000017300 at BIC 004525988) fail it with the BIC's last
# three digits and with "0" + digits 5-6, while their single treasury accounts (40102…) pass the correspondent
# rule; so the payee's account is not key-checked there (the 40102… CorrespAcc still is).
TREASURY_RE = re.compile(r"03\d{18}")
TOFK_BIC_RE = re.compile(r"0[0-35-9]\d{7}")
PATTERNS = MappingProxyType({
    "PersonalAcc": re.compile(f"{ACCOUNT_RE.pattern}|{TREASURY_RE.pattern}"),
    "CorrespAcc": ACCOUNT_RE,
    "BIC": re.compile(r"\d{9}"),
    "KPP": re.compile(r"\d{4}[0-9A-Z]{2}\d{3}"),
    "PaymPeriod": re.compile(r"(0[1-9]|1[0-2])\.?\d{4}"),  # MMYYYY; some generators write MM.YYYY
    "TechCode": re.compile(r"0[1-9]|1[0-5]"),
    "UIN": re.compile(r"0|[0-9A-Za-z]{20}|\d{25}"),  # "0": no accrual identifier
    "QuittDate": re.compile(r"\d{2}\.\d{2}\.\d{4}"),
})
MAX_LENGTHS = MappingProxyType({"Name": 160, "BankName": 45, "Purpose": 160})
INN_FIELDS = ("PayeeINN", "PayerINN")
SUM_DIGITS = 18
# Bytes a scanner or a generator may leave after the last field; never part of a value.
TRAILING_JUNK = "\r\n\x00"


@dataclass(frozen=True)
class PaymentCode:
    """A valid payment code: the payee's bank details, optional fields in their order, and how it was written."""

    name: str
    personal_acc: str
    bank_name: str
    bic: str
    corresp_acc: str
    optional: tuple[tuple[str, str], ...] = ()
    encoding: str = "utf-8"
    separator: str = "|"
    trailing_separator: bool = False

    def get(self, key: str) -> str | None:
        """An optional field's value, or None when the code does not carry it."""
        return dict(self.optional).get(key)

    @property
    def sum_kopecks(self) -> int | None:
        """The amount due in kopecks, or None when the bill leaves the amount to the payer."""
        text = self.get("Sum")
        return int(text) if text else None

    @property
    def payer_account(self) -> str | None:
        """The payer's account at the provider (`PersAcc`): what the terminal fills in for the payer."""
        return self.get("PersAcc")

    @property
    def payee_inn(self) -> str | None:
        """The payee's INN, which with the account selects the provider."""
        return self.get("PayeeINN")

    @property
    def period(self) -> tuple[int, int] | None:
        """The billing period as (year, month), or None."""
        text = (self.get("PaymPeriod") or "").replace(".", "")
        return (int(text[2:]), int(text[:2])) if text else None


@dataclass
class _Reader:
    text: str
    encoding: str
    separator: str = ""
    values: dict[str, str] = field(default_factory=dict)


def parse(data: bytes | str) -> PaymentCode | Refusal:
    """Parse a scanned code (raw bytes from a serial scanner, or text typed by a keyboard-wedge scanner)."""
    header = (data[:7].decode("ascii", "replace") if isinstance(data, bytes) else data[:7])
    if not header.startswith(HEADER) or len(header) < 7:
        return Refusal(Reason.NOT_A_PAYMENT_CODE, detail=f"starts with {header!r}, not {HEADER}x")
    encoding = ENCODINGS.get(header[6])
    if encoding is None:
        return Refusal(Reason.UNKNOWN_ENCODING, detail=f"encoding digit {header[6]!r} (1, 2 or 3 expected)")
    text = _decode(data, encoding)
    if isinstance(text, Refusal):
        return text
    text = text.rstrip(TRAILING_JUNK)
    if len(text) < 8:
        return Refusal(Reason.BAD_SEPARATOR, detail="nothing after the header")
    separator = text[7]
    if separator.isalnum() or separator in "= \t" or separator in TRAILING_JUNK:
        return Refusal(Reason.BAD_SEPARATOR, detail=f"{separator!r} cannot separate Key=Value fields")
    reader = _Reader(text, encoding, separator)
    return _read_fields(reader) or _check(reader)


def _decode(data: bytes | str, encoding: str) -> str | Refusal:
    if isinstance(data, str):
        return data  # already characters (a keyboard-wedge scanner typed them)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        return Refusal(Reason.BAD_ENCODING, detail=f"not valid {encoding} at byte {exc.start}")
    if encoding != "utf-8" and not data.isascii() and _is_cyrillic_utf8(data):
        # Windows-1251 and KOI8-R decode any bytes; Cyrillic in UTF-8 read as either is mojibake the payer
        # would see as the payee's name. Real Windows-1251/KOI8-R text is valid UTF-8 only when every letter
        # pairs up as lead and continuation byte (such as "РЁ"), which no payee's name does.
        return Refusal(Reason.BAD_ENCODING, detail=f"declared {encoding} but the text is UTF-8")
    return text


def _is_cyrillic_utf8(data: bytes) -> bool:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return any("\u0400" <= char <= "\u04ff" for char in text)


def _read_fields(reader: _Reader) -> Refusal | None:
    pieces = reader.text[8:].split(reader.separator)
    if pieces and pieces[-1] == "":
        pieces.pop()  # a trailing separator: some generators write one, some do not
    for piece in pieces:
        key, equals, value = piece.partition("=")
        if not equals or not key or not key.isascii() or not key.replace("_", "").isalnum():
            return _separator_mixup(reader) or Refusal(Reason.MALFORMED_FIELD, piece[:20],
                                                       f"{piece[:40]!r} is not Key=Value")
        if key in reader.values:
            return Refusal(Reason.DUPLICATE_FIELD, key, f"{key} appears twice")
        reader.values[key] = value
    return None


def _separator_mixup(reader: _Reader) -> Refusal | None:
    """A code whose fields are split by another character than the one after the header."""
    for key in MANDATORY[1:]:
        found = re.search(rf"([^\w=]){key}=", reader.text[8:])
        if found and found.group(1) != reader.separator:
            return Refusal(Reason.BAD_SEPARATOR, detail=f"header says {reader.separator!r}, fields use "
                                                        f"{found.group(1)!r}")
    return None


def _check(reader: _Reader) -> PaymentCode | Refusal:
    values = reader.values
    for key in MANDATORY:
        if not values.get(key):
            return _separator_mixup(reader) or Refusal(Reason.MISSING_FIELD, key, f"{key} is required")
    mandatory_bytes = len(reader.separator.join(f"{k}={values[k]}" for k in MANDATORY).encode(reader.encoding))
    if mandatory_bytes > MANDATORY_BLOCK_BYTES:
        return Refusal(Reason.TOO_LONG, "Name", f"mandatory block is {mandatory_bytes} bytes, at most 300")
    for key, value in values.items():
        refusal = _check_value(key, value) if value else None
        if refusal:
            return refusal
    bic = values["BIC"]
    if not correspondent_account_ok(bic, values["CorrespAcc"]):
        return Refusal(Reason.BAD_CORRESPONDENT_KEY, "CorrespAcc", "key does not match BIC")
    if TREASURY_RE.fullmatch(values["PersonalAcc"]):
        if not TOFK_BIC_RE.fullmatch(bic):
            return Refusal(Reason.BAD_VALUE, "PersonalAcc", "a treasury account (03…) needs a treasury BIC")
    elif not settlement_account_ok(bic, values["PersonalAcc"]):
        return Refusal(Reason.BAD_ACCOUNT_KEY, "PersonalAcc", "key does not match BIC")
    return PaymentCode(
        name=values["Name"], personal_acc=values["PersonalAcc"], bank_name=values["BankName"], bic=bic,
        corresp_acc=values["CorrespAcc"], optional=tuple((k, v) for k, v in values.items() if k not in MANDATORY),
        encoding=reader.encoding, separator=reader.separator,
        trailing_separator=reader.text.endswith(reader.separator))


def _check_value(key: str, value: str) -> Refusal | None:
    limit = MAX_LENGTHS.get(key)
    if limit is not None and len(value) > limit:
        return Refusal(Reason.TOO_LONG, key, f"{len(value)} characters, at most {limit}")
    pattern = PATTERNS.get(key)
    if pattern is not None and not pattern.fullmatch(value):
        return Refusal(Reason.BAD_VALUE, key, f"{value!r} does not match {pattern.pattern}")
    if key in INN_FIELDS and not inn_ok(value):
        return Refusal(Reason.BAD_INN, key, f"{value!r} is not a valid 10- or 12-digit INN")
    if key == "Sum" and not (value.isascii() and value.isdigit() and len(value) <= SUM_DIGITS):
        return Refusal(Reason.BAD_SUM, key, f"{value!r}: whole kopecks, at most {SUM_DIGITS} digits")
    if key == "QuittDate":
        try:
            dt.datetime.strptime(value, "%d.%m.%Y")
        except ValueError:
            return Refusal(Reason.BAD_VALUE, key, f"{value!r} is not a date DD.MM.YYYY")
    return None


def format_code(code: PaymentCode) -> bytes:
    """The code's bytes in its encoding, separator and trailing-separator style (ValueError if impossible)."""
    digit = DIGIT_OF_ENCODING.get(code.encoding)
    if digit is None:
        raise ValueError(f"encoding {code.encoding!r}: one of {', '.join(ENCODINGS.values())} expected")
    fields = [("Name", code.name), ("PersonalAcc", code.personal_acc), ("BankName", code.bank_name),
              ("BIC", code.bic), ("CorrespAcc", code.corresp_acc), *code.optional]
    for key, value in fields:
        if code.separator in key or code.separator in value:
            raise ValueError(f"separator {code.separator!r} appears in {key}; choose another")
    body = code.separator.join(f"{key}={value}" for key, value in fields)
    text = f"{HEADER}{digit}{code.separator}{body}{code.separator if code.trailing_separator else ''}"
    return text.encode(code.encoding)  # UnicodeEncodeError (a ValueError) for characters it cannot hold
