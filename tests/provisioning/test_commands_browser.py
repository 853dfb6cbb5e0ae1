"""Remote commands from the portal in a real browser (Debian's Chromium through Playwright): a technician locks a
terminal with a message, the terminal (in-process, over its real signed mTLS link, its screen on SDL's dummy driver)
shows out of service with that message, a screenshot of it appears in the portal, and unlock brings it back."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pygame
import pytest
from command_rig import enrolled_terminal, turn_until

from kiosk.app import Terminal
from kiosk.dealer_link import command_poller
from kiosk.screens.ui import KioskUI
from provisioning import tenants
from provisioning.server import DealerServer

CHROMIUM = os.environ.get("KIOSK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "browser commands password"
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not shutil.which(CHROMIUM) and os.environ.get("CI") != "true",
                                 reason=f"{CHROMIUM} not installed (CI installs it)")]


@pytest.fixture(scope="module")
def server(dealer_state, database) -> Iterator[DealerServer]:
    with database.session() as session:
        dealer = tenants.create_dealer(session, "acme", "Acme Kiosks")
        tenants.add_user(session, dealer, "tech@acme.test", PASSWORD, "technician", "test")
    with DealerServer(dealer_state, periodic_tick=0.5) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def test_lock_screenshot_and_unlock_from_the_portal(server, database, browser, config, monkeypatch, tmp_path):
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
        page.goto(f"{server.portal_url}/login")
        page.get_by_label("E-mail").fill("tech@acme.test")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/terminals")
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
