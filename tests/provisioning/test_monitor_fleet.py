"""The fleet page and a terminal's history on SQLite and PostgreSQL, from heartbeats posted through the real signed
route: state at a glance, filters and sorting within the dealer; charts whose SVG points are the bucketed values;
the hourly rollup and the pruning of old rows keep long charts intact."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import xml.etree.ElementTree as ET
import zoneinfo
from collections.abc import Iterator

import pytest
from monitor_support import enrolled, payload
from sqlalchemy import func, select, update
from starlette.testclient import TestClient

from provisioning import tenants
from provisioning.db.models import AuditEntry, Heartbeat, Terminal, utcnow
from provisioning.monitor import history
from provisioning.monitor.models import AlertChannel, AlertRule, HeartbeatHour
from provisioning.server import DealerServer

PASSWORD = "fleet page password"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def server(dealer_state, database) -> Iterator[DealerServer]:
    with database.session() as session:
        for slug in ("fleet", "rival", "charts"):
            dealer = tenants.create_dealer(session, slug, slug.title())
            tenants.add_user(session, dealer, f"support@{slug}.test", PASSWORD, "support", "test")
        tenants.add_user(session, tenants.dealer_by_slug(session, "charts"), "admin@charts.test", PASSWORD, "admin",
                         "test")
    with DealerServer(dealer_state, periodic_tick=3600) as running:
        yield running


def _portal(server: DealerServer, email: str = "support@fleet.test") -> TestClient:
    client = TestClient(server.app, base_url="https://testserver", follow_redirects=False)
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 303
    return client


@pytest.fixture(scope="module")
def fleet(server, database, tmp_path_factory) -> dict[str, int]:
    """Five terminals of dealer `fleet` in five states, and one of a rival dealer."""
    folder = tmp_path_factory.mktemp("fleet")
    states = {
        "5001": ("north", payload()),
        "5002": ("north", payload(paper="out", cassette={"count": 950, "kopecks": 1, "capacity": 1000})),
        "5003": ("south", payload(locked=True)),
        "5004": ("south", payload(validator={"kind": "ccnet", "online": False, "state": "", "detail": ""},
                                  outbox_depth=7, outbox_oldest_s=3700)),
        "5005": ("south", payload()),
    }
    for number, (group, beat) in states.items():
        with enrolled(server, database, folder, number, dealer="fleet", group=group) as link:
            link.heartbeat(beat)
    with enrolled(server, database, folder, "9999", dealer="rival") as link:
        link.heartbeat(payload(paper="out"))
    with database.session() as session:  # 5005 went silent an hour ago
        session.execute(update(Terminal).where(Terminal.number == "5005")
                        .values(last_seen_at=utcnow() - dt.timedelta(hours=1)))
        return dict(session.execute(select(Terminal.number, Terminal.id)).all())


def _shown(page: str) -> list[str]:
    return re.findall(r'<tr data-terminal="([^"]+)">', page)


FILTERS = [
    ("", ["5001", "5002", "5003", "5004", "5005"]),
    ("?state=offline", ["5005"]),
    ("?state=online", ["5001", "5002", "5003", "5004"]),
    ("?state=out_of_service", ["5003", "5004"]),
    ("?state=locked", ["5003"]),
    ("?state=attention", ["5002", "5003", "5004", "5005"]),
    ("?group=north", ["5001", "5002"]),
    ("?group=south&q=lenina+5004", ["5004"]),
    ("?sort=cassette&order=desc", ["5002", "5001", "5003", "5004", "5005"]),
    ("?sort=outbox&order=desc&state=online", ["5004", "5001", "5002", "5003"]),
    ("?sort=number&order=desc&group=north", ["5002", "5001"]),
]


@pytest.fixture(scope="module")
def support(server) -> Iterator[TestClient]:
    """Support at dealer `fleet`, signed in once for the module (argon2 is slow on purpose)."""
    with _portal(server) as client:
        yield client


def test_fleet_page_filters_and_sorts_within_the_dealer(support, fleet):
    for query, expected in FILTERS:
        page = support.get(f"/fleet{query}")
        assert page.status_code == 200
        assert _shown(page.text) == expected, query
        assert "9999" not in page.text


def test_a_large_fleet_is_read_a_page_at_a_time_with_its_filters_kept(support, fleet, monkeypatch):
    from provisioning.portal import monitor_routes

    monkeypatch.setattr(monitor_routes, "FLEET_PAGE", 2)
    first = support.get("/fleet?sort=number&order=desc").text
    assert _shown(first) == ["5005", "5004"] and "page 1 of 3 (5 terminals)" in first and 'rel="prev"' not in first
    following = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = support.get(following).text
    assert _shown(second) == ["5003", "5002"] and "page 2 of 3" in second  # the sort order travels with the page
    assert _shown(support.get("/fleet?sort=number&order=desc&page=9").text) == ["5001"]  # past the end: the last
    filtered = support.get("/fleet?group=north&page=2").text  # two terminals fit one page: no pager at all
    assert _shown(filtered) == ["5001", "5002"] and 'id="fleet-page"' not in filtered


def test_fleet_page_shows_each_terminals_state_at_a_glance(server, support, fleet):
    page = support.get("/fleet").text
    rows = dict(re.findall(r'<tr data-terminal="(\d+)">(.*?)</tr>', page, re.S))
    assert '<td class="cassette">95 %</td>' in rows["5002"] and '<td class="paper">out</td>' in rows["5002"]
    assert '<td class="cassette">10 %</td>' in rows["5001"] and '<td class="paper">ok</td>' in rows["5001"]
    assert "locked" in rows["5003"]
    assert "out of service" in rows["5004"] and '<td class="outbox">7</td>' in rows["5004"]
    assert '<td class="oldest">1 h 1 min</td>' in rows["5004"]
    assert ">offline<" in rows["5005"] and ">online<" in rows["5001"]
    assert "1.4.0" in rows["5001"]
    assert re.search(r"Terminals: 5 · online: 4 · out of service: 2", page)
    russian = _portal(server)
    russian.get("/lang/ru")
    assert '<td class="paper">нет</td>' in russian.get("/fleet").text


def test_another_dealers_terminal_history_is_not_found(server, support, fleet):
    assert support.get(f"/fleet/{fleet['9999']}").status_code == 404
    assert _portal(server, "support@rival.test").get(f"/fleet/{fleet['5001']}").status_code == 404


def _points(page: str, chart: str) -> dict[str, float]:
    markup = re.search(rf'<figure id="chart-{chart}">.*?(<svg.*?</svg>)', page, re.S)
    assert markup, f"no {chart} chart"
    root = ET.fromstring(markup.group(1))
    return {e.get("data-at"): float(e.get("data-value")) for e in root.iter()
            if e.get("class") == "point"}


def _at(epoch: int) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat()


def test_history_charts_hold_the_bucketed_values_and_survive_rollup_and_pruning(server, database, dealer_state,
                                                                              tmp_path):
    now = utcnow()
    base = (int(now.timestamp()) // 300) * 300 - 3 * 3600  # a five-minute bucket three hours ago
    beats = [(base + 10, 100, 2, 10), (base + 70, 120, 5, 12), (base + 3630, 300, 1, 20), (base + 7200, 50, 0, 26)]
    with enrolled(server, database, tmp_path, "5101", dealer="charts") as link:
        for _, count, depth, operation in beats:
            link.heartbeat(payload(cassette={"count": count, "kopecks": 1, "capacity": 1000}, outbox_depth=depth,
                                   last_operation=operation))
    with database.session() as session:  # the same rows, moved to the hours they stand for
        terminal_id = session.scalar(select(Terminal.id).where(Terminal.number == "5101"))
        ids = session.scalars(select(Heartbeat.id).where(Heartbeat.terminal_id == terminal_id)
                              .order_by(Heartbeat.id)).all()
        for row_id, (at, *_) in zip(ids, beats, strict=True):
            session.execute(update(Heartbeat).where(Heartbeat.id == row_id)
                            .values(received_at=dt.datetime.fromtimestamp(at, dt.UTC)))
        # a payload cut short is left out of every chart instead of failing it
        session.add(Heartbeat(terminal_id=terminal_id, received_at=dt.datetime.fromtimestamp(base + 100, dt.UTC),
                              payload='{"cassette": {"count": 999, "capac'))
    portal = _portal(server, "support@charts.test")
    page = portal.get(f"/fleet/{terminal_id}?period=6h").text
    assert _points(page, "fill") == {_at(base): 12.0, _at(base + 3600): 30.0, _at(base + 7200): 5.0}
    assert _points(page, "depth") == {_at(base): 5.0, _at(base + 3600): 1.0, _at(base + 7200): 0.0}
    hour = base // 3600 * 3600
    assert _points(page, "payments") == {_at(hour + 3600): 8.0, _at(hour + 7200): 6.0}
    assert "Europe/Moscow" in page

    later = now + dt.timedelta(hours=1)
    with database.session() as session:
        # other tests of this module may have left older heartbeats: a run sums up at most ROLLUP_MAX_HOURS, and
        # the hours after the newest one with data are looked at again (nothing to add there)
        assert sum(history.rollup(session, later, dealer_state) for _ in range(50)) >= 3
        summed = session.scalar(select(func.count()).select_from(HeartbeatHour))
        history.rollup(session, later, dealer_state)
        assert session.scalar(select(func.count()).select_from(HeartbeatHour)) == summed  # each hour once
        hours = session.execute(select(HeartbeatHour.hour, HeartbeatHour.cassette_fill, HeartbeatHour.last_operation,
                                       HeartbeatHour.samples).where(HeartbeatHour.terminal_id == terminal_id)
                                .order_by(HeartbeatHour.hour)).all()
        assert [tuple(h) for h in hours] == [(hour // 3600, 12.0, 12, 2), (hour // 3600 + 1, 30.0, 20, 1),
                                             (hour // 3600 + 2, 5.0, 26, 1)]
        pruned = history.prune(session, later, dataclasses.replace(dealer_state, heartbeat_retention_days=0))
        assert pruned >= 4
        left = session.scalars(select(Heartbeat.payload).where(Heartbeat.terminal_id == terminal_id)).all()
    assert len(left) == 1 and '"last_operation": 26' in left[0]  # the newest stays: the fleet page reads it
    page = portal.get(f"/fleet/{terminal_id}?period=7d").text
    by_two_hours: dict[str, float] = {}
    for at, fill in ((hour, 12.0), (hour + 3600, 30.0), (hour + 7200, 5.0)):
        key = _at(at // 7200 * 7200)
        by_two_hours[key] = max(by_two_hours.get(key, 0.0), fill)
    assert _points(page, "fill") == by_two_hours
    assert _points(page, "payments") == {_at(hour + 3600): 8.0, _at(hour + 7200): 6.0}


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found
    return found.group(1)


def test_rule_editor_checks_thresholds_audits_changes_and_never_shows_the_webhook_secret(server, database):
    admin = _portal(server, "admin@charts.test")
    form = admin.get("/alerts/rules")
    assert form.status_code == 200 and form.text.count('type="checkbox"') == 7  # six kinds and the fiscal drive's
    assert "Fiscal drive valid for fewer than (days)" in form.text
    csrf = _csrf(form.text)
    wrong = admin.post("/alerts/rules", data={"csrf": csrf, "enabled_offline": "on", "threshold_offline": "soon"})
    assert wrong.status_code == 400 and "a whole number of minutes from 1 to 10080" in wrong.text
    assert 'id="threshold_offline" name="threshold_offline" inputmode="numeric" size="8" value="soon" ' \
           'aria-invalid="true"' in wrong.text
    for bad in ("0", "10081", "-5", "1.5", "٣"):  # minutes: a positive whole number, a week at most
        refused = admin.post("/alerts/rules", data={"csrf": csrf, "enabled_offline": "on", "threshold_offline": bad})
        assert refused.status_code == 400 and "a whole number of minutes from 1 to 10080" in refused.text, bad
    saved = admin.post("/alerts/rules", data={"csrf": csrf, "enabled_offline": "on", "threshold_offline": "120",
                                              "enabled_cassette": "on", "threshold_cassette": "85"})
    assert saved.status_code == 303
    secret = "the-dealer-webhook-secret-42"
    assert admin.post("/alerts/channels", data={"csrf": csrf, "webhook_url": "ftp://hooks.example"}).status_code == 400
    assert admin.post("/alerts/channels", data={"csrf": csrf, "webhook_url": "https://hooks.example/kiosk",
                                                "webhook_secret": secret, "emails": "a@b.example, c@d.example"}
                      ).status_code == 303
    assert admin.post("/alerts/channels", data={"csrf": csrf, "webhook_url": "https://hooks.example/kiosk",
                                                "emails": "a@b.example"}).status_code == 303  # the secret is kept
    page = admin.get("/alerts/rules").text
    assert 'name="threshold_offline" inputmode="numeric" size="8" value="120"> min' in page  # shown in minutes
    assert secret not in page and "A secret is set." in page and "https://hooks.example/kiosk" in page
    audit = admin.get("/audit").text
    assert secret not in audit and "alert.rules" in audit and "alert.channels" in audit
    with database.session() as session:
        dealer = tenants.dealer_by_slug(session, "charts")
        rules = {r.kind: (r.enabled, r.threshold) for r in session.scalars(
            select(AlertRule).where(AlertRule.dealer_id == dealer.id))}
        channel = session.get(AlertChannel, dealer.id)
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "alert.rules",
                                                         AuditEntry.dealer_id == dealer.id)).one()
    assert rules == {"offline": (True, 120 * 60), "cassette": (True, 85)}  # offline stored in seconds
    assert channel.webhook_secret == secret and channel.emails == "a@b.example"
    assert entry.actor == "admin@charts.test" and entry.before == "{}"
    assert '"offline": {"on": true, "threshold": 120, "unit": "min"}' in entry.after
    support = _portal(server, "support@charts.test")
    assert support.get("/alerts/rules").status_code == 403
    assert support.post("/alerts/rules", data={"csrf": _csrf(support.get("/fleet").text)}).status_code == 403


def test_every_monitoring_word_exists_in_both_languages_and_hides_no_portal_word():
    from provisioning.portal.i18n import TEXTS
    from provisioning.portal.monitor_texts import WORDS

    assert set(WORDS["en"]) == set(WORDS["ru"]) and all(WORDS["ru"].values())
    assert all(TEXTS[lang][key] == word for lang in WORDS for key, word in WORDS[lang].items())


def test_history_lists_the_state_changes_the_terminal_reported_in_its_own_zone(server, database, tmp_path):
    at = (utcnow() - dt.timedelta(minutes=30)).replace(microsecond=0)
    changes = [{"id": "evt-paper-0001", "at": at.isoformat(), "kind": "paper_out", "detail": "sensor says empty"},
               {"id": "evt-paper-0002", "at": (at + dt.timedelta(minutes=5)).isoformat(), "kind": "paper_ok",
                "detail": ""}]
    with enrolled(server, database, tmp_path, "5102", dealer="charts") as link:
        link.heartbeat(payload(events=changes))
        link.heartbeat(payload(events=changes))  # resent until acknowledged: stored once
    with database.session() as session:
        terminal_id = session.scalar(select(Terminal.id).where(Terminal.number == "5102"))
    page = _portal(server, "support@charts.test").get(f"/fleet/{terminal_id}?period=6h").text
    table = re.search(r'<table id="state-changes">.*?</table>', page, re.S)
    assert table, "no state changes shown"
    rows = re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td><td>([^<]*)</td></tr>", table.group(0))
    moscow = at.astimezone(zoneinfo.ZoneInfo("Europe/Moscow"))
    assert rows == [((moscow + dt.timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S"), "paper_ok", ""),
                    (moscow.strftime("%Y-%m-%d %H:%M:%S"), "paper_out", "sensor says empty")]

