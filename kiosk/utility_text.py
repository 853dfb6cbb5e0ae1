"""A utility bill in support's words (the payment's story, `kiosk journal lookup`): debt, split, readings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

WORDS = {
    "en": {"debt": "debt", "split": "split", "readings": "readings", "for": "for", "meter": "meter",
           "previous": "previous", "proportional": "proportional split", "in_order": "paid off in order"},
    "ru": {"debt": "долг", "split": "по услугам", "readings": "показания", "for": "за", "meter": "счётчик",
           "previous": "предыдущее", "proportional": "пропорционально долгу", "in_order": "по порядку услуг"},
}


def story_lines(details: Mapping[str, Any], roubles: Callable[[int], str], lang: str = "en") -> list[str]:
    """The debt the check answered, the split of the credited sum and the meter readings, one fact a line."""
    w = WORDS.get(lang, WORDS["en"])
    decimal = (lambda text: text.replace(".", ",")) if lang == "ru" else (lambda text: text)
    lines: list[str] = []
    debt = details.get("debt")
    if isinstance(debt, Mapping) and debt.get("total") is not None:
        period = str(debt.get("period") or "")
        when = f" {w['for']} {period[:2]}.{period[2:]}" if len(period) == 6 else ""
        rule = w.get(str(debt.get("split") or "proportional"), str(debt.get("split")))
        lines.append(f"  {w['debt']:<12} {roubles(int(debt['total']))}{when} ({rule})")
    for index, part in enumerate(p for p in details.get("split") or [] if isinstance(p, Mapping)):
        label = w["split"] if index == 0 else ""
        lines.append(f"  {label:<12} {part.get('name') or part.get('service')}: {roubles(int(part['amount']))}")
    for index, reading in enumerate(r for r in details.get("readings") or [] if isinstance(r, Mapping)):
        label = w["readings"] if index == 0 else ""
        previous = f" ({w['previous']} {decimal(str(reading['previous']))})" if reading.get("previous") else ""
        lines.append(f"  {label:<12} {reading.get('name', '')} {w['meter']} {reading.get('meter', '')}: "
                     f"{decimal(str(reading.get('value', '')))} {reading.get('unit', '')}{previous}")
    return lines
