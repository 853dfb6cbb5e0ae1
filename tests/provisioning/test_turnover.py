"""Turnover on SQLite and PostgreSQL: delivered payments summed by the terminal's local day, by terminal and by
provider; the portal page draws the three charts as server-side SVG (no script) with the totals table."""

from __future__ import annotations

import re
from datetime import date

import pytest
from registry_rig import upload_history
from starlette.testclient import TestClient

from provisioning import tenants
from provisioning.app import create_app
from provisioning.registries import turnover

PASSWORD = "turnover pass phrase"


@pytest.fixture(scope="module")
def history(database, tmp_path_factory) -> dict:
    with database.session() as session:
        found = upload_history(session, tmp_path_factory.mktemp("turnover"), "turn")
        tenants.add_user(session, tenants.dealer_by_slug(session, "turn"), "support@turn.test", PASSWORD, "support",
                         "test")
    return found


def test_sums_by_local_day_terminal_and_provider(database, history):
    with database.session() as session:
        found = turnover.lines(session, history["dealer"], date(2026, 3, 9), date(2026, 3, 12))
    # the terminal is in Omsk (UTC+6): 'before' (23:50 Moscow on the 9th) and 'late' (23:30) are its 10th and 11th
    per_day = turnover.by(found, "day")
    assert {d: (v.payments, v.credited) for d, v in per_day.items()} == {
        "2026-03-10": (4, 9800 + 14700 + 14700 + 98000), "2026-03-11": (2, 49000 + 9800)}
    assert {p: v.credited for p, v in turnover.by(found, "provider").items()} == {
        "mts": 14700, "vodokanal": 9800 + 14700 + 98000 + 49000 + 9800}
    assert turnover.total(found).fee + turnover.total(found).credited == turnover.total(found).cash
    with database.session() as session:
        assert turnover.lines(session, history["dealer"], date(2026, 3, 11), date(2026, 3, 11),
                              provider="mts") == []
        assert turnover.lines(session, history["dealer"] + 999, date(2026, 3, 9), date(2026, 3, 12)) == []


def test_the_portal_draws_the_charts_and_the_totals(dealer_state, database, history):
    client = TestClient(create_app(dealer_state, database), base_url="https://testserver", follow_redirects=False)
    assert client.post("/login", data={"email": "support@turn.test", "password": PASSWORD}).status_code == 303
    page = client.get("/turnover?since=2026-03-09&until=2026-03-12").text
    charts = re.findall(r'<figure id="chart-(\w+)"><svg .*?</svg>', page, re.S)
    assert charts == ["day", "terminal", "provider"] and "<script" not in page
    day_bars = re.findall(r'data-label="(2026-[\d-]+)" data-value="(\d+)"', page)
    assert day_bars == [("2026-03-09", "0"), ("2026-03-10", str(9800 + 14700 + 14700 + 98000)),
                        ("2026-03-11", str(49000 + 9800)), ("2026-03-12", "0")]
    assert 'data-label="30001" data-value="196000"' in page
    assert re.search(r'<tr class="total"><th scope="row">All</th><td>6</td><td>2000.00</td><td>1960.00</td>'
                     r"<td>40.00</td></tr>", page)
    assert client.get("/turnover?since=2026-03-12&until=2026-03-01").status_code == 400
