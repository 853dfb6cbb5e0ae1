"""The kinds of alert a dealer can switch on, each a condition over a terminal's state with one threshold."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioning.monitor.models import AlertRule
from provisioning.monitor.state import TerminalState, age_text


@dataclass(frozen=True)
class Kind:
    """An alert kind: its threshold's unit in the editor, default and allowed range (in that unit), the condition
    (a detail when it holds), and how many stored units one editor unit is (offline: minutes, stored in seconds)."""

    unit: str
    default: int
    low: int
    high: int
    check: Callable[[TerminalState, int], str | None]
    scale: int = 1

    def shown(self, stored: int) -> int:
        """A stored threshold in the editor's unit (rounded up: never an earlier alert than stored)."""
        return -(-stored // self.scale)


def _offline(state: TerminalState, seconds: int) -> str | None:
    # A terminal never heard from has nothing to be silent about yet (it is not installed).
    if state.silent_s is None or state.silent_s <= seconds:
        return None
    return f"no heartbeat for {age_text(state.silent_s)}"


def _cassette(state: TerminalState, percent: int) -> str | None:
    if state.cassette_fill is None or state.cassette_fill <= percent:
        return None
    return f"cassette {state.cassette_fill:g} % full ({state.cassette_count} bills)"


def _paper_out(state: TerminalState, _: int) -> str | None:
    return "the printer is out of paper" if state.paper == "out" else None


def _needs_attention(state: TerminalState, count: int) -> str | None:
    if state.needs_attention is None or state.needs_attention <= count:
        return None
    return f"{state.needs_attention} operation(s) need attention"


def _validator(state: TerminalState, _: int) -> str | None:
    return f"bill validator: {state.validator_fault}" if state.validator_fault else None


def _clock(state: TerminalState, seconds: int) -> str | None:
    if state.clock_skew_s is None or abs(state.clock_skew_s) <= seconds:
        return None
    return f"clock off by {state.clock_skew_s:+.0f} s"


def _fiscal_drive(state: TerminalState, days: int) -> str | None:
    left = state.fiscal_days_left
    if left is None or left >= days:
        return None
    drive = state.payload.get("fiscal_drive") or {}
    if left < 0:
        return f"the fiscal drive is past its validity date {drive.get('valid_until')}: no fiscal receipts"
    return f"the fiscal drive must be replaced: valid until {drive.get('valid_until')} ({left} d left)"


KINDS: dict[str, Kind] = {
    # "offline > N min", as dealers say it: whole minutes, up to a week; the check keeps its seconds
    "offline": Kind("min", 10, 1, 7 * 24 * 60, _offline, scale=60),
    "cassette": Kind("%", 90, 1, 100, _cassette),
    "paper_out": Kind("", 0, 0, 0, _paper_out),
    "needs_attention": Kind("", 0, 0, 1_000_000, _needs_attention),
    "validator_fault": Kind("", 0, 0, 0, _validator),
    "clock_skew": Kind("s", 120, 1, 86400, _clock),
    "fiscal_drive": Kind("d", 30, 1, 400, _fiscal_drive),
}


def condition(kind: str, threshold: int, state: TerminalState) -> str | None:
    """What is wrong (a short English detail) when the rule's condition holds for this state, else None."""
    return KINDS[kind].check(state, threshold)


def check_threshold(kind: str, raw: str) -> int:
    """A threshold typed in the rule editor (in the kind's unit), within its range, as stored; ValueError saying
    the range otherwise."""
    spec = KINDS[kind]
    if spec.low == spec.high:
        return spec.low * spec.scale
    wanted = f"a whole number{' of minutes' if spec.unit == 'min' else ''} from {spec.low} to {spec.high}"
    text = raw.strip()
    if not text.isascii() or not text.isdigit():
        raise ValueError(wanted)
    value = int(text)
    if not spec.low <= value <= spec.high:
        raise ValueError(wanted)
    return value * spec.scale


def fiscal_threshold(session: Session, dealer_id: int) -> int:
    """Days of fiscal drive below which the portal flags a terminal: the dealer's alert rule, else its default."""
    stored = session.scalar(select(AlertRule.threshold).where(AlertRule.dealer_id == dealer_id,
                                                              AlertRule.kind == "fiscal_drive"))
    return int(stored) if stored is not None else KINDS["fiscal_drive"].default
