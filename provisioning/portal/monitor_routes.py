"""The fleet page (every terminal's state at a glance, filtered and sorted), a terminal's history charts, and the
alerts: open and closed, the rules and where alerts go (admins only, audited). Scoped by the signed-in dealer."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from provisioning import audit, tenants
from provisioning.db.models import Terminal, TerminalGroup, utcnow
from provisioning.link_events import TerminalEvent
from provisioning.monitor import history, svg
from provisioning.monitor.models import Alert, AlertChannel, AlertDelivery, AlertRule
from provisioning.monitor.rules import KINDS, check_threshold, fiscal_threshold
from provisioning.monitor.state import TerminalState, age_text, fiscal_drive, latest_payloads, terminal_state
from provisioning.portal.i18n import TEXTS
from provisioning.portal.monitor_texts import WORDS
from provisioning.portal.routes import ROUTE_PERMISSIONS, PortalError, language, render, signed

router = APIRouter(include_in_schema=False)
for _lang, _words in WORDS.items():
    assert not set(_words) & set(TEXTS[_lang]), "a monitor word hides a portal word"
    TEXTS[_lang].update(_words)

STATES = ("online", "offline", "out_of_service", "locked", "attention", "alerting")
SORTS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "number": lambda r: (len(r["terminal"].number), r["terminal"].number),
    "address": lambda r: r["terminal"].address.lower(),
    "group": lambda r: r["group"].lower(),
    "state": lambda r: (r["state"].online, not r["state"].out_of_service),
    "cassette": lambda r: r["state"].cassette_fill if r["state"].cassette_fill is not None else -1.0,
    "paper": lambda r: ("out", "low", "ok").index(r["state"].paper) if r["state"].paper else 3,
    "outbox": lambda r: r["state"].outbox_depth if r["state"].outbox_depth is not None else -1,
    "oldest": lambda r: r["state"].outbox_oldest_s if r["state"].outbox_oldest_s is not None else -1.0,
    "attention": lambda r: r["state"].needs_attention if r["state"].needs_attention is not None else -1,
    "alerts": lambda r: len(r["alerts"]),
    "version": lambda r: r["state"].version,
    "last_seen": lambda r: r["terminal"].last_seen_at or datetime.min.replace(tzinfo=UTC),
}
# Each sortable column and the word its header shows.
COLUMNS = (("number", "number"), ("address", "address"), ("group", "group"), ("state", "state"),
           ("cassette", "cassette"), ("paper", "paper"), ("outbox", "outbox"), ("oldest", "oldest"),
           ("attention", "needs_attention"), ("alerts", "alerts"), ("version", "version"), ("last_seen", "last_seen"))
EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")


def page(method: str, path: str, permission: str) -> Callable[[Any], Any]:
    """Register a route of this module with the permission it needs (in the portal's one table)."""
    ROUTE_PERMISSIONS[(method, path)] = permission
    return router.api_route(path, methods=[method])


def _zone(name: str) -> tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return UTC


def _units(t: dict[str, str]) -> tuple[str, str, str, str]:
    return t["unit_d"], t["unit_h"], t["unit_min"], t["unit_s"]


def _fleet_rows(session: Session, dealer_id: int, now: datetime, offline_after: int) -> list[dict[str, Any]]:
    groups = dict(session.execute(select(TerminalGroup.id, TerminalGroup.name)
                                  .where(TerminalGroup.dealer_id == dealer_id)).all())
    terminals = session.scalars(select(Terminal).where(Terminal.dealer_id == dealer_id)).all()
    payloads = latest_payloads(session, [t.id for t in terminals])
    alerts: dict[int, list[str]] = {}
    for terminal_id, kind in session.execute(select(Alert.terminal_id, Alert.kind).where(
            Alert.dealer_id == dealer_id, Alert.closed_at.is_(None))):
        alerts.setdefault(terminal_id, []).append(kind)
    return [{"terminal": t, "group": groups.get(t.group_id or 0, ""), "alerts": sorted(alerts.get(t.id, [])),
             "state": terminal_state(t, payloads.get(t.id, {}), now, offline_after)} for t in terminals]


def _matches(row: dict[str, Any], state: str, group: str, query: str) -> bool:
    s: TerminalState = row["state"]
    wanted = {"": True, "online": s.online, "offline": not s.online, "out_of_service": bool(s.out_of_service),
              "locked": s.locked, "attention": s.attention, "alerting": bool(row["alerts"])}
    if not wanted.get(state, True) or (group and row["group"] != group):
        return False
    text = f"{row['terminal'].number} {row['terminal'].address}".lower()
    return all(word in text for word in query.lower().split())


FLEET_PAGE = 200  # terminals per fleet page


@page("GET", "/fleet", "fleet.view")
def fleet(request: Request, state: str = "", group: str = "", q: str = "", sort: str = "number",
          order: str = "asc", page: int = 1) -> Response:
    """Every terminal of the dealer with its state at a glance; filters (state, group, text) and sorting."""
    svc = request.app.state.services
    now = utcnow()
    state = state if state in STATES else ""
    sort = sort if sort in SORTS else "number"
    order = "desc" if order == "desc" else "asc"
    with signed(request, "fleet.view") as (session, who):
        rows = _fleet_rows(session, who.dealer_id, now, svc.settings.offline_after)
        groups = sorted({r["group"] for r in rows if r["group"]})
        summary = {"total": len(rows), "online": sum(r["state"].online for r in rows),
                   "out_of_service": sum(bool(r["state"].out_of_service) for r in rows),
                   "alerting": sum(bool(r["alerts"]) for r in rows)}
        shown = sorted((r for r in rows if _matches(r, state, group, q[:100])), key=SORTS[sort],
                       reverse=order == "desc")
        filters = {"state": state, "group": group, "q": q[:100]}
        # a fleet of thousands is read a page at a time; the summary above counts every terminal
        pages = max(1, -(-len(shown) // FLEET_PAGE))
        page = min(max(page, 1), pages)

        def sort_link(key: str) -> str:
            flip = "desc" if key == sort and order == "asc" else "asc"
            return "/fleet?" + urlencode({**filters, "sort": key, "order": flip})

        def page_link(number: int) -> str:
            return "/fleet?" + urlencode({**filters, "sort": sort, "order": order, "page": number})

        return render(request, "monitor_fleet.html", who, rows=shown[(page - 1) * FLEET_PAGE:page * FLEET_PAGE],
                      matching=len(shown), page=page, pages=pages, page_link=page_link, groups=groups,
                      summary=summary, filters=filters, sort=sort, order=order, states=STATES, columns=COLUMNS,
                      sort_link=sort_link, age=lambda s: age_text(s, _units(TEXTS[language(request)])),
                      fiscal_days=fiscal_threshold(session, who.dealer_id))


@page("GET", "/fleet/{terminal_id}", "fleet.view")
def terminal_history(terminal_id: int, request: Request, period: str = "24h") -> Response:
    """One terminal's state and its history: cassette fill, queue depth and payments per hour, as SVG charts."""
    svc = request.app.state.services
    period = period if period in history.PERIODS else "24h"
    now = utcnow()
    with signed(request, "fleet.view") as (session, who):
        terminal = tenants.terminal_of_dealer(session, who.dealer_id, terminal_id)
        if terminal is None:
            raise PortalError(404, "not_found")
        t = TEXTS[language(request)]
        zone = _zone(terminal.timezone)
        state = terminal_state(terminal, latest_payloads(session, [terminal.id]).get(terminal.id, {}), now,
                               svc.settings.offline_after)
        span = history.PERIODS[period]
        data = history.series(session, terminal.id, span, now)
        time_format = "%H:%M" if span.seconds <= 86400 else "%d.%m"
        payments_label = t["chart_payments"] if span.payments_bucket == 3600 else t["chart_payments_6h"]
        charts = [
            ("fill", t["chart_fill"], svg.chart(data.cassette_fill, label=t["chart_fill"], zone=zone, top=100,
                                                unit="%", time_format=time_format)),
            ("depth", t["chart_depth"], svg.chart(data.outbox_depth, label=t["chart_depth"], zone=zone,
                                                  time_format=time_format, color="#8a4b08")),
            ("payments", payments_label, svg.chart(data.payments, label=payments_label, zone=zone, kind="bar",
                                                   time_format=time_format, color="#0a6b22")),
        ]
        alerts = session.scalars(select(Alert).where(Alert.terminal_id == terminal.id)
                                 .order_by(Alert.opened_at.desc()).limit(50)).all()
        changes = session.scalars(select(TerminalEvent).where(TerminalEvent.terminal_id == terminal.id,
                                                              TerminalEvent.at >= data.start)
                                  .order_by(TerminalEvent.at.desc()).limit(100)).all()
        return render(request, "monitor_terminal.html", who, terminal=terminal, state=state, charts=charts,
                      period=period, periods=list(history.PERIODS), raw=span.raw, zone=zone, alerts=alerts,
                      changes=changes, age=lambda s: age_text(s, _units(t)), drive=fiscal_drive(state.payload),
                      fiscal_days=fiscal_threshold(session, who.dealer_id))


@page("GET", "/alerts", "alerts.view")
def alerts_page(request: Request) -> Response:
    """Open alerts, then the latest closed ones, with what their deliveries did."""
    with signed(request, "alerts.view") as (session, who):
        numbers = dict(session.execute(select(Terminal.id, Terminal.number)
                                       .where(Terminal.dealer_id == who.dealer_id)).all())
        open_alerts = session.scalars(select(Alert).where(Alert.dealer_id == who.dealer_id, Alert.closed_at.is_(None))
                                      .order_by(Alert.opened_at.desc())).all()
        closed = session.scalars(select(Alert).where(Alert.dealer_id == who.dealer_id, Alert.closed_at.is_not(None))
                                 .order_by(Alert.closed_at.desc()).limit(200)).all()
        ids = [a.id for a in (*open_alerts, *closed)]
        deliveries: dict[int, list[AlertDelivery]] = {}
        if ids:
            for d in session.scalars(select(AlertDelivery).where(AlertDelivery.alert_id.in_(ids))
                                     .order_by(AlertDelivery.id)):
                deliveries.setdefault(d.alert_id, []).append(d)
        return render(request, "monitor_alerts.html", who, open_alerts=open_alerts, closed=closed, numbers=numbers,
                      deliveries=deliveries, zone=UTC)


def _rules_page(request: Request, session: Session, who: Any, status: int = 200, **extra: Any) -> Response:
    rules = {r.kind: r for r in session.scalars(select(AlertRule).where(AlertRule.dealer_id == who.dealer_id))}
    channel = session.get(AlertChannel, who.dealer_id)
    return render(request, "monitor_rules.html", who, status=status, kinds=KINDS, rules=rules, channel=channel,
                  **extra)


@page("GET", "/alerts/rules", "alerts.rules")
def rules_form(request: Request, saved: str = "") -> Response:
    """The rule editor and the alert channels (admins)."""
    with signed(request, "alerts.rules") as (session, who):
        return _rules_page(request, session, who, saved=saved)


def _rules_snapshot(session: Session, dealer_id: int) -> dict[str, Any]:
    # in the editor's units, as the dealer typed them (offline: minutes)
    return {r.kind: {"on": r.enabled, "threshold": KINDS[r.kind].shown(r.threshold), "unit": KINDS[r.kind].unit}
            for r in session.scalars(select(AlertRule).where(AlertRule.dealer_id == dealer_id)
                                     .order_by(AlertRule.kind))}


@page("POST", "/alerts/rules", "alerts.rules")
async def save_rules(request: Request) -> Response:
    """Switch rules on or off and set their thresholds, all at once; audited with before → after."""
    form = await request.form()
    fields = {k: str(v) for k, v in form.items()}
    # the database work runs in a worker thread, as FastAPI runs the portal's other (synchronous) pages
    response: Response = await run_in_threadpool(_save_rules, request, fields)
    return response


def _save_rules(request: Request, fields: dict[str, str]) -> Response:
    with signed(request, "alerts.rules", fields.get("csrf", ""), post=True) as (session, who):
        errors: dict[str, str] = {}
        wanted: dict[str, tuple[bool, int]] = {}
        for kind in KINDS:
            try:
                threshold = check_threshold(kind, fields.get(f"threshold_{kind}", str(KINDS[kind].default)))
            except ValueError as exc:
                errors[kind] = str(exc)
                continue
            wanted[kind] = (fields.get(f"enabled_{kind}") == "on", threshold)
        if errors:
            return _rules_page(request, session, who, status=400, errors=errors, form=fields)
        before = _rules_snapshot(session, who.dealer_id)
        existing = {r.kind: r for r in session.scalars(select(AlertRule).where(AlertRule.dealer_id == who.dealer_id))}
        for kind, (enabled, threshold) in wanted.items():
            rule = existing.get(kind)
            if rule is None:
                if not enabled:
                    continue
                session.add(AlertRule(dealer_id=who.dealer_id, kind=kind, threshold=threshold, enabled=True))
            else:
                rule.enabled, rule.threshold = enabled, threshold
        session.flush()
        after = _rules_snapshot(session, who.dealer_id)
        if after != before:
            audit.record(session, actor=who.email, action="alert.rules", dealer_id=who.dealer_id, target="alert rules",
                         before=before, after=after, remote=request.client.host if request.client else "")
    return RedirectResponse("/alerts/rules?saved=rules", 303)


def _check_channel(url: str, emails: str) -> dict[str, str]:
    errors = {}
    parts = urlsplit(url)
    if url and (parts.scheme not in ("https", "http") or not parts.hostname):
        errors["webhook_url"] = "an http:// or https:// address"
    bad = [a for a in (e.strip() for e in emails.split(",")) if a and not EMAIL.match(a)]
    if bad:
        errors["emails"] = f"not an e-mail address: {', '.join(bad)[:100]}"
    return errors


@page("POST", "/alerts/channels", "alerts.rules")
def save_channels(request: Request, webhook_url: Annotated[str, Form(max_length=500)] = "",
                  webhook_secret: Annotated[str, Form(max_length=200)] = "",
                  emails: Annotated[str, Form(max_length=1000)] = "", csrf: Annotated[str, Form()] = "") -> Response:
    """Set the webhook (address, signing secret) and the e-mail addresses; audited, the secret never shown."""
    webhook_url, emails = webhook_url.strip(), ", ".join(e.strip() for e in emails.split(",") if e.strip())
    with signed(request, "alerts.rules", csrf, post=True) as (session, who):
        errors = _check_channel(webhook_url, emails)
        if errors:
            return _rules_page(request, session, who, status=400, errors=errors,
                               channel_form={"webhook_url": webhook_url, "emails": emails})
        channel = session.get(AlertChannel, who.dealer_id)
        if channel is None:
            channel = AlertChannel(dealer_id=who.dealer_id, webhook_url="", webhook_secret="", emails="")
            session.add(channel)
        before = {"webhook_url": channel.webhook_url, "secret": "set" if channel.webhook_secret else "",
                  "emails": channel.emails}
        channel.webhook_url, channel.emails = webhook_url, emails
        if webhook_secret:
            channel.webhook_secret = webhook_secret
        after = {"webhook_url": channel.webhook_url, "secret": ("changed" if webhook_secret else
                                                                 "set" if channel.webhook_secret else ""),
                 "emails": channel.emails}
        audit.record(session, actor=who.email, action="alert.channels", dealer_id=who.dealer_id,
                     target="alert channels", before=before, after=after,
                     remote=request.client.host if request.client else "")
    return RedirectResponse("/alerts/rules?saved=channels", 303)

