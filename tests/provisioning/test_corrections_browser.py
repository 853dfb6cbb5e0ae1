"""A correction in a real browser (Debian's Chromium through Playwright): support opens a payment's story and
requests a refund, a second person approves it, the terminal (enrolled, in-process, over its real signed link)
carries it out, and the story shows the payment refunded, with who returned the cash and who approved."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from browser_rig import BROWSER_TEST, browser, sign_in  # noqa: F401 - browser is a fixture
from correction_support import PASSWORD, dealer
from correction_terminal import declined_payment, enrolled_kiosk, uploaded_state

from provisioning.corrections import service
from provisioning.corrections.models import Correction
from provisioning.server import DealerServer

pytestmark = BROWSER_TEST


@pytest.fixture(scope="module")
def server(dealer_state, database) -> Iterator[DealerServer]:
    dealer(database)
    with DealerServer(dealer_state, periodic_tick=0.5) as running:
        yield running


def _state(database, correction_id: int) -> str:  # noqa: ANN001
    with database.session() as session:
        return service.one(session, session.get(Correction, correction_id).dealer_id, correction_id,
                           dt.datetime.now(dt.UTC)).state


def test_support_requests_a_refund_a_second_person_approves_and_the_story_shows_it(
        server, database, browser, config, monkeypatch):  # noqa: F811
    with enrolled_kiosk(server, database, config, monkeypatch) as kiosk:
        operation = declined_payment(kiosk)
        number = kiosk.terminal.config.terminal
        assert kiosk.turn_until(lambda: uploaded_state(database, kiosk.terminal_id, operation) == "needs_attention")
        support_context = browser.new_context(ignore_https_errors=True, locale="en-US")
        boss_context = browser.new_context(ignore_https_errors=True, locale="en-US")
        try:
            support = support_context.new_page()
            sign_in(support, server.portal_url, "support@acme.test", PASSWORD)
            support.goto(f"{server.portal_url}/lookup?q={number}/{operation}")
            assert support.locator("#story-state").inner_text() == "needs_attention"
            support.get_by_role("link", name="Cancel and refund").click()
            support.wait_for_url("**/corrections/new?**")
            assert support.get_by_label("Cancel and refund").is_checked()
            support.get_by_label("How the cash was returned").select_option("cash")
            support.get_by_label("Returned by", exact=True).fill("Petrova, office cashier")
            support.get_by_label("Note (why)").fill("the payer typed a wrong number and came to the office")
            support.get_by_role("button", name="Request").click()
            support.wait_for_url("**/corrections/*")
            correction_id = int(support.url.rstrip("/").rsplit("/", 1)[1])
            assert support.locator("#correction-state").inner_text() == "waiting for approval"
            assert support.get_by_role("button", name="Approve").count() == 0  # not support's to approve

            boss = boss_context.new_page()
            sign_in(boss, server.portal_url, "boss@acme.test", PASSWORD)
            boss.goto(f"{server.portal_url}/corrections")
            boss.locator("#corrections-waiting").get_by_role("link", name=str(correction_id), exact=True).click()
            boss.get_by_role("button", name="Approve").click()
            boss.wait_for_url(f"**/corrections/{correction_id}")
            assert boss.locator("#correction-state").inner_text() in ("sent to the terminal", "done")

            assert kiosk.turn_until(lambda: _state(database, correction_id) == "done")
            assert kiosk.turn_until(lambda: uploaded_state(database, kiosk.terminal_id, operation) == "refunded")
            support.goto(f"{server.portal_url}/lookup?q={number}/{operation}")
            assert support.locator("#story-state").inner_text() == "refunded"
            story = support.locator(".story-events").inner_text()
            assert "returned by Petrova, office cashier" in story and "approved by boss@acme.test" in story
            assert "done" in support.locator("#story-corrections").inner_text()
        finally:
            support_context.close()
            boss_context.close()
