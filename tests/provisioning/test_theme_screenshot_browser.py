"""Issue 14's "Done when" end to end in a real browser (Debian's Chromium through Playwright): a technician uploads
a theme pack, sees its preview, assigns it to an enrolled terminal (in-process, over its real signed mTLS link, its
screen on SDL's dummy driver), the terminal's heartbeat reports the new theme, and the screenshot the portal shows
is drawn in that theme — its dominant colours are the pack's, and the default theme's background is nowhere."""

from __future__ import annotations

import io
import json
import tomllib
from collections import Counter
from collections.abc import Iterator

import pygame
import pytest
from browser_rig import BROWSER_TEST, browser, portal_with_user, sign_in, upload_theme  # noqa: F401 - browser is a fixture
from command_rig import enrolled_terminal, turn_until

from kiosk.app import Terminal
from kiosk.dealer_link import command_poller
from kiosk.dealer_link.themes import ThemeSync
from kiosk.screens.theme import THEMES_DIR
from kiosk.screens.theme_pack import pack_folder
from kiosk.screens.ui import KioskUI
from provisioning.db.models import Terminal as DealerTerminal
from provisioning.server import DealerServer

PASSWORD = "browser theme screenshot password"
#: SQLite only: the theme and command services run on both databases in their own tests; this one is the chain
pytestmark = [*BROWSER_TEST, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True, scope="module")]


@pytest.fixture(scope="module")
def server(dealer_state, database) -> Iterator[DealerServer]:
    with portal_with_user(dealer_state, database, "tech@acme.test", PASSWORD, "technician") as running:
        yield running


def palette(theme: str) -> dict[str, tuple[int, ...]]:
    """A theme's colours (background, surface, …) as its manifest states them."""
    manifest = tomllib.loads((THEMES_DIR / theme / "manifest.toml").read_text(encoding="utf-8"))
    return {name: tuple(bytes.fromhex(value.lstrip("#"))) for name, value in manifest["colours"].items()}


def in_theme(png: bytes, theme: dict[str, tuple[int, ...]], other: dict[str, tuple[int, ...]]) -> None:
    """The image is drawn in `theme`: its dominant colour is the theme's background or surface (the screens lay
    surface panels on the background), the background covers a tenth of it at least, and `other`'s background is
    nowhere in it (its surface may be: the default theme's white is high contrast's text)."""
    share = shares(png)
    assert next(iter(share)) in (theme["background"], theme["surface"]), list(share.items())[:5]
    assert share.get(theme["background"], 0.0) >= 0.1, list(share.items())[:5]
    assert other["background"] not in share


def shares(png: bytes) -> dict[tuple[int, ...], float]:
    """Each colour's share of an image, counted on every 4th pixel of every 4th row."""
    image = pygame.image.load(io.BytesIO(png), "shot.png")
    width, height = image.get_size()
    counts = Counter(tuple(image.get_at((x, y)))[:3] for x in range(0, width, 4) for y in range(0, height, 4))
    total = sum(counts.values())
    return {colour: count / total for colour, count in counts.most_common()}


def reported_theme(database, terminal_id: int) -> str:
    """The `theme` of the terminal's latest heartbeat as the service stored it."""
    with database.session() as session:
        row = session.get(DealerTerminal, terminal_id)
        return str(json.loads((row.last_heartbeat if row else None) or "{}").get("theme", ""))


def test_upload_preview_assign_and_see_the_screenshot_in_the_new_theme(server, database, browser,  # noqa: F811
                                                                         config, monkeypatch, tmp_path):
    monkeypatch.setattr(command_poller, "KEEPALIVE", 0.3)
    new, default = palette("high-contrast"), palette("default")
    assert default["background"] not in (new["background"], new["surface"])  # else a screenshot can't tell them apart
    terminal_id = enrolled_terminal(server, database, config.journal_path.parent / "dealer-link")
    terminal = Terminal(config)
    terminal.start()
    ui = KioskUI(terminal, size=(800, 600))
    context = browser.new_context(ignore_https_errors=True, locale="en-US")
    pack = tmp_path / "brand.zip"
    pack.write_bytes(pack_folder(THEMES_DIR / "high-contrast"))
    try:
        def step() -> None:
            ui.step(pygame.event.get())

        assert ui.themes.current.colours.background == default["background"]  # where the terminal starts
        page = context.new_page()
        sign_in(page, server.portal_url, "tech@acme.test", PASSWORD)
        page.get_by_role("link", name="Themes").click()
        page.wait_for_url("**/themes")

        upload_theme(page, "brand", pack)
        page.wait_for_url("**/themes/*", timeout=120_000)  # the preview is drawn before the page answers
        preview = page.get_by_role("img", name="Preview").first
        preview.scroll_into_view_if_needed()
        assert preview.evaluate("img => img.decode().then(() => img.naturalWidth)") == 640
        drawn = context.request.get(preview.evaluate("img => img.src"))  # the PNG the page shows
        in_theme(drawn.body(), new, default)  # the preview is drawn in the uploaded pack's colours

        page.get_by_label("Terminal").select_option(str(terminal_id))
        page.get_by_role("button", name="Assign to a terminal").click()
        page.wait_for_url("**/themes/*")
        assert "waiting for the terminal" in page.inner_text("main")

        sync = next(c for c in terminal.dealer_link.companions if isinstance(c, ThemeSync))
        sync.sync_now()  # what its loop does at the heartbeat's interval
        assert turn_until(step, lambda: ui.themes.current.id.startswith("brand-"))
        assert ui.themes.current.colours.background == new["background"]
        assert terminal.dealer_link.beat()  # the next heartbeat, now rather than in a minute
        assert reported_theme(database, terminal_id).startswith("brand-")

        page.goto(f"{server.portal_url}/terminals/{terminal_id}")
        page.get_by_role("button", name="Screenshot").click()
        page.wait_for_url(f"**/terminals/{terminal_id}/commands")
        shot_row = page.locator('tr[data-kind="screenshot"]')

        def shown() -> bool:
            page.reload()
            return shot_row.get_attribute("data-state") == "done"

        assert turn_until(step, shown, seconds=15)
        shot_row.get_by_role("link").click()
        image = page.get_by_role("img", name="Screenshot of terminal")
        image.wait_for()
        page.wait_for_function("() => document.querySelector('#screenshot').complete", timeout=10_000)
        assert image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [800, 600]
        shot = context.request.get(image.evaluate("img => img.src"))  # the very PNG the page shows
        assert shot.ok and shot.headers["content-type"].startswith("image/png")
        in_theme(shot.body(), new, default)  # the terminal's screen, as the portal shows it, is in the new theme
        page.screenshot(path=str(tmp_path / "portal-theme-screenshot.png"), full_page=True)
    finally:
        context.close()
        terminal.close()
        pygame.display.quit()
