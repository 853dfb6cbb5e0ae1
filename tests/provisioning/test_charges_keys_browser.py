"""The charge keys page in a real browser (Debian's Chromium through Playwright): an admin makes a debt lookup key,
reads its secret once, a terminal's JSON gateway signs a debt lookup with it against the same running service, an
unknown terminal is refused on the page, and once revoked on the page the key looks nothing up any more."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_rig import BROWSER_TEST, browser, portal_with_user, sign_in  # noqa: F401 - browser is a fixture

from kiosk.gateways.base import Payable, Route, Unreachable
from kiosk.gateways.jsonapi import JsonApiGateway
from kiosk.money import Money
from provisioning import tenants
from provisioning.charges import store
from provisioning.identity.ca import CAFiles
from provisioning.server import DealerServer

PASSWORD = "browser charge keys password"
SAMPLE = Path(__file__).parents[2] / "provisioning" / "data" / "charge-registry-sample.csv"
PROVIDER, ACCOUNT = "vodokanal", "1000234567"
pytestmark = BROWSER_TEST


@pytest.fixture(scope="module")
def server(dealer_state, database) -> Iterator[DealerServer]:
    with portal_with_user(dealer_state, database, "admin@acme.test", PASSWORD, "admin") as running:
        with database.session() as session:
            dealer = tenants.dealer_by_slug(session, "acme")
            store.load(session, dealer.id, PROVIDER, SAMPLE.name, SAMPLE.read_bytes(), "test", "proportional")
        yield running


def _lookup(server: DealerServer, ca_dir: Path, key_id: str, secret: str) -> object:
    """A debt lookup as a terminal makes it: the JSON gateway, signed with the key, over HTTPS to the service."""
    gateway = JsonApiGateway("dealer-charges", {
        "url": f"{server.portal_url}/api/processing", "key_id": key_id, "hmac_secret": secret,
        "verify": str(CAFiles(ca_dir).cert), "timeout": 20})
    try:
        return gateway.check(Route("dealer-charges", PROVIDER), ACCOUNT, Money(1000_00, "RUB"), {})
    finally:
        gateway.close()


def test_a_key_made_on_the_page_looks_debts_up_until_it_is_revoked_there(server, browser, dealer_state):  # noqa: F811
    context = browser.new_context(ignore_https_errors=True, locale="en-US")
    try:
        page = context.new_page()
        sign_in(page, server.portal_url, "admin@acme.test", PASSWORD)
        page.get_by_role("link", name="Charges").click()
        page.wait_for_url("**/charges")
        page.get_by_role("link", name="Debt lookup keys").click()
        page.wait_for_url("**/charges/keys")

        page.get_by_label("Provider code").fill(PROVIDER)
        page.get_by_label("Only for terminal (number, optional)").fill("99999")
        page.get_by_role("button", name="Add a key").click()
        assert "99999" in page.get_by_role("alert").inner_text()  # no such terminal: no key made
        assert page.get_by_role("table", name="Debt lookup keys").get_by_role("row").count() == 1  # the header

        page.get_by_label("Provider code").fill(PROVIDER)
        page.get_by_role("button", name="Add a key").click()
        shown = page.get_by_role("status")
        assert "The secret is shown once" in shown.inner_text()
        key_id, secret = (shown.locator("dd code").nth(i).inner_text() for i in range(2))
        assert key_id and len(secret) >= 32

        checked = _lookup(server, dealer_state.ca_dir, key_id, secret)
        assert isinstance(checked, Payable) and checked.debt is not None
        assert (checked.debt.total, len(checked.debt.services), len(checked.debt.meters)) == (333060, 4, 4)

        page.goto(f"{server.portal_url}/charges/keys")  # the secret is never shown again
        listed = page.get_by_role("table", name="Debt lookup keys")
        assert key_id in listed.inner_text() and secret not in page.content()
        row = listed.get_by_role("row").filter(has_text=key_id)
        assert row.get_by_role("cell").nth(0).inner_text() == PROVIDER
        row.get_by_role("button", name=f"Revoke {key_id}").click()
        page.wait_for_url("**/charges/keys")
        assert "revoked" in page.get_by_role("table", name="Debt lookup keys").get_by_role("row").filter(
            has_text=key_id).inner_text()

        refused = _lookup(server, dealer_state.ca_dir, key_id, secret)
        assert isinstance(refused, Unreachable) and "401" in refused.reason
    finally:
        context.close()
