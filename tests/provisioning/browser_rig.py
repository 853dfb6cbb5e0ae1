"""For the portal's browser tests: Debian's Chromium through Playwright, and a served portal with one user."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from provisioning import tenants
from provisioning.db import Database
from provisioning.server import DealerServer
from provisioning.settings import Settings

CHROMIUM = os.environ.get("KIOSK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
#: a browser test is slow, and skipped where no Chromium is installed (never in CI, which installs it)
BROWSER_TEST = [pytest.mark.slow,
                pytest.mark.skipif(not shutil.which(CHROMIUM) and os.environ.get("CI") != "true",
                                   reason=f"{CHROMIUM} not installed (CI installs it)")]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """A headless Chromium for the module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@contextmanager
def portal_with_user(settings: Settings, database: Database, email: str, password: str, role: str,
                     **server_options: Any) -> Iterator[DealerServer]:
    """The dealer service serving dealer acme, which has one user of `role` (`server_options` go to DealerServer)."""
    with database.session() as session:
        dealer = tenants.create_dealer(session, "acme", "Acme Kiosks")
        tenants.add_user(session, dealer, email, password, role, "test")
    with DealerServer(settings, **{"periodic_tick": 0.5, **server_options}) as running:
        yield running


def sign_in(page: Any, portal_url: str, email: str, password: str) -> None:
    """Sign in on the portal's login page and land on the terminals list."""
    page.goto(f"{portal_url}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/terminals")


def upload_theme(page: Any, theme_id: str, pack: Path) -> None:
    """On the Themes page, upload a pack file as `theme_id` (the page answers with the pack or with a refusal)."""
    page.get_by_label("Theme id").fill(theme_id)
    page.get_by_label("Pack (zip)").set_input_files(str(pack))
    page.get_by_role("button", name="Upload a theme pack").click()
