"""A catalog provider's utility-bill rules: which scanned bills select it, where the account comes from, readings.

```toml
[providers.utility]
payee_inns = ["7709123453"]          # a bill whose PayeeINN is one of these selects this provider
account_patterns = ["[0-9]{7}"]      # optional: and whose payer account matches one of these
account_from = "PersAcc"             # the bill's field that is the payer's account here (or "PersonalAcc")
bank_details = false                 # true: "payment by bank details", for a bill no other provider takes
scan_only = false                    # true: reached by a scanned bill only, never listed or found by name
readings = true                      # the provider takes meter readings (the check lists the meters)
skip_readings = true                 # the payer may skip a meter
max_increase = { m3 = "50", kWh = "3000" }   # above the previous reading by more than this: asked to confirm
reading_field = "meter_{meter}"      # gateways without a `readings` list (OSMP, CyberPlat) get one extra field
                                     # per reading, named by this template, valued with the decimal string
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from kiosk.schema import Doc
from kiosk.utility import DEFAULT_MAX_INCREASE, UNITS, ReadingRule, parse_decimal

ACCOUNT_FIELDS = ("PersAcc", "PersonalAcc")


@dataclass(frozen=True, slots=True)
class UtilityRule:
    """How scanned bills reach a provider and what it takes besides money."""

    payee_inns: tuple[str, ...] = ()
    account_patterns: tuple[re.Pattern[str], ...] = ()
    account_from: str = "PersAcc"
    bank_details: bool = False
    scan_only: bool = False  # kept out of the provider lists and search: a payer typing an account cannot pay it
    readings: bool = False
    reading_rule: ReadingRule = field(default_factory=lambda: ReadingRule(DEFAULT_MAX_INCREASE))
    reading_field: str = ""

    def takes_account(self, account: str) -> bool:
        """The payer's account fits this provider (any account when no pattern is given)."""
        return not self.account_patterns or any(p.fullmatch(account) for p in self.account_patterns)


def parse_utility(doc: Doc) -> UtilityRule:
    """The [providers.utility] table."""
    doc.unknown_keys({"payee_inns", "account_patterns", "account_from", "bank_details", "scan_only",
                      "readings", "skip_readings", "max_increase", "reading_field"})
    inns = tuple(doc.strings("payee_inns", []))
    for inn in inns:
        if not re.fullmatch(r"\d{10}|\d{12}", inn):
            raise doc.error("payee_inns", f"{inn!r} is not an INN of 10 or 12 digits")
    patterns = []
    for source in doc.strings("account_patterns", []):
        try:
            patterns.append(re.compile(source))
        except re.error as exc:
            raise doc.error("account_patterns", f"not a valid regular expression {source!r}: {exc}") from None
    bank_details = doc.boolean("bank_details", False)
    if not inns and not bank_details:
        raise doc.error("payee_inns", "expected the payee INNs whose bills select this provider "
                                      "(or bank_details = true)")
    limits = dict(DEFAULT_MAX_INCREASE)
    increase = doc.table("max_increase", {})
    increase.unknown_keys(set(UNITS))
    for unit in UNITS:
        if increase.has(unit):
            value = parse_decimal(increase.string(unit))
            if value is None or value <= 0:
                raise increase.error(unit, "expected a positive decimal string such as \"50\"")
            limits[unit] = Decimal(value)
    reading_field = doc.string("reading_field", "")
    if reading_field and "{meter}" not in reading_field:
        raise doc.error("reading_field", "must contain {meter} (the meter's id)")
    return UtilityRule(
        payee_inns=inns, account_patterns=tuple(patterns),
        account_from=doc.string("account_from", "PersAcc", pattern="|".join(ACCOUNT_FIELDS),
                                what=f"one of {ACCOUNT_FIELDS}"),
        bank_details=bank_details, scan_only=doc.boolean("scan_only", False), readings=doc.boolean("readings", False),
        reading_rule=ReadingRule(limits, doc.boolean("skip_readings", True)), reading_field=reading_field)
