"""The SVG chart and the state read from a payload, without a database: gaps break the line, the y axis is round,
labels are in the terminal's zone, and odd payload values are read as unknown, never as numbers."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
import zoneinfo

import pytest

from provisioning.db.models import Terminal
from provisioning.monitor.history import Point
from provisioning.monitor.state import cassette_fill, terminal_state, validator_fault
from provisioning.monitor.svg import chart, nice_top

SVG = "{http://www.w3.org/2000/svg}"
START = dt.datetime(2030, 1, 1, 9, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(("highest", "top"), [(0, 1), (0.3, 0.4), (3, 4), (7, 10), (12, 20), (45, 50), (101, 200)])
def test_the_y_axis_ends_on_a_round_number_at_or_above_the_highest_value(highest, top):
    assert nice_top(highest) == pytest.approx(top)


def test_a_bucket_without_heartbeats_breaks_the_line_and_times_are_the_terminals():
    points = [Point(START + dt.timedelta(minutes=5 * i), v) for i, v in enumerate([1, 2, None, 4, 5, 6])]
    root = ET.fromstring(chart(points, label="Queue", zone=zoneinfo.ZoneInfo("Asia/Yekaterinburg")))
    lines = root.findall(f"{SVG}polyline")
    assert [len(line.get("points").split()) for line in lines] == [2, 3]
    assert [c.get("data-value") for c in root.iter(f"{SVG}circle")] == ["1", "2", "4", "5", "6"]
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert "14:00" in labels  # 09:00 UTC is 14:00 in Yekaterinburg
    assert root.get("aria-label") == "Queue" and root.find(f"{SVG}title").text == "Queue"
    bars = ET.fromstring(chart(points, label="Payments", zone=dt.UTC, kind="bar"))
    assert len(list(bars.iter(f"{SVG}rect"))) == 5 and not bars.findall(f"{SVG}polyline")


def test_odd_payload_values_are_unknown_rather_than_numbers():
    assert cassette_fill({"cassette": {"count": 10, "capacity": 0}}) is None
    assert cassette_fill({"cassette": {"count": True, "capacity": 100}}) is None
    assert cassette_fill({"cassette": "full"}) is None
    assert cassette_fill({"cassette": {"count": 455, "capacity": 500}}) == 91.0
    assert validator_fault({"validator": {"online": True, "state": "idling"}}) is None
    assert validator_fault({"validator": {"online": True, "state": "Drop cassette out of position"}}) \
        == "Drop cassette out of position"
    terminal = Terminal(number="1", version="", last_seen_at=START)
    state = terminal_state(terminal, {"needs_attention": "3", "outbox_depth": 2.0, "paper": "soggy",
                                      "printer": "paper_out", "locked": "yes"}, START + dt.timedelta(seconds=5), 180)
    assert state.needs_attention is None and state.outbox_depth == 2 and state.paper == "out"
    assert not state.locked and state.online and state.attention
