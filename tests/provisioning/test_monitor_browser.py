"""Alerts in a real browser (Debian's Chromium through Playwright): an admin switches the offline rule on in the
portal, a terminal heartbeats and then goes silent, the alert appears on the alerts page; it heartbeats again and
the alert closes."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_rig import BROWSER_TEST, browser, portal_with_user, sign_in  # noqa: F401 - browser is a fixture
from monitor_support import enrolled, payload

from provisioning.server import DealerServer

PASSWORD = "browser alerts password"
SILENCE = 2  # seconds: the rule's threshold
pytestmark = BROWSER_TEST


@pytest.fixture(scope="module")
def server(dealer_state, database) -> Iterator[DealerServer]:
    # alerts evaluated every half second, as a real service does every 15 s
    with portal_with_user(dealer_state, database, "admin@acme.test", PASSWORD, "admin", periodic_tick=0.1,
                          periods={"evaluate_alerts": 0.3}) as running:
        yield running


def _until(page, check, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"not seen within {seconds} s: {page.url}"
        time.sleep(0.3)
        page.reload()


def test_a_silent_terminal_opens_an_alert_in_the_portal_and_its_next_heartbeat_closes_it(server, database, browser,  # noqa: F811
                                                                                          tmp_path):
    shots = Path(os.environ.get("KIOSK_PORTAL_SHOTS") or tmp_path)  # where to look at the pages afterwards
    context = browser.new_context(ignore_https_errors=True, locale="en-US")
    page = context.new_page()
    sign_in(page, server.portal_url, "admin@acme.test", PASSWORD)
    page.get_by_role("link", name="Fleet").click()
    page.get_by_role("link", name="Alert rules").click()
    page.get_by_role("checkbox", name="No heartbeat for more than (seconds)").check()
    page.get_by_label("No heartbeat for more than (seconds): Threshold").fill(str(SILENCE))
    page.locator("#rules").locator("xpath=..").get_by_role("button", name="Save").click()
    assert page.get_by_role("status").inner_text() == "Rules saved."
    page.screenshot(path=str(shots / "rules.png"), full_page=True)

    with enrolled(server, database, tmp_path, "10001") as link:
        link.heartbeat(payload())
        # the terminal goes silent (that a heartbeating one raises none is tests/provisioning/test_monitor_alerts.py's)
        page.goto(f"{server.portal_url}/alerts")
        row = page.locator('#open-alerts tr[data-terminal="10001"][data-kind="offline"]')
        _until(page, lambda: row.count() == 1)
        assert "no heartbeat for" in row.inner_text()
        page.screenshot(path=str(shots / "alerts.png"), full_page=True)
        link.heartbeat(payload())  # back
        closed = page.locator('#closed-alerts tr[data-terminal="10001"][data-kind="offline"]')
        _until(page, lambda: closed.count() == 1)
        assert "cleared" in closed.locator("td.closed").inner_text()
    page.goto(f"{server.portal_url}/fleet")
    assert page.locator('#fleet tr[data-terminal="10001"]').is_visible()
    page.screenshot(path=str(shots / "fleet.png"), full_page=True)
    page.get_by_role("link", name="10001").click()
    assert page.locator("#chart-fill svg").is_visible() and page.locator("#chart-payments svg").is_visible()
    page.screenshot(path=str(shots / "history.png"), full_page=True)
    context.close()
