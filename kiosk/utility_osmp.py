"""A debt by service, and the meters it reads, from the fields an OSMP check or getInfo answers (route options).

OSMP has no debt object: a provider answers named <fields> (`<field1 name="sum_hvs">984.00</field1>`). A route
that names which fields are debts by service, and which are meters, gets a Debt like the JSON protocol's
(docs/osmp-utility.md):

```toml
[[providers.routes]]
gateway = "main"
code = "12"
options = { debt_fields = ["sum_gkh:housing:Содержание жилья", "sum_hvs:water_cold:Холодное водоснабжение"],
            meter_fields = ["cnt_hvs:water_cold:m3:ХВС"],
            debt_split = "in_order", debt_period_field = "period", debt_payer_field = "FIO",
            debt_address_field = "address" }
```
Values are roubles as OSMP writes them ("984.00", "984,00", "984"); the total is their sum. A value that is not
an amount leaves the debt out (the account stays payable): a guessed debt would mislead the payer. A meter field is
`ID;PREVIOUS;DATE` ("123456;123.45;25.10.2026"; PREVIOUS and DATE may be empty); a malformed one leaves that
meter out (no reading is asked for it) and the debt stands.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from kiosk.utility import PERIOD, SPLIT_RULES, UNITS, Debt, Meter, ServiceAmount, parse_decimal

log = logging.getLogger(__name__)
ROUBLES = re.compile(r"\d{1,12}([.,]\d{1,2})?")
METER_ID = re.compile(r"[0-9A-Za-zА-Яа-яЁё_.\-/]{1,40}")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
RU_DATE = re.compile(r"(\d{2})\.(\d{2})\.(\d{4})")


def osmp_debt(details: Mapping[str, str], options: Mapping[str, Any]) -> Debt | None:
    """The debt the named fields give, or None (no mapping, no such fields, or a value that is not an amount)."""
    mapping = options.get("debt_fields")
    if not isinstance(mapping, list) or not mapping:
        return None
    services = []
    for entry in mapping:
        field, _, rest = str(entry).partition(":")
        service, _, name = rest.partition(":")
        value = details.get(field)
        if value is None:
            continue
        text = value.strip().replace(" ", "").replace("\u00a0", "")
        if not ROUBLES.fullmatch(text):
            log.warning("OSMP field %s is not an amount (%r): the debt is not shown", field, value)
            return None
        services.append(ServiceAmount(service or field, name or field,
                                      int(Decimal(text.replace(",", ".")) * 100)))
    if not services:
        return None
    rule = str(options.get("debt_split") or "proportional")
    period = _named(details, options, "debt_period_field").replace(".", "")
    return Debt(sum(s.amount for s in services), tuple(services), period if PERIOD.fullmatch(period) else "",
                _named(details, options, "debt_payer_field"), _named(details, options, "debt_address_field"),
                meters=osmp_meters(details, options), split=rule if rule in SPLIT_RULES else "proportional")


def _named(details: Mapping[str, str], options: Mapping[str, Any], option: str) -> str:
    """The value of the field a route option names ("" without the option or the field)."""
    return details.get(str(options.get(option) or ""), "").strip()


def osmp_meters(details: Mapping[str, str], options: Mapping[str, Any]) -> tuple[Meter, ...]:
    """The meters the fields named by `meter_fields` ("field:service:unit:name") describe, in the route's order."""
    mapping = options.get("meter_fields")
    if not isinstance(mapping, list):
        return ()
    meters = []
    for entry in mapping:
        field, service, unit, name = (str(entry).split(":", 3) + ["", "", ""])[:4]
        value = details.get(field)
        if value is None:
            continue
        meter = _meter(value, service or field, unit, name or field)
        if meter is None:
            # a reading checked against nothing would be journaled as if plausible: better not asked at all
            log.warning("OSMP meter field %s (%r, unit %r) is not ID;PREVIOUS;DATE: no reading asked", field, value,
                        unit)
            continue
        meters.append(meter)
    return tuple(meters)


def _meter(value: str, service: str, unit: str, name: str) -> Meter | None:
    """One meter from `ID;PREVIOUS;DATE`, or None when any part is malformed (or the unit is not m3/kWh)."""
    meter_id, previous_text, date_text = ([p.strip() for p in value.split(";")] + ["", ""])[:3]
    if unit not in UNITS or not METER_ID.fullmatch(meter_id) or value.count(";") > 2:
        return None
    previous = parse_decimal(previous_text) if previous_text else None
    if previous_text and previous is None:
        return None
    ru = RU_DATE.fullmatch(date_text)
    date = f"{ru[3]}-{ru[2]}-{ru[1]}" if ru else date_text
    if date and not ISO_DATE.fullmatch(date):
        return None
    return Meter(meter_id, name, service, unit, previous, date)
