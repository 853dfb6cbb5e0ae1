"""Themes from the portal in a real browser (Debian's Chromium through Playwright): upload a pack, see its preview
drawn by the terminal's own screens, see a bad pack refused with its reason, assign the pack to an enrolled
terminal (in-process, over its real signed mTLS link, its screen on SDL's dummy driver) and see the terminal
switch to it and the portal say it is on screen."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import pygame
import pytest
from browser_rig import BROWSER_TEST, browser, portal_with_user, sign_in, upload_theme  # noqa: F401 - browser is a fixture
from command_rig import enrolled_terminal, turn_until

from kiosk.app import Terminal
from kiosk.dealer_link.themes import ThemeSync
from kiosk.screens.theme import THEMES_DIR
from kiosk.screens.theme_pack import pack_folder
from kiosk.screens.ui import KioskUI
from provisioning.server import DealerServer

PASSWORD = "browser themes password"
pytestmark = BROWSER_TEST


@pytest.fixture(scope="module")
def server(dealer_state, database) -> Iterator[DealerServer]:
    with portal_with_user(dealer_state, database, "tech@acme.test", PASSWORD, "technician") as running:
        yield running


def test_upload_preview_refuse_assign_and_see_the_terminal_switch(server, database, browser, config,  # noqa: F811
                                                                  tmp_path):
    terminal_id = enrolled_terminal(server, database, config.journal_path.parent / "dealer-link")
    terminal = Terminal(config)
    terminal.start()
    ui = KioskUI(terminal, size=(800, 600))
    context = browser.new_context(ignore_https_errors=True, locale="en-US")
    good, bad = tmp_path / "brand.zip", tmp_path / "evil.zip"
    good.write_bytes(pack_folder(THEMES_DIR / "high-contrast"))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("../logo.png", b"\x89PNG\r\n\x1a\n")
    bad.write_bytes(out.getvalue())
    try:
        page = context.new_page()
        sign_in(page, server.portal_url, "tech@acme.test", PASSWORD)
        page.get_by_role("link", name="Themes").click()
        page.wait_for_url("**/themes")

        upload_theme(page, "evil", bad)
        alert = page.get_by_role("alert")
        assert "The pack is refused" in alert.inner_text() and "'../logo.png'" in alert.inner_text()

        upload_theme(page, "brand", good)
        page.wait_for_url("**/themes/*", timeout=120_000)  # the preview is drawn before the page answers
        images = page.get_by_role("img", name="Preview")
        assert images.count() == 8
        for index in range(8):
            image = images.nth(index)
            image.scroll_into_view_if_needed()
            assert image.evaluate("img => img.decode().then(() => [img.naturalWidth, img.naturalHeight])") == [640, 512]
        page.screenshot(path=str(tmp_path / "portal-theme-preview.png"), full_page=True)

        page.get_by_label("Terminal").select_option(str(terminal_id))
        page.get_by_role("button", name="Assign to a terminal").click()
        page.wait_for_url("**/themes/*")
        assert "waiting for the terminal" in page.inner_text("main")

        sync = next(c for c in terminal.dealer_link.companions if isinstance(c, ThemeSync))
        sync.sync_now()  # what the loop does at its interval (and a sync-now command at once)
        assert turn_until(lambda: ui.step(pygame.event.get()), lambda: ui.themes.current.id.startswith("brand-"))
        assert ui.themes.current.colours.background == (0, 0, 0)  # high contrast on the terminal's screen
        sync.sync_now()  # the terminal says it has the pack
        page.goto(f"{server.portal_url}/themes")
        assert "shown since" in page.inner_text("main")
    finally:
        context.close()
        terminal.close()
        pygame.display.quit()
