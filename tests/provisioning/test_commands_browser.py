"""Remote commands from the portal in a real browser (Debian's Chromium through Playwright): a technician locks a
terminal with a message, the terminal (in-process, over its real signed mTLS link, its screen on SDL's dummy driver)
shows out of service with that message, a screenshot of it appears in the portal, and unlock brings it back."""

from __future__ import annotations

from collections.abc import Iterator

import pygame
import pytest
from browser_rig import BROWSER_TEST, browser, portal_with_user, sign_in  # noqa: F401 - browser is a fixture
from command_rig import enrolled_terminal, turn_until

from kiosk.app import Terminal
from kiosk.dealer_link import command_poller
from kiosk.screens.ui import KioskUI
from provisioning.server import DealerServer

PASSWORD = "browser commands password"
pytestmark = BROWSER_TEST


@pytest.fixture(scope="module")
def server(dealer_state, database) -> Iterator[DealerServer]:
    with portal_with_user(dealer_state, database, "tech@acme.test", PASSWORD, "technician") as running:
        yield running


def test_lock_screenshot_and_unlock_from_the_portal(server, database, browser, config, monkeypatch, tmp_path):  # noqa: F811
    monkeypatch.setattr(command_poller, "KEEPALIVE", 0.3)
    terminal_id = enrolled_terminal(server, database, config.journal_path.parent / "dealer-link")
    terminal = Terminal(config)
    terminal.start()
    ui = KioskUI(terminal, size=(800, 600))
    context = browser.new_context(ignore_https_errors=True, locale="en-US")
    try:
        def step() -> None:
            ui.step(pygame.event.get())

        page = context.new_page()
        sign_in(page, server.portal_url, "tech@acme.test", PASSWORD)
        page.goto(f"{server.portal_url}/terminals/{terminal_id}")

        page.get_by_label("Message on the screen").fill("Closed for repairs, sorry")
        page.get_by_role("button", name="Lock (out of service)").click()
        page.wait_for_url(f"**/terminals/{terminal_id}/commands")
        lock_row = page.locator('tr[data-kind="lock"]')
        assert lock_row.get_attribute("data-state") in ("queued", "delivered", "done")
        assert turn_until(step, lambda: terminal.session.lock_message is not None)
        assert ui.screen.name == "out_of_service" and ui.view.locked == "Closed for repairs, sorry"

        page.get_by_role("button", name="Screenshot").click()
        shot_row = page.locator('tr[data-kind="screenshot"]')

        def shown() -> bool:
            page.reload()  # the page also reloads itself while a command is under way; no waiting on that here
            return shot_row.get_attribute("data-state") == "done"

        assert turn_until(step, shown, seconds=30)
        assert lock_row.get_attribute("data-state") == "done"
        shot_row.get_by_role("link").click()
        image = page.get_by_role("img", name="Screenshot of terminal")
        image.wait_for()
        page.wait_for_function("() => document.querySelector('#screenshot').complete", timeout=15_000)  # loaded
        size = image.evaluate("img => [img.complete, img.naturalWidth, img.naturalHeight]")
        assert size == [True, 800, 600]
        page.screenshot(path=str(tmp_path / "portal-screenshot.png"), full_page=True)

        page.goto(f"{server.portal_url}/terminals/{terminal_id}")
        page.get_by_role("button", name="Unlock").click()
        assert turn_until(step, lambda: terminal.session.state == "idle")
        assert ui.view.locked is None

        page.get_by_role("navigation").get_by_role("link", name="Remote commands").click()  # the whole fleet's
        page.wait_for_url("**/commands")
        kinds = page.locator("#commands tbody tr").evaluate_all("rows => rows.map(r => r.dataset.kind)")
        assert kinds[-2:] == ["screenshot", "lock"] and "unlock" in kinds
    finally:
        context.close()
        terminal.close()
        pygame.display.quit()
