"""The receipt lines of a utility bill: how the credited sum was split across services, the meter readings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kiosk.money import Money
from kiosk.receipt import Block, Row, Separator, Text

TEXTS = {
    "ru": {"split": "Распределение по услугам", "readings": "Показания счётчиков", "period": "Период",
           "previous": "пред.", "meter": "сч."},
    "en": {"split": "Split across services", "readings": "Meter readings", "period": "Period",
           "previous": "prev.", "meter": "meter"},
}
UNITS = {"ru": {"m3": "м3", "kWh": "кВт*ч"}, "en": {"m3": "m3", "kWh": "kWh"}}


def utility_blocks(details: Mapping[str, Any], currency: str, lang: str) -> list[Block]:
    """The split and readings journaled in an operation's details, as receipt lines (none without them)."""
    t, units = TEXTS.get(lang, TEXTS["ru"]), UNITS.get(lang, UNITS["ru"])
    blocks: list[Block] = []
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
