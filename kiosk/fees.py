"""Fee rules: integer arithmetic on kopecks; fee + credited == cash, always.

Rounding (documented, and the same everywhere): a percent fee is computed exactly as a fraction of the cash in
kopecks and rounded to a whole kopeck *half up* (0.5 kopeck rounds up) unless the rule says ``rounding = "up"``
(any fraction rounds up) or ``"down"`` (fractions are dropped). Then the rule's min and max apply, and finally
the fee is capped at the cash itself so the amount credited is never negative.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kiosk.money import Money

PPM = 1_000_000  # percents are held as parts per million: 2.5 % == 25_000 ppm
_PERCENT = re.compile(r"^(\d{1,3})(?:\.(\d{1,4}))?$")
ROUNDINGS = ("half_up", "up", "down")


def parse_percent(text: str) -> int:
    """'2.5' → 25000 ppm, exactly; up to four decimals, at most 100 %."""
    match = _PERCENT.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"expected a percent as a quoted decimal like \"2.5\", got {text!r}")
    ppm = int(match[1]) * 10_000 + int((match[2] or "").ljust(4, "0"))
    if ppm > PPM:
        raise ValueError(f"a percent above 100 is not a fee: {text!r}")
    return ppm


def _divide(numerator: int, rounding: str) -> int:
    if rounding == "up":
        return -((-numerator) // PPM)
    if rounding == "down":
        return numerator // PPM
    return (numerator + PPM // 2) // PPM


@dataclass(frozen=True, slots=True)
class Split:
    """How the cash divides: fee to the agent, credited to the provider's account."""

    cash: Money
    fee: Money
    credited: Money


class FeeRule:
    """A fee as a function of the cash accepted."""

    def raw_fee(self, cash: int) -> int:
        """The rule's fee in kopecks before capping at the cash."""
        raise NotImplementedError

    def describe(self, lang: str) -> str:
        """A short text for the payer, e.g. '2.5 %, min 10,00 ₽'."""
        raise NotImplementedError

    def split(self, cash: Money) -> Split:
        """Divide the cash into fee and credited; fee is never more than the cash."""
        fee = max(0, min(self.raw_fee(cash.minor), cash.minor))
        return Split(cash=cash, fee=Money(fee, cash.currency), credited=Money(cash.minor - fee, cash.currency))


@dataclass(frozen=True, slots=True)
class NoFee(FeeRule):
    """The provider pays the agent; the payer pays nothing extra."""

    def raw_fee(self, cash: int) -> int:
        return 0

    def describe(self, lang: str) -> str:
        return "без комиссии" if lang == "ru" else "no fee"


@dataclass(frozen=True, slots=True)
class FixedFee(FeeRule):
    """The same fee whatever the amount."""

    amount: Money

    def raw_fee(self, cash: int) -> int:
        return self.amount.minor

    def describe(self, lang: str) -> str:
        return self.amount.format(lang)


def _percent_text(ppm: int, lang: str = "en") -> str:
    """A percentage as people write it in lang: '1.5' in English, '1,5' in Russian."""
    whole, frac = divmod(ppm, 10_000)
    text = f"{whole}.{frac:04d}".rstrip("0").rstrip(".")
    return text.replace(".", ",") if lang == "ru" else text


@dataclass(frozen=True, slots=True)
class PercentFee(FeeRule):
    """A share of the cash, within optional bounds."""

    ppm: int
    minimum: Money | None = None
    maximum: Money | None = None
    rounding: str = "half_up"

    def raw_fee(self, cash: int) -> int:
        fee = _divide(cash * self.ppm, self.rounding)
        if self.minimum is not None:
            fee = max(fee, self.minimum.minor)
        if self.maximum is not None:
            fee = min(fee, self.maximum.minor)
        return fee

    def describe(self, lang: str) -> str:
        parts = [f"{_percent_text(self.ppm, lang)}\u00a0%"]
        if self.minimum is not None:
            parts.append(("мин. " if lang == "ru" else "min ") + self.minimum.format(lang))
        if self.maximum is not None:
            parts.append(("макс. " if lang == "ru" else "max ") + self.maximum.format(lang))
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class Tier:
    """Cash up to and including `upto` (None: no upper bound) pays by `rule`."""

    upto: Money | None
    rule: FeeRule


@dataclass(frozen=True, slots=True)
class TieredFee(FeeRule):
    """Different rules for different amounts; tiers are ordered and the last one is open-ended."""

    tiers: tuple[Tier, ...]

    def rule_for(self, cash: int) -> FeeRule:
        """The tier's rule that applies to this much cash."""
        for tier in self.tiers:
            if tier.upto is None or cash <= tier.upto.minor:
                return tier.rule
        return self.tiers[-1].rule

    def raw_fee(self, cash: int) -> int:
        return self.rule_for(cash).raw_fee(cash)

    def describe(self, lang: str) -> str:
        parts = []
        for tier in self.tiers:
            bound = ("до " if lang == "ru" else "up to ") + tier.upto.format(lang) if tier.upto else (
                "свыше" if lang == "ru" else "above")
            parts.append(f"{bound}: {tier.rule.describe(lang)}")
        return "; ".join(parts)

    def falls_at(self) -> tuple[int, int, int] | None:
        """The first tier boundary where the fee would drop: (boundary, fee below, fee above), or None."""
        for tier in self.tiers:
            if tier.upto is None:  # the open-ended last tier has no boundary above it
                continue
            edge = tier.upto.minor
            below, above = self.raw_fee(edge), self.raw_fee(edge + 1)
            if above < below:
                return edge, below, above
        return None
