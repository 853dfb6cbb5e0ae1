"""The fiscal drive's days left, from heartbeats posted through the real signed route (SQLite and PostgreSQL): on the
terminal's page and its history page always, on the fleet page as a badge only under the dealer's alert threshold
(its fiscal-drive rule, else the default 30 days), in English and Russian."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from monitor_support import enrolled, payload
from sqlalchemy import select
from starlette.testclient import TestClient

from provisioning import tenants
from provisioning.db.models import Dealer, Terminal
from provisioning.monitor.models import AlertRule
from provisioning.server import DealerServer

PASSWORD = "fiscal drive page password"


def drive(days: int, fn: str = "9999078900012345") -> dict[str, object]:
    return {"fn": fn, "valid_until": f"2027-01-{1 + days % 28:02d}", "days_left": days}


@pytest.fixture(scope="module")
def server(dealer_state, database) -> Iterator[DealerServer]:
    with database.session() as session:
        dealer = tenants.create_dealer(session, "drives", "Drives")
        tenants.add_user(session, dealer, "support@drives.test", PASSWORD, "support", "test")
    with DealerServer(dealer_state, periodic_tick=3600) as running:
        yield running


@pytest.fixture(scope="module")
def fleet(server, database, tmp_path_factory) -> dict[str, int]:
    """Terminals whose drives have 12, 200 and -3 days left, and one with no fiscal registrar."""
    folder = tmp_path_factory.mktemp("drives")
    beats = {"6001": payload(fiscal_drive=drive(12, "9999078900000012")),
             "6002": payload(fiscal_drive=drive(200, "9999078900000200")),
             "6003": payload(fiscal_drive=drive(-3, "9999078900000003")),
             "6004": payload(fiscal_drive=None)}
    for number, beat in beats.items():
        with enrolled(server, database, folder, number, dealer="drives") as link:
            link.heartbeat(beat)
    with database.session() as session:
        return dict(session.execute(select(Terminal.number, Terminal.id).where(Terminal.number.in_(beats))).all())


@pytest.fixture(scope="module")
def support(server) -> Iterator[TestClient]:
    with TestClient(server.app, base_url="https://testserver", follow_redirects=False) as client:
        assert client.post("/login", data={"email": "support@drives.test", "password": PASSWORD}).status_code == 303
        yield client


def badges(page: str) -> dict[str, str]:
    """Each fleet row's fiscal badge text, by terminal number (rows without one left out)."""
    rows = dict(re.findall(r'<tr data-terminal="(\d+)">(.*?)</tr>', page, re.S))
    found = {number: re.search(r'class="offline fiscal-badge"[^>]*>([^<]+)<', row) for number, row in rows.items()}
    return {number: match.group(1) for number, match in found.items() if match}


def set_threshold(database, days: int | None) -> None:
    with database.session() as session:
        dealer_id = session.scalar(select(Dealer.id).where(Dealer.slug == "drives"))
        rule = session.scalar(select(AlertRule).where(AlertRule.dealer_id == dealer_id,
                                                      AlertRule.kind == "fiscal_drive"))
        if days is None:
            if rule is not None:
                session.delete(rule)
        elif rule is None:
            session.add(AlertRule(dealer_id=dealer_id, kind="fiscal_drive", threshold=days, enabled=True))
        else:
            rule.threshold = days


def test_the_fleet_badges_only_drives_under_the_threshold(support, fleet, database):
    set_threshold(database, None)  # no rule: the alert's default, 30 days
    assert badges(support.get("/fleet").text) == {"6001": "FN: 12 d", "6003": "FN expired"}
    set_threshold(database, 365)  # the dealer orders drives a year ahead
    try:
        assert badges(support.get("/fleet").text) == {"6001": "FN: 12 d", "6002": "FN: 200 d",
                                                      "6003": "FN expired"}
    finally:
        set_threshold(database, None)


def test_the_terminals_pages_show_the_drive_and_say_when_to_replace_it(support, fleet):
    for path in ("/terminals/{}", "/fleet/{}"):
        due = support.get(path.format(fleet["6001"])).text
        item = re.search(r'<dd id="fiscal-drive" data-days-left="12" class="offline">(.*?)</dd>', due, re.S)
        assert item, path
        assert "FN 9999078900000012" in item.group(1) and "valid until 2027-01-13" in item.group(1)
        assert "12 d left" in item.group(1) and "to be replaced" in item.group(1)
        fine = support.get(path.format(fleet["6002"])).text
        assert '<dd id="fiscal-drive" data-days-left="200">' in fine and "to be replaced" not in fine
        expired = support.get(path.format(fleet["6003"])).text
        assert "expired: no fiscal receipts" in expired
        assert 'id="fiscal-drive"' not in support.get(path.format(fleet["6004"])).text  # no registrar, no line


def test_the_days_left_in_russian(server, fleet):
    with TestClient(server.app, base_url="https://testserver", follow_redirects=False) as client:
        assert client.post("/login", data={"email": "support@drives.test", "password": PASSWORD}).status_code == 303
        client.get("/lang/ru")
        assert badges(client.get("/fleet").text) == {"6001": "ФН: 12 дн.", "6003": "ФН истёк"}
        page = client.get(f"/terminals/{fleet['6001']}").text
        assert "Фискальный накопитель" in page and "осталось 12 дн." in page and "пора заменить" in page
