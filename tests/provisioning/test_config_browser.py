"""Pushed configuration in a real browser (Debian's Chromium through Playwright): a dealer edits a fee, sees the
error next to the field for a bad value, saves, compares versions, assigns the version to an enrolled terminal,
sets a gateway secret that is never shown again, and sees the terminal report the version it applied."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
import test_portal_browser as portal_browser
from browser_rig import sign_in

from kiosk.app import Terminal
from kiosk.dealer_link import config_sync
from kiosk.dealer_link.enroll import enroll
from kiosk.fees import FixedFee
from provisioning import tenants
from provisioning.identity import enrollment
from provisioning.server import DealerServer

# the same service (dealer acme and its admin), browser and skip rule as the portal's own browser test
server, browser, pytestmark, PASSWORD = (portal_browser.server, portal_browser.browser, portal_browser.pytestmark,
                                         portal_browser.PASSWORD)
SECRET = "browser-secret-4711-never-shown"  # noqa: S105 - a test value that must never come back


@pytest.fixture(scope="module")
def db_url(tmp_path_factory: Any) -> str:
    """One browser run, on SQLite (the suite's time): the same pages and link run on PostgreSQL without a browser
    in test_config_portal.py and test_config_store.py."""
    return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'dealer.sqlite'}"


def _enrolled_terminal(server: DealerServer, database: Any, config: Any) -> Terminal:
    with database.session() as session:
        dealer = tenants.dealer_by_slug(session, "acme")
        row = tenants.add_terminal(session, dealer, config.terminal, "Tverskaya 1", "Europe/Moscow", "centre", "t")
        code = enrollment.new_enrollment_code(session, row, "test", dt.datetime.now(dt.UTC), 1)
    folder = config.journal_path.parent / "dealer-link"
    enroll(server.portal_url, code, server.ca_files.load().fingerprint, folder)
    terminal = Terminal(config, background_checks=False)
    terminal.start(background_outbox=False)
    terminal.config_sync = config_sync.start(terminal, folder, interval=0.5)
    return terminal


def test_edit_a_fee_see_the_field_error_save_assign_and_see_it_applied(server, browser, database, config):
    terminal = _enrolled_terminal(server, database, config)
    context = browser.new_context(ignore_https_errors=True, locale="en-US")
    page = context.new_page()
    try:
        sign_in(page, server.portal_url, "admin@acme.test", PASSWORD)
        page.get_by_role("link", name="Configuration").click()
        page.get_by_label("Name").fill("fleet")
        page.get_by_role("button", name="Add", exact=True).click()
        page.wait_for_url("**/configs/*")
        assert page.get_by_role("heading", name="Configuration: fleet").is_visible()

        # MTS is the catalog's first provider: a fixed fee of "abc" is refused by the terminal's own money parser
        page.get_by_label("Fee MTS").select_option("fixed")
        page.get_by_label("Amount MTS").fill("abc")
        page.locator("#save-quick").click()
        error = page.locator('[data-key="catalog.providers[0].fee.amount"]')
        assert error.is_visible() and "abc" in error.inner_text()
        amount = page.get_by_label("Amount MTS")
        assert amount.get_attribute("aria-invalid") == "true" and amount.input_value() == "abc"
        assert amount.get_attribute("aria-describedby") == error.get_attribute("id")  # read out with the field

        amount.fill("5")
        page.get_by_label("Comment").first.fill("five roubles for MTS")
        page.locator("#save-quick").click()
        page.wait_for_url("**/configs/*")
        assert page.get_by_role("row", name="v2").is_visible()
        page.get_by_role("link", name="v1 → v2").click()
        changes = page.locator("#changes").inner_text()
        assert "catalog.providers[0].fee.kind" in changes and '"fixed"' in changes
        assert "catalog.providers[0].fee.amount" in changes
        page.go_back()

        page.get_by_label("Version", exact=True).select_option("2")
        page.get_by_label("Assign to").select_option(label=f"Terminal {config.terminal}")
        page.get_by_role("button", name="Assign", exact=True).click()
        page.wait_for_url("**/configs/*")

        page.goto(f"{server.portal_url}/configs")
        page.get_by_role("link", name=config.terminal).click()
        assert page.locator("#assigned").inner_text().startswith("fleet v2")
        page.get_by_label("Gateway", exact=True).fill("main")
        page.get_by_label("Option").fill("password")
        page.get_by_label("Secret (write-only: never shown again)").fill(SECRET)
        page.get_by_role("button", name="Set the secret").click()
        page.wait_for_url("**/config")
        assert "set on" in page.get_by_role("row", name="main password").inner_text()
        assert SECRET not in page.content()

        # The terminal pulls (every 0.5 s here), applies between payments (it is idle: at the next pump), reports.
        applied = page.locator("#applied")
        deadline = time.monotonic() + 40
        def done() -> bool:  # the secret came in a second bundle of the same version
            return "fleet v2" in applied.inner_text() and "password" in terminal.gateways["main"].options  # type: ignore[attr-defined]

        while not done() and time.monotonic() < deadline:
            terminal.pump()
            time.sleep(0.2)
            page.reload()
        assert done()
        assert isinstance(terminal.catalog.provider("mts").fee, FixedFee)
        assert terminal.gateways["main"].options["password"] == SECRET  # type: ignore[attr-defined]
        page.goto(f"{server.portal_url}/audit")
        audit = page.content()
        assert "config.applied" in audit and "config.secret" in audit and SECRET not in audit
    finally:
        context.close()
        terminal.close()
