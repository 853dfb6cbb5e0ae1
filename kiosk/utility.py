"""Utility bills at the terminal: the debt by service a check answers, its split of a payment, meter readings.

Amounts are integer kopecks; meter values are Decimals written as decimal strings (never floats). The shapes are
the JSON ones of docs/jsonapi-openapi.yaml (`debt` of a check answer; `split`, `readings` of a payment) and of
the operation's details (`details["debt"]`, `details["split"]`, `details["readings"]`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

SPLIT_RULES = ("proportional", "in_order")
UNITS = ("m3", "kWh")
PERIOD = re.compile(r"(0[1-9]|1[0-2])\d{4}")
DECIMAL = re.compile(r"\d{1,12}(\.\d{1,6})?")
#: how far a reading may run ahead of the previous one before the payer is asked to confirm it (per unit)
DEFAULT_MAX_INCREASE = {"m3": Decimal(50), "kWh": Decimal(3000)}


class DebtError(ValueError):
    """A debt object that is not what the protocol defines."""


@dataclass(frozen=True, slots=True)
class ServiceAmount:
    """An amount for one utility service: owed (in a debt) or credited (in a split)."""

    service: str
    name: str
    amount: int

    def to_json(self) -> dict[str, Any]:
        """The JSON shape."""
        return {"service": self.service, "name": self.name, "amount": self.amount}


@dataclass(frozen=True, slots=True)
class Meter:
    """A meter the provider takes readings for, with its last known reading."""

    meter: str
    name: str
    service: str
    unit: str
    previous: Decimal | None = None
    previous_date: str = ""

    def to_json(self) -> dict[str, Any]:
        """The JSON shape (decimal strings)."""
        out: dict[str, Any] = {"meter": self.meter, "name": self.name, "service": self.service, "unit": self.unit}
        if self.previous is not None:
            out["previous"] = decimal_text(self.previous)
        if self.previous_date:
            out["previous_date"] = self.previous_date
        return out


@dataclass(frozen=True, slots=True)
class Reading:
    """A value the payer entered for a meter."""

    meter: Meter
    value: Decimal

    def to_json(self) -> dict[str, Any]:
        """The shape of details["readings"] and of a payment's `readings`."""
        out: dict[str, Any] = {"meter": self.meter.meter, "name": self.meter.name, "service": self.meter.service,
                               "unit": self.meter.unit}
        if self.meter.previous is not None:
            out["previous"] = decimal_text(self.meter.previous)
        out["value"] = decimal_text(self.value)
        return out


@dataclass(frozen=True, slots=True)
class Debt:
    """What an account owes, by service, and how a payment is split across the services."""

    total: int
    services: tuple[ServiceAmount, ...]
    period: str = ""
    payer: str = ""
    address: str = ""
    meters: tuple[Meter, ...] = ()
    split: str = "proportional"

    def to_json(self) -> dict[str, Any]:
        """The JSON shape of the protocol (and of details["debt"], which also keeps the meters and rule)."""
        out: dict[str, Any] = {"total": self.total, "services": [s.to_json() for s in self.services]}
        for key in ("period", "payer", "address"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.meters:
            out["meters"] = [m.to_json() for m in self.meters]
        out["split"] = self.split
        return out

    def split_of(self, amount: int) -> list[ServiceAmount]:
        """How `amount` kopecks are credited across the services, by this debt's rule."""
        return split_amount(self.services, amount, self.split)


def decimal_text(value: Decimal) -> str:
    """A meter value as the protocol writes it: plain digits, a point and at least two decimals ("130.10")."""
    whole, _, fraction = format(value.normalize(), "f").partition(".")
    return f"{whole}.{fraction.rstrip('0').ljust(2, '0')}"


def parse_decimal(text: str) -> Decimal | None:
    """A meter value typed or sent as text ("123.45", "123,45"); None when it is not one."""
    text = text.strip().replace(",", ".")
    if not DECIMAL.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _kopecks(value: Any, what: str) -> int:
    # a float or a bool is not an amount: the protocol sends whole kopecks as JSON integers
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DebtError(f"{what} must be a whole number of kopecks (a JSON integer >= 0), got {value!r}")
    return value


def _text(data: Mapping[str, Any], key: str, what: str, required: bool = True) -> str:
    value = data.get(key, "")
    if not isinstance(value, str) or (required and not value):
        raise DebtError(f"{what}.{key} must be a non-empty string" if required else f"{what}.{key} must be a string")
    return value


def _meter(data: Any, index: int) -> Meter:
    what = f"debt.meters[{index}]"
    if not isinstance(data, Mapping):
        raise DebtError(f"{what} must be an object")
    unit = _text(data, "unit", what)
    if unit not in UNITS:
        raise DebtError(f"{what}.unit must be one of {UNITS}, got {unit!r}")
    previous = None
    if data.get("previous") not in (None, ""):
        raw = data["previous"]
        previous = parse_decimal(raw) if isinstance(raw, str) else None
        if previous is None:
            raise DebtError(f"{what}.previous must be a decimal string like '123.45', got {raw!r}")
    return Meter(_text(data, "meter", what), _text(data, "name", what), _text(data, "service", what), unit,
                 previous, _text(data, "previous_date", what, required=False))


def parse_debt(data: Any) -> Debt:
    """The `debt` object of a check answer (or details["debt"]); DebtError names what is wrong."""
    if not isinstance(data, Mapping):
        raise DebtError("debt must be an object")
    services = data.get("services")
    if not isinstance(services, list):
        raise DebtError("debt.services must be a list")
    parts = []
    for index, item in enumerate(services):
        what = f"debt.services[{index}]"
        if not isinstance(item, Mapping):
            raise DebtError(f"{what} must be an object")
        parts.append(ServiceAmount(_text(item, "service", what), _text(item, "name", what),
                                   _kopecks(item.get("amount"), f"{what}.amount")))
    if len({p.service for p in parts}) != len(parts):
        raise DebtError("debt.services lists a service twice")
    total = _kopecks(data.get("total"), "debt.total")
    meters = data.get("meters") or []
    if not isinstance(meters, list):
        raise DebtError("debt.meters must be a list")
    rule = data.get("split") or "proportional"
    if rule not in SPLIT_RULES:
        raise DebtError(f"debt.split must be one of {SPLIT_RULES}, got {rule!r}")
    period = _text(data, "period", "debt", required=False)
    if period and not PERIOD.fullmatch(period):
        raise DebtError(f"debt.period must be MMYYYY, got {period!r}")
    return Debt(total, tuple(parts), period, _text(data, "payer", "debt", required=False),
                _text(data, "address", "debt", required=False),
                tuple(_meter(m, i) for i, m in enumerate(meters)), rule)


def split_amount(services: Sequence[ServiceAmount], amount: int, rule: str = "proportional") -> list[ServiceAmount]:
    """Split `amount` kopecks across services; the parts are whole kopecks and always sum to `amount` exactly.

    proportional: each service's share of its debt, rounded down; the kopecks left go one each to the largest
    remainders (ties to the earlier service). in_order: debts paid off in the listed order. Either way an
    excess over the total debt goes to the last service (proportional: by the same shares), and with nothing
    owed the whole amount goes to the first service.
    """
    if amount < 0:
        raise ValueError("a negative amount cannot be split")
    if rule not in SPLIT_RULES:
        raise ValueError(f"unknown split rule {rule!r}")
    if not services:
        return []
    owed = sum(s.amount for s in services)
    if owed == 0:
        return [ServiceAmount(s.service, s.name, amount if i == 0 else 0) for i, s in enumerate(services)]
    if rule == "in_order":
        parts, left = [], amount
        for s in services:
            take = min(s.amount, left)
            parts.append(take)
            left -= take
        parts[-1] += left
    else:
        shares = [(s.amount * amount) // owed for s in services]
        remainders = [(s.amount * amount) % owed for s in services]
        left = amount - sum(shares)
        # left < len(services): one kopeck each to the largest remainders, ties in the listed order
        for index in sorted(range(len(services)), key=lambda i: (-remainders[i], i))[:left]:
            shares[index] += 1
        parts = shares
    return [ServiceAmount(s.service, s.name, part) for s, part in zip(services, parts, strict=True)]


@dataclass(frozen=True, slots=True)
class ReadingRule:
    """When a reading needs the payer's confirmation: how far above the previous one it may go without asking."""

    max_increase: Mapping[str, Decimal]
    skip_allowed: bool = True

    def problem(self, meter: Meter, value: Decimal) -> str:
        """'' for a plausible reading; 'lower' (below the previous) or 'too_high' (far above it) otherwise."""
        if meter.previous is None:
            return ""
        if value < meter.previous:
            return "lower"
        limit = self.max_increase.get(meter.unit, DEFAULT_MAX_INCREASE.get(meter.unit))
        if limit is not None and value - meter.previous > limit:
            return "too_high"
        return ""


DEFAULT_READING_RULE = ReadingRule(DEFAULT_MAX_INCREASE)


def readings_json(readings: Sequence[Reading]) -> list[dict[str, Any]]:
    """details["readings"] / a payment's `readings`."""
    return [r.to_json() for r in readings]


def split_json(parts: Sequence[ServiceAmount]) -> list[dict[str, Any]]:
    """details["split"] / a payment's `split`."""
    return [p.to_json() for p in parts]


def utility_split(details: Mapping[str, Any], credited: int) -> dict[str, Any] | None:
    """details["split"] for an operation whose details carry the debt it pays (None without one)."""
    if not details.get("debt"):
        return None
    try:
        debt = parse_debt(details["debt"])
    except DebtError:
        return None  # journaled by this terminal from a parsed debt; never expected, never worth a crash
    return {"split": split_json(debt.split_of(credited))} if debt.services else None
