"""A utility bill in support's words (the payment's story, `kiosk journal lookup`): debt, split, readings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def story_lines(details: Mapping[str, Any], roubles: Callable[[int], str]) -> list[str]:
    """The debt the check answered, the split of the credited sum and the meter readings, one fact a line."""
    lines: list[str] = []
    debt = details.get("debt")
    if isinstance(debt, Mapping) and debt.get("total") is not None:
        period = str(debt.get("period") or "")
        when = f" for {period[:2]}.{period[2:]}" if len(period) == 6 else ""
        lines.append(f"  debt         {roubles(int(debt['total']))}{when} ({debt.get('split', 'proportional')} split)")
    for index, part in enumerate(p for p in details.get("split") or [] if isinstance(p, Mapping)):
        label = "split" if index == 0 else ""
        lines.append(f"  {label:<12} {part.get('name') or part.get('service')}: {roubles(int(part['amount']))}")
    for index, reading in enumerate(r for r in details.get("readings") or [] if isinstance(r, Mapping)):
        label = "readings" if index == 0 else ""
        previous = f" (previous {reading['previous']})" if reading.get("previous") else ""
        lines.append(f"  {label:<12} {reading.get('name', '')} meter {reading.get('meter', '')}: "
                     f"{reading.get('value', '')} {reading.get('unit', '')}{previous}")
    return lines
