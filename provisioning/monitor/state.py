"""A terminal's state at a glance, read from its newest stored heartbeat (key names: the heartbeat payload agreed
with the terminal side) and its last-seen time. Pure: no database, no clock of its own."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from provisioning.db.models import Heartbeat, Terminal

# Validator states (CCNET, ID003, eSSP, ccTalk wording) that stop it taking money until a person comes.
FAULT_WORDS = ("jam", "failure", "fail", "full", "out of position", "open", "cheated", "error", "removed")


def _number(value: Any) -> float | None:
    # bool is an int in Python, and a terminal's "true" is no count
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def cassette_fill(payload: dict[str, Any]) -> float | None:
    """The cassette's fill in percent of its capacity (None when the terminal does not say)."""
    cassette = payload.get("cassette")
    if not isinstance(cassette, dict):
        return None
    count, capacity = _number(cassette.get("count")), _number(cassette.get("capacity"))
    if count is None or not capacity or capacity <= 0:
        return None
    return round(100.0 * count / capacity, 1)


def validator_fault(payload: dict[str, Any]) -> str | None:
    """Why the validator cannot take money ("offline", its fault state), or None when it can or is not reported."""
    validator = payload.get("validator")
    if not isinstance(validator, dict):
        return None
    state = str(validator.get("state") or "")
    if validator.get("online") is False:
        return f"offline{': ' + state if state else ''}"
    if any(word in state.lower() for word in FAULT_WORDS):
        detail = str(validator.get("detail") or "")
        return state + (f" ({detail})" if detail else "")
    return None


def paper_out(payload: dict[str, Any]) -> bool:
    """Whether the printer has run out of paper."""
    return payload.get("paper") == "out" or payload.get("printer") == "paper_out"


@dataclass(frozen=True)
class TerminalState:
    """What the fleet page and the alert rules know about one terminal."""

    online: bool
    silent_s: float | None  # seconds since the last heartbeat (None: never heard from)
    locked: bool
    out_of_service: str | None  # why it takes no money (locked, validator fault, the session's fault)
    cassette_fill: float | None
    cassette_count: int | None
    paper: str | None
    outbox_depth: int | None
    outbox_oldest_s: float | None
    needs_attention: int | None
    validator_fault: str | None
    clock_skew_s: float | None
    version: str
    payload: dict[str, Any]
    fiscal_days_left: int | None = None  # days until the fiscal drive's validity date (FF03), if it has one

    @property
    def attention(self) -> bool:
        """Whether a person should look: offline, out of service, paper out, needs attention, cassette ≥ 90 %."""
        return bool(not self.online or self.out_of_service or self.paper == "out" or (self.needs_attention or 0) > 0
                    or (self.cassette_fill or 0) >= 90)


def _int(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def fiscal_days_left(payload: dict[str, Any]) -> int | None:
    """Days the terminal's fiscal drive has left (None without a fiscal registrar or a reading)."""
    drive = payload.get("fiscal_drive")
    return _int(drive.get("days_left")) if isinstance(drive, dict) else None


@dataclass(frozen=True)
class FiscalDrive:
    """The fiscal drive a terminal reported: its number, validity date and days left (as the heartbeat says)."""

    fn: str
    valid_until: str
    days_left: int

    def due(self, threshold_days: int) -> bool:
        """Under the dealer's alert threshold: time to order and fit a new drive."""
        return self.days_left < threshold_days


def fiscal_drive(payload: dict[str, Any]) -> FiscalDrive | None:
    """The heartbeat's `fiscal_drive: {fn, valid_until, days_left}` (None without a reading of its days left)."""
    drive, left = payload.get("fiscal_drive"), fiscal_days_left(payload)
    if not isinstance(drive, dict) or left is None:
        return None
    return FiscalDrive(str(drive.get("fn") or "")[:20], str(drive.get("valid_until") or "")[:32], left)


def terminal_state(terminal: Terminal, payload: dict[str, Any], now: datetime, offline_after: int) -> TerminalState:
    """The state of one terminal from its newest payload (empty when it never sent one)."""
    silent = (now - terminal.last_seen_at).total_seconds() if terminal.last_seen_at else None
    online = silent is not None and silent < offline_after
    locked = payload.get("locked") is True
    fault = validator_fault(payload)
    session_fault = payload.get("fault")
    out_of_service = "locked" if locked else fault or (str(session_fault) if session_fault else None)
    found = payload.get("cassette")
    cassette: dict[str, Any] = found if isinstance(found, dict) else {}
    paper = payload.get("paper") if payload.get("paper") in ("ok", "low", "out") else None
    if paper is None and paper_out(payload):
        paper = "out"
    return TerminalState(
        online=online, silent_s=silent, locked=locked, out_of_service=out_of_service,
        cassette_fill=cassette_fill(payload), cassette_count=_int(cassette.get("count")), paper=paper,
        outbox_depth=_int(payload.get("outbox_depth")), outbox_oldest_s=_number(payload.get("outbox_oldest_s")),
        needs_attention=_int(payload.get("needs_attention")), validator_fault=fault,
        clock_skew_s=_number(payload.get("clock_skew_s")), version=terminal.version or str(payload.get("version", "")),
        payload=payload, fiscal_days_left=fiscal_days_left(payload))


def parse_payload(text: str | None) -> dict[str, Any]:
    """A stored payload as a dict ({} for none, or for one that is not a JSON object)."""
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def latest_payloads(session: Session, terminal_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Each terminal's newest heartbeat payload: the report kept on its row, else one indexed look-up per terminal
    (terminal, time); either way the cost grows with the fleet, not with the heartbeats kept."""
    if not terminal_ids:
        return {}
    # The heartbeat route keeps the newest report on the terminal's row; a terminal that has not reported since that
    # column came (migration of the heartbeat events) is read from its newest heartbeat row instead. COALESCE reads
    # that look-up only when it is needed, on both databases.
    newest = func.coalesce(Terminal.last_heartbeat, select(Heartbeat.payload).where(
        Heartbeat.terminal_id == Terminal.id).order_by(Heartbeat.received_at.desc(), Heartbeat.id.desc())
        .limit(1).scalar_subquery())
    found: dict[int, dict[str, Any]] = {}
    for start in range(0, len(terminal_ids), 500):
        chunk = terminal_ids[start:start + 500]
        for terminal_id, text in session.execute(select(Terminal.id, newest).where(Terminal.id.in_(chunk))):
            found[terminal_id] = parse_payload(text)
    return found


def age_text(seconds: float | None, units: tuple[str, str, str, str] = ("d", "h", "min", "s")) -> str:
    """A short human duration: 45 s, 12 min, 3 h 5 min, 2 d 4 h (units: the page language's d, h, min, s)."""
    day, hour, minute, second = units
    if seconds is None:
        return ""
    delta = timedelta(seconds=int(max(seconds, 0)))
    days, rest = delta.days, delta.seconds
    hours, minutes = rest // 3600, rest % 3600 // 60
    if days:
        return f"{days} {day} {hours} {hour}"
    if hours:
        return f"{hours} {hour} {minutes} {minute}"
    if minutes:
        return f"{minutes} {minute}"
    return f"{rest} {second}"
