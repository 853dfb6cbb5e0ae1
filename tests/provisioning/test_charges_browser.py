"""Charge registries from the portal in a real browser (Debian's Chromium through Playwright): an admin uploads a
broken registry and reads its row-level errors, uploads the sample, opens an account from the registry's list and
sees its debt by service and its meters; labels and keyboard only, no scripts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_rig import BROWSER_TEST, browser, portal_with_user, sign_in  # noqa: F401 - browser is a fixture

from provisioning.server import DealerServer

PASSWORD = "browser charges password"
SAMPLE = Path(__file__).parents[2] / "provisioning" / "data" / "charge-registry-sample.csv"
pytestmark = BROWSER_TEST


@pytest.fixture(scope="module")
def server(dealer_state, database) -> Iterator[DealerServer]:
    with portal_with_user(dealer_state, database, "admin@acme.test", PASSWORD, "admin") as running:
        yield running


def _upload(page, provider: str, path: Path) -> None:  # noqa: ANN001
    page.get_by_label("Provider code").nth(1).fill(provider)  # the second: the first is the account search's
    page.get_by_label("Split of a partial payment").select_option("in_order")
    page.get_by_label("File (CSV or XLSX)").set_input_files(str(path))
    page.get_by_role("button", name="Upload a registry").click()
    page.wait_for_url("**/charges/*")


def test_refused_then_accepted_upload_and_an_accounts_debt(server, browser, tmp_path):  # noqa: F811
    broken = tmp_path / "broken.csv"
    broken.write_bytes(SAMPLE.read_text(encoding="utf-8").replace("1 200,00;1 200,00", "1 200,00;12,3x")
                       .encode("cp1251"))
    context = browser.new_context(ignore_https_errors=True, locale="en-US")
    try:
        page = context.new_page()
        sign_in(page, server.portal_url, "admin@acme.test", PASSWORD)
        page.get_by_role("link", name="Charges").click()
        page.wait_for_url("**/charges")

        _upload(page, "vodokanal", broken)
        errors = page.get_by_role("table", name="Why it was refused (nothing of it was loaded)")
        assert errors.get_by_role("row").nth(1).inner_text().split("\t") == [
            "6", "debt", "'12,3x' is not an amount (roubles, e.g. 1234.56 or 1 234,56)"]

        page.get_by_role("link", name="Charges").first.click()
        _upload(page, "vodokanal", SAMPLE)
        assert "accepted" in page.get_by_role("main").inner_text()
        page.get_by_role("link", name="1000234567").click()
        page.wait_for_url("**/charges/accounts?*")
        main = page.get_by_role("main").inner_text()
        for shown in ("Иванов И. И.", "3330.60", "Содержание жилья", "1200.00", "Электроэнергия, ночь", "10234.5"):
            assert shown in main, shown
        page.get_by_role("link", name="Charges").first.click()
        listed = page.get_by_role("table", name="Uploads").inner_text()
        assert "refused" in listed and "accepted" in listed and "broken.csv" in listed
    finally:
        context.close()
