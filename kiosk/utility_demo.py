"""Demo utility accounts with debts by service and meters: answered by the JSON emulator and the virtual gateway.

Demo data only (made-up payers and meters); the sample ЕПД (kiosk/data/demo/epd-sample.qr) is the bill of the
first account, so a scan at the demo shows its debt.
"""

from __future__ import annotations

from collections.abc import Mapping
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


def _osmp_field_names() -> tuple[list[str], list[str]]:
    services = {s["service"]: s["name"] for d in DEMO_DEBTS.values() for s in d["services"]}
    meters = {m["service"]: (m["unit"], m["name"]) for d in DEMO_DEBTS.values() for m in d["meters"]}
    return ([f"sum_{service}:{service}:{name}" for service, name in services.items()],
            [f"cnt_{service}:{service}:{unit}:{name}" for service, (unit, name) in meters.items()])


_DEBT_FIELDS, _METER_FIELDS = _osmp_field_names()
#: the route options an OSMP route to the demo utility provider takes (kiosk/utility_osmp.py, docs/osmp-utility.md)
DEMO_OSMP_OPTIONS: dict[str, Any] = {"debt_fields": _DEBT_FIELDS, "meter_fields": _METER_FIELDS,
                                     "debt_split": "proportional", "debt_period_field": "period",
                                     "debt_payer_field": "FIO", "debt_address_field": "address"}


def demo_osmp_fields(provider_code: str, account: str) -> dict[str, str] | None:
    """The getInfo/check <fields> of a demo utility account as an OSMP provider answers them, or None."""
    debt = demo_debt(provider_code, account)
    if debt is None:
        return None
    fields = {"FIO": str(debt["payer"]), "address": str(debt["address"]),
              "period": f"{debt['period'][:2]}.{debt['period'][2:]}"}
    fields.update({f"sum_{s['service']}": f"{s['amount'] // 100}.{s['amount'] % 100:02d}" for s in debt["services"]})
    fields.update({f"cnt_{m['service']}": f"{m['meter']};{m['previous']};{m['previous_date']}"
                   for m in debt["meters"]})
    return fields


#: the demo's "payment by bank details" route (provider by_details) and its sample bill, whose payee no demo
#: provider lists
BY_DETAILS_CODE = "41"
SAMPLE_BY_DETAILS = Path(DEMO_CONFIG).parent / "bill-by-details.qr"
#: the demo keys' sample bills: S the ЕПД of the demo provider, D a bill paid by bank details
DEMO_SAMPLES = {"epd": SAMPLE_EPD, "by_details": SAMPLE_BY_DETAILS}


def demo_payee(provider_code: str, fields: Mapping[str, str]) -> dict[str, str] | None:
    """What the demo bank answers a check by bank details with: the payee the bill names ({} when the details
    needed to pay are missing: a payer who typed an account by hand has no payee); None on other routes."""
    if provider_code != BY_DETAILS_CODE:
        return None
    if not all(fields.get(name) for name in ("Name", "PayeeINN", "BIC", "PersonalAcc")):
        return {}
    return {"payee": fields["Name"], "payee_inn": fields["PayeeINN"], "purpose": fields.get("Purpose", "")}
