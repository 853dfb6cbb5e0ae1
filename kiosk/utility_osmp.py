"""A debt by service from the fields an OSMP check or getInfo answers, where the provider's route names them.

OSMP has no debt object: a provider answers named <fields> (`<field1 name="sum_hvs">984.00</field1>`). A route
that names which fields are debts by service gets a Debt like the JSON protocol's (catalog route options):

```toml
[[providers.routes]]
gateway = "main"
code = "12"
options = { debt_fields = ["sum_gkh:housing:Содержание жилья", "sum_hvs:water_cold:Холодное водоснабжение"],
            debt_split = "in_order", debt_period_field = "period" }
```
Values are roubles as OSMP writes them ("984.00", "984,00", "984"); the total is their sum. A value that is not
an amount leaves the debt out (the account stays payable): a guessed debt would mislead the payer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from kiosk.utility import PERIOD, SPLIT_RULES, Debt, ServiceAmount

log = logging.getLogger(__name__)
ROUBLES = re.compile(r"\d{1,12}([.,]\d{1,2})?")


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
    period = details.get(str(options.get("debt_period_field") or ""), "").replace(".", "")
    return Debt(sum(s.amount for s in services), tuple(services), period if PERIOD.fullmatch(period) else "",
                split=rule if rule in SPLIT_RULES else "proportional")
