"""Which mobile operator serves a +7 number: the dealer's DEF-code table, then phonenumbers, then portability.

A gateway's portability answer (Payable.provider_override) beats both, since a ported number keeps its range.
When nobody knows, the answer is None and the payer chooses; the operator is never guessed.
"""

from __future__ import annotations

import bisect
import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

DEMO_TABLE = Path(__file__).resolve().parent.parent / "data" / "numbering" / "def-demo.csv"
# Operator names as registers, phonenumbers and gateways spell them → demo catalog provider ids.
ALIASES: dict[str, str] = {
    "mts": "mts", "мтс": "mts", "мобильныетелесистемы": "mts", "mobiletelesystems": "mts",
    "beeline": "beeline", "билайн": "beeline", "vimpelcom": "beeline", "вымпелком": "beeline",
    "megafon": "megafon", "мегафон": "megafon",
    "t2": "t2", "т2": "t2", "tele2": "t2", "теле2": "t2", "t2mobile": "t2", "т2мобайл": "t2",
    "yota": "yota", "йота": "yota", "скартел": "yota", "scartel": "yota",
}
LEGAL_FORMS = re.compile(r"^(пао|оао|зао|ооо|ао|pjsc|ojsc|llc)\s+", re.IGNORECASE)


class NumberingError(ValueError):
    """A numbering table that cannot be used; names the file, the line and what was expected."""


def national(number: str) -> str | None:
    """The 10-digit national number of a +7 phone ('+7 (916) 123-45-67', '89161234567', '9161234567')."""
    digits = re.sub(r"\D", "", number)
    if len(digits) == 11 and digits[0] in "78":
        digits = digits[1:]
    return digits if len(digits) == 10 else None


def operator_key(name: str) -> str:
    """A name reduced for alias lookup: legal form, quotes, spaces and punctuation dropped, lower case."""
    return re.sub(r"[\W_]+", "", LEGAL_FORMS.sub("", name.strip())).lower()


@dataclass(frozen=True, slots=True)
class Range:
    """Numbers first..last (10 digits, inclusive) belong to operator."""

    first: int
    last: int
    operator: str


class NumberingPlan:
    """DEF-code ranges, searchable by number."""

    def __init__(self, ranges: Iterable[Range]) -> None:
        self.ranges = sorted(ranges, key=lambda r: r.first)
        self._starts = [r.first for r in self.ranges]

    @classmethod
    def load(cls, path: str | Path = DEMO_TABLE) -> NumberingPlan:
        """Read a CSV with the columns code,from,to,operator; lines starting with # are comments."""
        path = Path(path)
        ranges = []
        with path.open(encoding="utf-8", newline="") as fh:
            rows = csv.DictReader(line for line in fh if not line.lstrip().startswith("#"))
            for index, row in enumerate(rows, 2):
                try:
                    code, first, last = row["code"].strip(), row["from"].strip(), row["to"].strip()
                    if not (re.fullmatch(r"\d{3}", code) and re.fullmatch(r"\d{7}", first)
                            and re.fullmatch(r"\d{7}", last) and first <= last and row["operator"].strip()):
                        raise ValueError
                except (KeyError, AttributeError, ValueError):
                    raise NumberingError(f"{path}: row {index}: expected code (3 digits), from and to (7 digits, "
                                         f"from ≤ to) and an operator name, got {row}") from None
                ranges.append(Range(int(code + first), int(code + last), row["operator"].strip()))
        return cls(ranges)

    def operator(self, number: str) -> str | None:
        """The operator name of the range holding this number, if any."""
        digits = national(number)
        if digits is None:
            return None
        value = int(digits)
        index = bisect.bisect_right(self._starts, value) - 1
        if index >= 0 and self.ranges[index].first <= value <= self.ranges[index].last:
            return self.ranges[index].operator
        return None


class OperatorDetector:
    """Number → catalog provider id of its mobile operator, or None (ask the payer)."""

    def __init__(self, plan: NumberingPlan | None = None, providers: Iterable[str] | None = None,
                 aliases: Mapping[str, str] | None = None, use_phonenumbers: bool = True) -> None:
        self.plan = plan if plan is not None else NumberingPlan.load()
        self.providers = set(providers) if providers is not None else None
        self.aliases = {**ALIASES, **{operator_key(k): v for k, v in (aliases or {}).items()}}
        self.use_phonenumbers = use_phonenumbers

    def provider_for(self, number: str, portability: str = "") -> str | None:
        """The provider id: a portability answer first, then the range table, then phonenumbers."""
        if portability:
            return self._known(portability) or self._known(self.aliases.get(operator_key(portability), ""))
        digits = national(number)
        if digits is None:
            return None
        name = self.plan.operator(digits)
        if name is None and self.use_phonenumbers:
            # imported at the first number, not at start-up: its carrier tables cost a tenth of a second
            import phonenumbers
            from phonenumbers import carrier

            name = carrier.name_for_number(phonenumbers.parse("+7" + digits), "en") or None
        if name is None:
            return None
        return self._known(self.aliases.get(operator_key(name), ""))

    def _known(self, provider: str) -> str | None:
        # a provider the catalog does not have is as good as unknown: the payer picks
        if not provider or (self.providers is not None and provider not in self.providers):
            return None
        return provider
