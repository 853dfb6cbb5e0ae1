"""Demo utility accounts with debts by service and meters: answered by the JSON emulator and the virtual gateway.

Demo data only (made-up payers and meters); the sample ЕПД (kiosk/data/demo/epd-sample.qr) is the bill of the
first account, so a scan at the demo shows its debt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kiosk.config import DEMO_CONFIG

SAMPLE_EPD = Path(DEMO_CONFIG).parent / "epd-sample.qr"

#: account → the `debt` object of a check answer (docs/jsonapi-openapi.yaml)
DEMO_DEBTS: dict[str, dict[str, Any]] = {
    "1048572": {
        "total": 823450, "period": "102026", "payer": "Иванова М. П.", "address": "г. Москва, ул. Ленина, д. 1, кв. 2",
        "services": [
            {"service": "housing", "name": "Содержание жилья", "amount": 312000},
            {"service": "heating", "name": "Отопление", "amount": 254650},
            {"service": "water_cold", "name": "Холодное водоснабжение", "amount": 98400},
            {"service": "water_hot", "name": "Горячее водоснабжение", "amount": 158400},
        ],
        "meters": [
            {"meter": "123456", "name": "ХВС", "service": "water_cold", "unit": "m3", "previous": "123.45",
             "previous_date": "2026-10-25"},
            {"meter": "654321", "name": "ГВС", "service": "water_hot", "unit": "m3", "previous": "45.10",
             "previous_date": "2026-10-25"},
        ],
        "split": "proportional",
    },
    "2000301": {
        "total": 150000, "period": "102026", "payer": "Петров П. П.", "address": "г. Москва, ул. Мира, д. 5, кв. 7",
        "services": [
            {"service": "repairs", "name": "Взнос на капремонт", "amount": 50000},
            {"service": "power", "name": "Электроэнергия", "amount": 100000},
        ],
        "meters": [
            {"meter": "E-778899", "name": "Электроэнергия", "service": "power", "unit": "kWh", "previous": "5210.00",
             "previous_date": "2026-10-20"},
        ],
        "split": "in_order",
    },
}


def demo_debt(provider_code: str, account: str) -> dict[str, Any] | None:
    """The debt of a demo utility account (route code "40" of the demo catalog), or None."""
    return DEMO_DEBTS.get(account) if provider_code == "40" else None
