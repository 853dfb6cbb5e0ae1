"""The receipt lines of a utility bill: whom a payment by bank details went to, the split across services, the
meter readings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kiosk.bills.match import BANK_FIELDS
from kiosk.catalog import Catalog, Provider
from kiosk.money import Money
from kiosk.offline_queue.journal import Operation
from kiosk.receipt import Block, Row, Separator, Text, plain_lines

TEXTS = {
    "ru": {"split": "Распределение по услугам", "readings": "Показания счётчиков", "period": "Период",
           "previous": "пред.", "meter": "сч.", "payee": "Платёж по реквизитам"},
    "en": {"split": "Split across services", "readings": "Meter readings", "period": "Period",
           "previous": "prev.", "meter": "meter", "payee": "Payment by bank details"},
}
#: a payment by bank details: the bill's fields as printed (the name and purpose as paragraphs: they are long)
PAYEE_LABELS = {
    "ru": {"Name": "Получатель", "PayeeINN": "ИНН", "KPP": "КПП", "BankName": "Банк", "BIC": "БИК",
           "CorrespAcc": "К/с", "PersonalAcc": "Р/с", "Purpose": "Назначение", "UIN": "УИН"},
    "en": {"Name": "Payee", "PayeeINN": "INN", "KPP": "KPP", "BankName": "Bank", "BIC": "BIC",
           "CorrespAcc": "Corr. account", "PersonalAcc": "Account", "Purpose": "Purpose", "UIN": "UIN"},
}
PARAGRAPHS = ("Name", "BankName", "Purpose")
UNITS = {"ru": {"m3": "м3", "kWh": "кВт*ч"}, "en": {"m3": "m3", "kWh": "kWh"}}


def utility_blocks(details: Mapping[str, Any], currency: str, lang: str) -> list[Block]:
    """The split and readings journaled in an operation's details, as receipt lines (none without them)."""
    t, units = TEXTS.get(lang, TEXTS["ru"]), UNITS.get(lang, UNITS["ru"])
    blocks: list[Block] = _payee_blocks(details.get("payee"), lang)
    split = [part for part in details.get("split") or [] if isinstance(part, Mapping)]
    if split:
        blocks += [Separator(), Text(t["split"], bold=True)]
        period = str((details.get("debt") or {}).get("period") or "")
        if len(period) == 6:
            blocks.append(Row(t["period"], f"{period[:2]}.{period[2:]}"))
        blocks += [Row(str(part.get("name", part.get("service", ""))), Money(int(part["amount"]), currency).format(lang))
                   for part in split]
    readings = [r for r in details.get("readings") or [] if isinstance(r, Mapping)]
    if readings:
        blocks += [Separator(), Text(t["readings"], bold=True)]
        for reading in readings:
            unit = units.get(str(reading.get("unit", "")), str(reading.get("unit", "")))
            value = f"{str(reading.get('value', '')).replace('.', ',')} {unit}"
            blocks.append(Row(f"{reading.get('name', '')} {t['meter']} {reading.get('meter', '')}", value, bold=True))
            if reading.get("previous"):
                blocks.append(Row(f"  {t['previous']}", str(reading["previous"]).replace(".", ",")))
    return blocks


def bank_details(provider: Provider | None, op: Operation) -> dict[str, Any]:
    """A payment by bank details: the bill's payee it was sent to (its fields), for the receipt."""
    if provider is None or provider.utility is None or not provider.utility.bank_details:
        return {}
    payee = {name: op.fields[name] for name in BANK_FIELDS if op.fields.get(name)}
    return {"payee": payee} if payee else {}


def payee_lines(catalog: Catalog, op: Operation, lang: str = "ru") -> list[str]:
    """The payee block of a payment by bank details as plain text lines (a fiscal receipt's non-fiscal text)."""
    return plain_lines(_payee_blocks(bank_details(catalog.providers.get(op.provider), op).get("payee"), lang))


def _payee_blocks(payee: Any, lang: str) -> list[Block]:
    """Whom a payment by bank details went to, from the bill's fields sent with it."""
    if not isinstance(payee, Mapping) or not payee:
        return []
    labels = PAYEE_LABELS.get(lang, PAYEE_LABELS["ru"])
    blocks: list[Block] = [Separator(), Text(TEXTS.get(lang, TEXTS["ru"])["payee"], bold=True)]
    for name, label in labels.items():
        value = str(payee.get(name) or "")
        if value:
            blocks.append(Text(f"{label}: {value}") if name in PARAGRAPHS else Row(label, value))
    return blocks
