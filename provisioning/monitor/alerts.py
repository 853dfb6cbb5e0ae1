"""Alert evaluation, the periodic job run once across server processes: every enabled rule over every enrolled
terminal's newest state; a condition that starts opens an alert, one that clears closes it, and each of those two
events queues one delivery per configured channel. Nothing is repeated while a condition merely persists.

Safe even when two evaluators overlap (the periodic claim normally prevents it): the unique index on open alerts
lets only one insert win, and a close is a conditional update only one can make."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from provisioning.db.models import Terminal, utcnow
from provisioning.monitor.models import Alert, AlertChannel, AlertDelivery, AlertRule
from provisioning.monitor.rules import KINDS, condition
from provisioning.monitor.state import latest_payloads, terminal_state
from provisioning.settings import Settings

# Since when this server process has been able to hear heartbeats. A terminal silent for longer than that may only
# have been unheard while the service was down: no offline alert opens on such silence until the process has
# listened for the rule's whole threshold (so a restart after an outage raises no storm of offline alerts).
LISTENING_SINCE = utcnow()


def channels_of(channel: AlertChannel | None) -> list[str]:
    """The channels a dealer's alerts go to."""
    if channel is None:
        return []
    return (["webhook"] if channel.webhook_url else []) + (["email"] if channel.emails.strip() else [])


def _queue(session: Session, alert_id: int, event: str, channels: list[str], now: datetime) -> None:
    for name in channels:
        session.add(AlertDelivery(alert_id=alert_id, event=event, channel=name, next_attempt_at=now))


def one_line(text: str) -> str:
    """Terminal-supplied words on one line, without control characters (they end up in e-mail headers)."""
    return "".join(c if c.isprintable() else " " for c in text).strip()


def _open(session: Session, terminal: Terminal, kind: str, detail: str, now: datetime,
          channels: list[str]) -> Alert | None:
    alert = Alert(dealer_id=terminal.dealer_id, terminal_id=terminal.id, kind=kind, detail=one_line(detail)[:500],
                  opened_at=now)
    try:
        with session.begin_nested():
            session.add(alert)
            session.flush()
    except IntegrityError:
        return None  # another evaluator opened it a moment ago
    _queue(session, alert.id, "opened", channels, now)
    return alert


def close(session: Session, alert_id: int, detail: str, now: datetime, channels: list[str]) -> bool:
    """Close an open alert (True if this call closed it; an alert is closed once, by one evaluator)."""
    closed = session.execute(update(Alert).where(Alert.id == alert_id, Alert.closed_at.is_(None))
                             .values(closed_at=now, close_detail=detail[:500]))
    if not getattr(closed, "rowcount", 0):
        return False
    _queue(session, alert_id, "closed", channels, now)
    return True


def evaluate(session: Session, now: datetime, settings: Settings) -> tuple[int, int]:
    """Open and close alerts as the rules say; (opened, closed). A periodic job: runs in the caller's unit of work."""
    rules: dict[int, list[AlertRule]] = {}
    # One order for every evaluator (terminal, then kind): two that overlap take row locks in the same order, so
    # one waits for the other instead of deadlocking.
    for rule in session.scalars(select(AlertRule).where(AlertRule.enabled.is_(True)).order_by(AlertRule.kind)):
        if rule.kind in KINDS:
            rules.setdefault(rule.dealer_id, []).append(rule)
    channels = {c.dealer_id: channels_of(c) for c in session.scalars(select(AlertChannel))}
    open_alerts = {(a.terminal_id, a.kind): a for a in session.scalars(select(Alert).where(Alert.closed_at.is_(None)))}
    terminals = session.scalars(select(Terminal).where(Terminal.dealer_id.in_(list(rules)),
                                                       Terminal.status == "enrolled")
                                .order_by(Terminal.id)).all() if rules else []
    payloads = latest_payloads(session, [t.id for t in terminals])
    opened = closed = 0
    seen: set[tuple[int, str]] = set()
    for terminal in terminals:
        state = terminal_state(terminal, payloads.get(terminal.id, {}), now, settings.offline_after)
        for rule in rules[terminal.dealer_id]:
            key = (terminal.id, rule.kind)
            seen.add(key)
            detail = condition(rule.kind, rule.threshold, state)
            if detail is not None and rule.kind == "offline" and \
                    (now - LISTENING_SINCE).total_seconds() <= rule.threshold:
                continue  # not listened long enough to tell silence from our own downtime: judge later
            if detail is not None and key not in open_alerts:
                opened += _open(session, terminal, rule.kind, detail, now, channels.get(terminal.dealer_id, [])) \
                    is not None
            elif detail is None and key in open_alerts:
                closed += close(session, open_alerts[key].id, "cleared", now, channels.get(terminal.dealer_id, []))
    for key, alert in open_alerts.items():
        if key not in seen:  # the rule was switched off, or the terminal revoked: nobody watches it any more
            closed += close(session, alert.id, "no longer watched (rule off or terminal revoked)", now,
                            channels.get(alert.dealer_id, []))
    return opened, closed
