"""Groups and secret deletion in a real browser (Debian's Chromium through Playwright) with an enrolled terminal
pulling over the link: the dealer makes a group, moves the terminal into it, assigns a configuration to the group
and sees the terminal apply it; the emptied old group is deleted, a non-empty one is refused with the reason; a
gateway secret deleted on the terminal's page leaves the terminal's gateway without it."""

from __future__ import annotations

import time
from typing import Any

import test_config_browser as config_browser
from browser_rig import sign_in
from sqlalchemy import select

from kiosk.fees import FixedFee
from provisioning import tenants
from provisioning.config import store
from provisioning.db.models import TerminalGroup

# the same service, browser, skip rule and SQLite database as the configuration's browser test
server, browser, pytestmark, db_url = (config_browser.server, config_browser.browser, config_browser.pytestmark,
                                       config_browser.db_url)
SECRET = "group-browser-secret-0042"  # noqa: S105


def _until(page: Any, terminal: Any, check: Any, seconds: float = 40) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"not seen within {seconds} s: {page.url}"
        terminal.pump()  # the terminal is idle: a pulled bundle is applied at its next turn
        time.sleep(0.2)
        page.reload()


def test_a_group_gets_a_terminal_and_a_configuration_and_a_deleted_secret_leaves_it(server, browser, database,
                                                                                    config):
    terminal = config_browser._enrolled_terminal(server, database, config)  # in group "centre"
    with database.session() as session:
        dealer = tenants.dealer_by_slug(session, "acme")
        document = store.create_document(session, dealer.id, "north-config", "t")
        body = store.parse_text(store.latest(session, document).body)
        next(p for p in body["catalog"]["providers"] if p["id"] == "mts")["fee"] = {"kind": "fixed", "amount": "7"}
        store.save_version(session, document, store.render(body), "t")
        terminal_row = session.scalar(select(tenants.Terminal).where(tenants.Terminal.number == config.terminal))
        store.set_secret(session, terminal_row, "main", "password", SECRET, "t", _vault(server))
        terminal_id = terminal_row.id
    context = browser.new_context(ignore_https_errors=True, locale="en-US")
    page = context.new_page()
    try:
        sign_in(page, server.portal_url, "admin@acme.test", config_browser.PASSWORD)
        page.get_by_role("link", name="Groups").click()
        page.locator("#group-name").fill("north")
        page.get_by_role("button", name="Create").click()
        page.wait_for_url("**/groups")
        with database.session() as session:
            north = session.scalar(select(TerminalGroup.id).where(TerminalGroup.name == "north"))
        page.locator("#move-terminals").select_option([config.terminal])
        page.locator("#move-group").select_option(label="north")
        page.get_by_role("button", name="Move").click()
        page.wait_for_url("**/groups")
        row = page.locator(f"#group-{north}")
        assert f"1: {config.terminal}" in row.inner_text()
        row.get_by_label("Assign configuration").select_option(label="north-config v2")
        row.locator("form", has=page.locator('input[value="config"]')).get_by_role("button", name="Assign").click()
        page.wait_for_url("**/groups")
        assert "north-config v2" in page.locator(f"#group-{north}").inner_text()

        page.goto(f"{server.portal_url}/terminals/{terminal_id}/config")
        _until(page, terminal, lambda: "north-config v2" in page.locator("#applied").inner_text())
        assert isinstance(terminal.catalog.provider("mts").fee, FixedFee)
        assert terminal.catalog.provider("mts").fee.amount.minor == 700  # type: ignore[attr-defined]
        assert terminal.gateways["main"].options["password"] == SECRET  # type: ignore[attr-defined]

        # The secret deleted on the terminal's page: gone from the page, and from the terminal's gateway.
        page.locator("#delete-main-password").click()
        page.wait_for_url("**/config")
        assert page.locator("#delete-main-password").count() == 0 and SECRET not in page.content()
        _until(page, terminal, lambda: terminal.gateways["main"].options.get("password") != SECRET)

        page.goto(f"{server.portal_url}/groups")
        page.locator(f"#delete-{north}").click()
        assert "still holds 1 terminal(s)" in page.get_by_role("alert").inner_text()
        with database.session() as session:
            centre = session.scalar(select(TerminalGroup.id).where(TerminalGroup.name == "centre"))
        page.locator(f"#delete-{centre}").click()  # emptied by the move
        page.wait_for_url("**/groups")
        assert page.locator(f"#group-{centre}").count() == 0 and page.locator(f"#group-{north}").count() == 1
    finally:
        context.close()
        terminal.close()


def _vault(server: Any) -> Any:
    from provisioning.config.vault import vault_of

    return vault_of(server.settings.state_dir)
