"""Reconciliation in a real browser (Debian's Chromium through Playwright): support imports the processing system's
registry on the portal, sees the amount that differs, and follows the discrepancy's link to the payment's story."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser_rig import BROWSER_TEST, browser, sign_in  # noqa: F401 - browser is a fixture
from registry_rig import upload_history

from provisioning import tenants
from provisioning.server import DealerServer

PASSWORD = "browser reconcile password"
pytestmark = BROWSER_TEST


@pytest.fixture(scope="module")
def server(dealer_state, database, tmp_path_factory) -> Iterator[tuple[DealerServer, dict]]:
    with database.session() as session:
        history = upload_history(session, tmp_path_factory.mktemp("browser"), "acme")
        tenants.add_user(session, tenants.dealer_by_slug(session, "acme"), "support@acme.test", PASSWORD, "support",
                         "test")
    with DealerServer(dealer_state, periodic_tick=0.5) as running:
        yield running, history


def test_support_imports_a_registry_sees_the_discrepancy_and_opens_the_story(server, browser, tmp_path):  # noqa: F811
    running, h = server
    theirs = tmp_path / "processing-2026-03-10.csv"
    theirs.write_text("terminal;operation;paid_at;account;amount;gateway_id\r\n"
                      f"30001;{h['plain']};2026-03-10 10:00:00;1000000001;147.00;prv{h['plain']}\r\n"
                      f"30001;{h['utility']};2026-03-10 12:00:00;1000000002;970.00;prv{h['utility']}\r\n"
                      f"30001;{h['late']};2026-03-10 23:30:00;1000000004;490.00;prv{h['late']}\r\n")
    context = browser.new_context(ignore_https_errors=True, locale="en-US")
    page = context.new_page()
    try:
        sign_in(page, running.portal_url, "support@acme.test", PASSWORD)
        page.get_by_role("link", name="Registries").click()
        page.get_by_role("link", name="Reconciliation").first.click()
        page.get_by_label("Provider id").fill("vodokanal")
        page.get_by_label("Day (local date)").fill("2026-03-10")
        page.get_by_label("Their registry (CSV)").set_input_files(str(theirs))
        page.get_by_role("button", name="Import and match").click()
        page.wait_for_url("**/reconcile/*")
        assert page.locator("#discrepancies").inner_text() == "1"
        mismatches = page.locator('table[data-kind="mismatches"] tbody tr')
        assert mismatches.count() == 1
        row = mismatches.first
        assert row.locator("td").nth(2).inner_text() == "980.00" and row.locator("td").nth(3).inner_text() == "970.00"
        assert "/corrections/new?terminal=30001" in row.get_by_role("link", name="Open as correction").get_attribute(
            "href")
        row.get_by_role("link", name="Story").click()
        page.wait_for_url(f"**/lookup/terminals/*/operations/{h['utility']}")
        assert "1000000002" in page.content() and page.get_by_role("heading").first.is_visible()
    finally:
        context.close()
