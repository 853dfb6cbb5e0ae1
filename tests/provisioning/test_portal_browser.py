"""The portal in a real browser (Debian's Chromium through Playwright): sign in with the keyboard, add a terminal,
see its one-time code, enroll a terminal process with it, and see the terminal online."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from browser_rig import BROWSER_TEST, browser, portal_with_user  # noqa: F401 - browser is a fixture

from provisioning.server import DealerServer

PASSWORD = "browser test password"
pytestmark = BROWSER_TEST


@pytest.fixture(scope="module")
def server(dealer_state, database) -> Iterator[DealerServer]:
    with portal_with_user(dealer_state, database, "admin@acme.test", PASSWORD, "admin") as running:
        yield running


def _kiosk(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True, text=True, timeout=60)


def test_sign_in_add_terminal_enroll_it_and_see_it_online(server, browser, tmp_path):  # noqa: F811
    context = browser.new_context(ignore_https_errors=True, locale="en-US")  # the service's own CA signs TLS
    page = context.new_page()
    page.goto(f"{server.portal_url}/login")
    # keyboard only: the e-mail field has the focus, Tab moves to the password, Enter signs in
    assert page.evaluate("document.activeElement.id") == "email"
    assert page.get_by_label("E-mail").evaluate("e => e === document.activeElement")
    page.keyboard.type("admin@acme.test")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/terminals")
    assert page.get_by_role("heading", name="Terminals", exact=True).is_visible()
    page.keyboard.press("Tab")  # the first stop on every page skips the navigation
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"

    page.get_by_label("Number").fill("10001")
    page.get_by_label("Address").fill("Moscow, Tverskaya 1")
    page.get_by_label("Group").fill("centre")
    page.get_by_role("button", name="Add", exact=True).click()
    code = page.locator("#enrollment-code").inner_text().strip()
    fingerprint = page.locator("#ca-fingerprint").inner_text().strip()
    assert len(code) == 29 and fingerprint.startswith("SHA256:")

    identity = tmp_path / "terminal"
    enrolled = _kiosk("enroll", "--dealer", server.portal_url, "--code", code, "--ca-fingerprint", fingerprint,
                      "--identity", str(identity))
    assert enrolled.returncode == 0, enrolled.stderr
    link = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "link", "heartbeat", "--identity", str(identity)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        page.goto(f"{server.portal_url}/terminals")
        state = page.locator('td[data-terminal="10001"]')
        deadline = time.monotonic() + 40
        while state.inner_text() != "online" and time.monotonic() < deadline:
            time.sleep(0.5)
            page.reload()
        assert state.inner_text() == "online"
        page.screenshot(path=str(tmp_path / "portal-terminals.png"), full_page=True)
        page.get_by_role("link", name="10001").click()
        assert page.locator("#identity-state").inner_text() == "enrolled"
        assert page.locator("#link-state").inner_text() == "online"
    finally:
        link.send_signal(signal.SIGTERM)
        assert link.wait(timeout=20) == 0, link.stderr.read() if link.stderr else ""
        link.stderr.close()
    context.close()


def test_portal_in_russian_with_a_wrong_password(server, browser):  # noqa: F811
    context = browser.new_context(ignore_https_errors=True, locale="ru-RU",
                                  extra_http_headers={"Accept-Language": "ru-RU,ru;q=0.9"})
    page = context.new_page()
    page.goto(f"{server.portal_url}/login")
    assert page.get_by_role("heading", name="Войти").is_visible()
    page.get_by_label("Эл. почта").fill("admin@acme.test")
    page.get_by_label("Пароль").fill("not the password")
    page.get_by_role("button", name="Войти").click()
    assert "Неверная почта или пароль" in page.get_by_role("alert").inner_text()
    context.close()
