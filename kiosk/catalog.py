"""The provider catalog: categories, providers, input fields, limits, fee rules and gateway routes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.fees import ROUNDINGS, FeeRule, FixedFee, NoFee, PercentFee, Tier, TieredFee, parse_percent
from kiosk.gateways.base import Route
from kiosk.money import Money
from kiosk.schema import Doc, load_toml
from kiosk.utility_catalog import UtilityRule, parse_utility

CATALOG_VERSION = 1
CHECKSUMS = ("luhn", "inn")
MASK_SLOT = "_"


def luhn_ok(digits: str) -> bool:
    """The Luhn mod-10 check used by card-like account numbers."""
    if not digits.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def inn_ok(digits: str) -> bool:
    """The check digits of a Russian INN (10 digits for organisations, 12 for people)."""

    def check(weights: tuple[int, ...], part: str) -> int:
        return sum(w * int(c) for w, c in zip(weights, part, strict=False)) % 11 % 10

    if not digits.isdigit():
        return False
    if len(digits) == 10:
        return check((2, 4, 10, 3, 5, 9, 4, 6, 8), digits) == int(digits[9])
    if len(digits) == 12:
        first = check((7, 2, 4, 10, 3, 5, 9, 4, 6, 8), digits)
        second = check((3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8), digits)
        return first == int(digits[10]) and second == int(digits[11])
    return False


@dataclass(frozen=True, slots=True)
class InputField:
    """One thing the payer types: an account, a phone number, a meter reading."""

    id: str
    label: Mapping[str, str]
    pattern: re.Pattern[str]
    mask: str = ""
    min_length: int = 1
    max_length: int = 200
    checksum: str = ""
    keyboard: str = "digits"  # digits | text

    def problem(self, value: str) -> str:
        """Why this value is not acceptable ('' if it is); the reason is a stable key for translations."""
        if len(value) < self.min_length:
            return "too_short"
        if len(value) > self.max_length:
            return "too_long"
        if not self.pattern.fullmatch(value):
            return "wrong_format"
        if self.checksum == "luhn" and not luhn_ok(value):
            return "bad_checksum"
        if self.checksum == "inn" and not inn_ok(value):
            return "bad_checksum"
        return ""

    def masked(self, value: str) -> str:
        """The value laid into the mask as typed so far: '+7 (912) 345-67-89'."""
        if not self.mask:
            return value
        out, placed = [], 0
        for slot in self.mask:
            if placed == len(value):
                break  # literals after the last typed character would suggest input that is not there
            if slot == MASK_SLOT:
                out.append(value[placed])
                placed += 1
            else:
                out.append(slot)
        return "".join(out) + value[placed:]


@dataclass(frozen=True, slots=True)
class Category:
    """A group of providers on the first screen."""

    id: str
    name: Mapping[str, str]
    icon: str = ""


@dataclass(frozen=True, slots=True)
class Provider:
    """Someone the public can pay through this terminal."""

    id: str
    name: Mapping[str, str]
    category: str
    inn: str
    phone: str
    logo: str
    fields: tuple[InputField, ...]
    min_amount: Money
    max_amount: Money
    fee: FeeRule
    offline: bool
    online_check: bool
    routes: tuple[Route, ...]
    utility: UtilityRule | None = None  # utility bills: which scanned bills select it, meter readings

    @property
    def account_field(self) -> InputField:
        """The first field: the account the money goes to."""
        return self.fields[0]

    @property
    def listed(self) -> bool:
        """Shown in the category lists and found by search (a scan-only provider is reached by its bill alone)."""
        return self.utility is None or not self.utility.scan_only


@dataclass(frozen=True, slots=True)
class Catalog:
    """All categories and providers, in display order."""

    version: int
    categories: tuple[Category, ...]
    providers: Mapping[str, Provider]

    def in_category(self, category: str) -> list[Provider]:
        """Providers of one category a payer may choose by hand, in catalog order."""
        return [p for p in self.listed() if p.category == category]

    def listed(self) -> list[Provider]:
        """The providers a payer may choose by hand (scan-only ones left out), in catalog order."""
        return [p for p in self.providers.values() if p.listed]

    def provider(self, provider_id: str) -> Provider:
        """A provider by id, with a clear error for an unknown one."""
        try:
            return self.providers[provider_id]
        except KeyError:
            raise KeyError(f"unknown provider {provider_id!r}") from None


def _fee(doc: Doc, currency: str) -> FeeRule:
    kind = doc.string("kind", pattern="none|fixed|percent|tiered", what="one of none, fixed, percent, tiered")
    if kind == "none":
        doc.unknown_keys({"kind"})
        return NoFee()
    if kind == "fixed":
        doc.unknown_keys({"kind", "amount"})
        return FixedFee(doc.money("amount", currency))
    if kind == "percent":
        doc.unknown_keys({"kind", "percent", "min", "max", "rounding"})
        try:
            ppm = parse_percent(doc.string("percent"))
        except ValueError as exc:
            raise doc.error("percent", str(exc)) from None
        minimum = doc.money("min", currency) if doc.has("min") else None
        maximum = doc.money("max", currency) if doc.has("max") else None
        if minimum is not None and maximum is not None and maximum < minimum:
            raise doc.error("max", f"must not be below min ({minimum.decimal_text()})")
        rounding = doc.string("rounding", "half_up", pattern="|".join(ROUNDINGS), what=f"one of {ROUNDINGS}")
        return PercentFee(ppm, minimum, maximum, rounding)
    doc.unknown_keys({"kind", "tiers"})
    tiers: list[Tier] = []
    docs = list(doc.tables("tiers"))
    if not docs:
        raise doc.error("tiers", "expected at least one tier")
    for index, tier_doc in enumerate(docs):
        tier_doc.unknown_keys({"upto", "fee"})
        last = index == len(docs) - 1
        if last and tier_doc.has("upto"):
            raise tier_doc.error("upto", "the last tier must be open-ended (no upto)")
        upto = None if last else tier_doc.money("upto", currency, allow_zero=False)
        previous = tiers[-1].upto if tiers else None
        if upto is not None and previous is not None and upto <= previous:
            raise tier_doc.error("upto", "tiers must be in increasing order of upto")
        tiers.append(Tier(upto, _fee(tier_doc.table("fee"), currency)))
    rule = TieredFee(tuple(tiers))
    falls = rule.falls_at()
    if falls:
        edge, below, above = falls
        raise doc.error("tiers", f"the fee would fall from {Money(below).decimal_text()} to "
                                 f"{Money(above).decimal_text()} when the cash passes {Money(edge).decimal_text()}; "
                                 "a larger payment must never cost a smaller fee")
    return rule


def _field(doc: Doc) -> InputField:
    doc.unknown_keys({"id", "label", "regex", "mask", "min_length", "max_length", "checksum", "keyboard"})
    source = doc.string("regex")
    try:
        pattern = re.compile(source)
    except re.error as exc:
        raise doc.error("regex", f"not a valid regular expression: {exc}") from None
    min_length = doc.integer("min_length", 1, minimum=1, maximum=200)
    max_length = doc.integer("max_length", 200, minimum=min_length, maximum=200)
    mask = doc.string("mask", "")
    if mask and mask.count(MASK_SLOT) < max_length:
        raise doc.error("mask", f"has {mask.count(MASK_SLOT)} '{MASK_SLOT}' slots but max_length is {max_length}")
    return InputField(
        id=doc.string("id", "account", pattern=r"[a-z][a-z0-9_]*", what="a lower-case identifier"),
        label=doc.texts("label"),
        pattern=pattern,
        mask=mask,
        min_length=min_length,
        max_length=max_length,
        checksum=doc.string("checksum", "", pattern="|".join(("",) + CHECKSUMS), what=f"one of {CHECKSUMS}"),
        keyboard=doc.string("keyboard", "digits", pattern="digits|text", what="digits or text"),
    )


def _provider(doc: Doc, currency: str, categories: set[str], gateways: set[str] | None) -> Provider:
    doc.unknown_keys({"id", "name", "category", "inn", "phone", "logo", "fields", "min", "max", "fee", "offline",
                      "online_check", "routes", "utility"})
    category = doc.string("category")
    if category not in categories:
        raise doc.error("category", f"unknown category {category!r}; expected one of {sorted(categories)}")
    fields = tuple(_field(f) for f in doc.tables("fields"))
    if not fields:
        raise doc.error("fields", "expected at least one input field")
    min_amount = doc.money("min", currency, allow_zero=False)
    max_amount = doc.money("max", currency, allow_zero=False)
    if max_amount < min_amount:
        raise doc.error("max", f"must not be below min ({min_amount.decimal_text()})")
    fee = _fee(doc.table("fee", {"kind": "none"}), currency)
    if not fee.split(min_amount).credited:
        raise doc.error("fee", f"the fee takes all of the minimum payment {min_amount.decimal_text()}; "
                               "raise min or lower the fee")
    routes = []
    for route_doc in doc.tables("routes"):
        route_doc.unknown_keys({"gateway", "code", "options"})
        gateway = route_doc.string("gateway")
        if gateways is not None and gateway not in gateways:
            raise route_doc.error("gateway", f"no gateway named {gateway!r} in the terminal configuration; "
                                             f"expected one of {sorted(gateways)}")
        routes.append(Route(gateway, route_doc.string("code", ""), dict(route_doc.table("options", {}).data)))
    if not routes:
        raise doc.error("routes", "expected at least one route to a gateway")
    return Provider(
        id=doc.string("id", pattern=r"[a-z0-9][a-z0-9_-]*", what="a lower-case identifier"),
        name=doc.texts("name"),
        category=category,
        inn=doc.string("inn", pattern=r"\d{10}|\d{12}", what="an INN of 10 or 12 digits"),
        phone=doc.string("phone"),
        logo=doc.string("logo", ""),
        fields=fields,
        min_amount=min_amount,
        max_amount=max_amount,
        fee=fee,
        offline=doc.boolean("offline", False),
        online_check=doc.boolean("online_check", True),
        routes=tuple(routes),
        utility=parse_utility(doc.table("utility")) if doc.has("utility") else None,
    )


def load_catalog(path: str | Path, currency: str = "RUB", gateways: set[str] | None = None) -> Catalog:
    """Load and validate a catalog; with gateways given, every route must name one of them."""
    return parse_catalog(load_toml(path, "catalog"), path, currency, gateways)


def parse_catalog(data: dict[str, Any], file: str | Path, currency: str = "RUB",
                  gateways: set[str] | None = None) -> Catalog:
    """Validate a catalog already read (errors name `file`)."""
    root = Doc(file, data)
    root.unknown_keys({"version", "categories", "providers"})
    version = root.integer("version")
    if version != CATALOG_VERSION:
        raise root.error("version", f"expected {CATALOG_VERSION}, got {version}")
    categories = []
    for cat in root.tables("categories"):
        cat.unknown_keys({"id", "name", "icon"})
        categories.append(Category(cat.string("id", pattern=r"[a-z][a-z0-9_-]*", what="a lower-case identifier"),
                                   cat.texts("name"), cat.string("icon", "")))
    ids = {c.id for c in categories}
    if len(ids) != len(categories):
        raise root.error("categories", "category ids must be unique")
    providers: dict[str, Provider] = {}
    for doc in root.tables("providers"):
        provider = _provider(doc, currency, ids, gateways)
        if provider.id in providers:
            raise doc.error("id", f"provider {provider.id!r} is defined twice")
        providers[provider.id] = provider
    if not providers:
        raise root.error("providers", "expected at least one provider")
    return Catalog(version, tuple(categories), providers)
