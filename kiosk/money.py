"""Money as integer minor units (kopecks); parsing and formatting without floats."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

CURRENCY_SIGNS = {"RUB": "₽", "KZT": "₸", "UAH": "₴", "USD": "$", "EUR": "€"}
MINOR_DIGITS = 2  # every currency we take as cash has kopeck-like hundredths

_AMOUNT = re.compile(r"^(?P<sign>-)?(?P<whole>\d+)(?:[.,](?P<frac>\d{1,2}))?$")
_CURRENCY = re.compile(r"[A-Z]{3}")
# Thin, no-break and ordinary spaces, apostrophes and underscores are digit grouping, never decimals.
_GROUPING = str.maketrans("", "", " \u00a0\u202f\u2009'_")


class MoneyError(ValueError):
    """An amount that cannot be money: float, fraction of a kopeck, wrong currency, garbage."""


def _require_int(value: object, what: str) -> int:
    # bool is an int subclass; True kopecks is always a bug.
    if isinstance(value, bool) or not isinstance(value, int):
        raise MoneyError(f"{what} must be an integer number of minor units, got {type(value).__name__} {value!r}")
    return value


@total_ordering
@dataclass(frozen=True, slots=True)
class Money:
    """An amount in integer minor units of one currency."""

    minor: int
    currency: str = "RUB"

    def __post_init__(self) -> None:
        _require_int(self.minor, "Money.minor")
        if not _CURRENCY.fullmatch(self.currency):
            raise MoneyError(f"currency must be an ISO 4217 code like 'RUB', got {self.currency!r}")

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def zero(cls, currency: str = "RUB") -> Money:
        """No money."""
        return cls(0, currency)

    @classmethod
    def major(cls, units: int, currency: str = "RUB") -> Money:
        """Whole major units (roubles): Money.major(100) is 100.00."""
        return cls(_require_int(units, "major units") * 10**MINOR_DIGITS, currency)

    @classmethod
    def parse(cls, text: str, currency: str = "RUB") -> Money:
        """Parse '1234.50', '1 234,50', '1,234.50 ₽' or 'RUB 1,234.50' exactly, never via float."""
        if not isinstance(text, str):
            raise MoneyError(f"amount must be text, got {type(text).__name__} {text!r}")
        cleaned = text.strip()
        negative = cleaned.startswith("-")
        cleaned = cleaned.removeprefix("-").strip()
        for code, sign in CURRENCY_SIGNS.items():
            if cleaned.upper().startswith(code) or cleaned.upper().endswith(code):
                if code != currency:
                    raise MoneyError(f"amount {text!r} is in {code}, expected {currency}")
                cleaned = cleaned.upper().replace(code, "")
            if sign in cleaned:
                if code != currency:
                    raise MoneyError(f"amount {text!r} is in {code}, expected {currency}")
                cleaned = cleaned.replace(sign, "")
        cleaned = cleaned.translate(_GROUPING)
        # "1,234.50": a comma before a dot is grouping; a lone comma is the Russian decimal mark.
        if "," in cleaned and "." in cleaned:
            cleaned = cleaned.replace(",", "")
        match = _AMOUNT.match(cleaned)
        if not match:
            raise MoneyError(f"not an amount: {text!r} (expected digits with at most two decimals, e.g. 150.00)")
        minor = int(match["whole"]) * 100 + int((match["frac"] or "0").ljust(2, "0"))
        if negative and match["sign"]:
            raise MoneyError(f"not an amount: {text!r} (two minus signs)")
        return cls(-minor if (negative or match["sign"]) else minor, currency)

    # -- arithmetic -----------------------------------------------------------------------------
    def _same(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise MoneyError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise MoneyError(f"cannot combine {self.currency} with {other.currency}")
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.minor + self._same(other).minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.minor - self._same(other).minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        return self.minor < self._same(other).minor

    def __bool__(self) -> bool:
        return self.minor != 0

    def __mul__(self, factor: int) -> Money:
        return Money(self.minor * _require_int(factor, "multiplier"), self.currency)

    __rmul__ = __mul__

    # -- formatting -----------------------------------------------------------------------------
    def decimal_text(self) -> str:
        """'1234.50': the plain form wire protocols use (OSMP sum, CyberPlat AMOUNT)."""
        sign = "-" if self.minor < 0 else ""
        whole, frac = divmod(abs(self.minor), 100)
        return f"{sign}{whole}.{frac:02d}"

    def format(self, lang: str = "ru") -> str:
        """'1 234,50 ₽' in Russian, 'RUB 1,234.50' in English."""
        sign = "-" if self.minor < 0 else ""
        whole, frac = divmod(abs(self.minor), 100)
        if lang == "ru":
            grouped = f"{whole:,}".replace(",", " ")
            symbol = CURRENCY_SIGNS.get(self.currency, self.currency)
            return f"{sign}{grouped},{frac:02d} {symbol}"
        return f"{sign}{self.currency} {whole:,}.{frac:02d}"

    def __str__(self) -> str:
        return self.format("en")
