"""The admin's "Resolve an intent" form in a real browser (Debian's Chromium through Playwright): it opens on the
terminal's page, a wrong field is marked with its error beside it and the values stay, a right form queues
`fiscal_resolve` with the time in its zone and lands on the command's page."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from browser_rig import BROWSER_TEST, browser, portal_with_user, sign_in  # noqa: F401 - browser is a fixture
from command_rig import enrolled_terminal
from sqlalchemy import select

from provisioning.commands.models import Command
from provisioning.server import DealerServer

PASSWORD = "browser fiscal password"
pytestmark = BROWSER_TEST


@pytest.fixture(scope="module")
def server(dealer_state, database) -> Iterator[DealerServer]:
    with portal_with_user(dealer_state, database, "admin@acme.test", PASSWORD, "admin") as running:
        yield running


def test_an_admin_corrects_the_marked_fields_and_sends_the_resolution(server, database, browser, tmp_path):  # noqa: F811
    terminal_id = enrolled_terminal(server, database, tmp_path / "dealer-link")
    context = browser.new_context(ignore_https_errors=True, locale="en-US")
    try:
        page = context.new_page()
        sign_in(page, server.portal_url, "admin@acme.test", PASSWORD)
        page.goto(f"{server.portal_url}/terminals/{terminal_id}")
        assert page.get_by_role("button", name="Open fiscal intents").is_visible()
        page.get_by_text("Resolve an intent").click()  # the form is folded away until asked for
        page.get_by_label("Intent number").fill("seven")
        page.get_by_label("made the document").check()
        page.get_by_label("FP (fiscal sign)").fill("77")
        page.get_by_label("Date and time on the document").fill("2026-11-30 14:05")
        page.get_by_role("button", name="Send to the terminal").click()
        page.wait_for_url(f"**/terminals/{terminal_id}/fiscal-resolve")
        assert page.get_by_role("alert").inner_text() == "Please correct the marked fields."
        intent = page.get_by_label("Intent number")
        assert intent.get_attribute("aria-invalid") == "true" and intent.input_value() == "seven"
        assert page.locator("#fr-intent-error").inner_text() == "Enter a whole number."
        assert page.locator("#fr-fd-error").inner_text() == "Enter a whole number."  # made needs its FD
        assert page.get_by_label("FP (fiscal sign)").get_attribute("aria-invalid") is None
        assert page.get_by_label("Time zone of that time").input_value() == "Europe/Moscow"

        intent.fill("3")
        page.get_by_label("FD (document number)").fill("41")
        page.get_by_role("button", name="Send to the terminal").click()
        page.wait_for_url(f"**/terminals/{terminal_id}/commands/*")
        assert "Settle a fiscal intent" in page.get_by_role("heading", level=1).inner_text()
        with database.session() as session:
            command = session.scalar(select(Command).where(Command.terminal_id == terminal_id))
            assert command is not None and command.kind == "fiscal_resolve"
            assert json.loads(command.arguments) == {"intent": 3, "made": True, "fd": 41, "fp": 77,
                                                     "at": "2026-11-30T14:05:00+03:00", "by": "admin@acme.test"}
    finally:
        context.close()
