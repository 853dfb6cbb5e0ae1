"""From a receipt to the payment's story: a terminal on emulated devices (a CCNET-less demo-like setup: the emulated
validator, the OSMP emulator, the virtual ESC/POS printer) takes a payment and prints its receipt; enrolled with the
dealer service, it uploads its journal; support types the receipt's QR text and 'terminal operation' into the
portal's search box in Chromium and reads the story; the API answers the same."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import time
from collections.abc import Iterator

import httpx
import pytest
from browser_rig import sign_in
from sqlalchemy import select
from terminal_steps import act
from test_portal_browser import browser, pytestmark  # noqa: F401,F811  (its Chromium fixture; slow, skipped without it)

from kiosk import events as ev
from kiosk.app import Terminal
from kiosk.clock import ManualClock
from kiosk.config import Part, load_config
from kiosk.dealer_link.enroll import enroll
from kiosk.emulators.payer_process import write_config
from kiosk.emulators.virtual_printer import VirtualPrinter
from provisioning import tenants
from provisioning.db.models import Terminal as DealerTerminal
from provisioning.identity import enrollment
from provisioning.identity.ca import CAFiles
from provisioning.journal.models import JournalPosition
from provisioning.server import DealerServer

PASSWORD = "lookup browser password"


@pytest.fixture(scope="module")
def server(dealer_state, database) -> Iterator[DealerServer]:
    with database.session() as session:
        dealer = tenants.create_dealer(session, "acme", "Acme Kiosks")
        tenants.add_user(session, dealer, "support@acme.test", PASSWORD, "support", "test")
    with DealerServer(dealer_state, periodic_tick=0.5) as running:
        yield running


def _pay_150(terminal: Terminal) -> None:
    """A payer tops up 9123456789 at MTS with a 100 ₽ and a 50 ₽ note and takes the receipt."""
    act(terminal, ev.Touch(), ev.ChooseProvider("mts"), ev.EditAccount("9123456789"), ev.SubmitAccount(), ev.Confirm())
    for kopecks in (10000, 5000):
        terminal.validator.insert(kopecks)
        act(terminal)
    act(terminal, ev.Pay())
    act(terminal, ev.ReceiptTaken())


def _receipt_payment(tmp_path, printer: VirtualPrinter):
    """A payment of 150 ₽ on a terminal that is not enrolled yet; its printed receipt's text."""
    config = load_config(write_config(tmp_path, gateway_mode="ok"))
    config = dataclasses.replace(config, printer=Part("printer", "network", {
        "host": "127.0.0.1", "port": printer.port, "model": "generic-80-42"}))
    terminal = Terminal(config, clock=ManualClock(config.timezone), background_checks=False)
    terminal.start(background_outbox=False)
    try:
        _pay_150(terminal)
    finally:
        terminal.close()
    [paper] = printer.wait_for_receipts(1)
    return config, paper.read_text(encoding="utf-8")


def _acknowledged(database, number: str) -> int:
    with database.session() as session:
        return int(session.scalar(select(JournalPosition.acknowledged).join(
            DealerTerminal, DealerTerminal.id == JournalPosition.terminal_id)
            .where(DealerTerminal.number == number)) or 0)


def test_support_finds_a_receipts_payment_in_the_portal(server, database, browser, tmp_path):  # noqa: F811
    printer = VirtualPrinter(tmp_path / "paper").start()
    try:
        config, receipt = _receipt_payment(tmp_path, printer)
    finally:
        printer.stop()
    qr = re.search(r"\[QR (KIOSK1\|[^\]]+)\]", receipt)[1]
    number = int(re.search(r"\|N=(\d+)\|", qr)[1])
    # enrolled after the payment: the terminal was offline then, and catches up when it starts again
    with database.session() as session:
        dealer = tenants.dealer_by_slug(session, "acme")
        row = tenants.add_terminal(session, dealer, config.terminal, "Tverskaya 1", "Europe/Moscow", "", "test")
        code = enrollment.new_enrollment_code(session, row, "test", dt.datetime.now(dt.UTC), 1)
    enroll(server.portal_url, code, CAFiles(server.settings.ca_dir).load().fingerprint,
           config.journal_path.parent / "dealer-link")
    terminal = Terminal(config)
    terminal.start()
    try:
        top = terminal.journal.conn.execute("SELECT value FROM change_seq").fetchone()[0]
        deadline = time.monotonic() + 30
        while _acknowledged(database, config.terminal) < top:
            assert time.monotonic() < deadline, "the journal was not uploaded"
            time.sleep(0.05)
    finally:
        terminal.close()

    context = browser.new_context(ignore_https_errors=True, locale="en-US")
    page = context.new_page()
    sign_in(page, server.portal_url, "support@acme.test", PASSWORD)
    page.get_by_role("link", name="Payments").click()
    page.get_by_label("Terminal/operation, receipt QR text or a processing system's id").fill(qr)  # as scanned
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/lookup/terminals/*/operations/{number}")
    assert page.locator("#story-cash").inner_text() == "150.00 RUB"
    assert page.locator("#story-state").inner_text() == "delivered"
    events = page.locator("table.story-events").inner_text()
    assert "bill 100.00 RUB stacked" in events and "bill 50.00 RUB stacked" in events
    assert "(UTC+03:00)" in events and "→ approved" in events and "committed: cash 150.00 RUB" in events
    page.get_by_label("Terminal/operation, receipt QR text or a processing system's id").fill(
        f"{config.terminal} {number}")  # read off the paper
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/lookup/terminals/*/operations/{number}")
    cookies = {c["name"]: c["value"] for c in context.cookies()}
    context.close()

    with httpx.Client(base_url=server.portal_url, verify=False, cookies=cookies) as client:
        found = client.get("/api/v1/lookup", params={"q": f"{config.terminal}/{number}"}).json()["found"]
    assert [(f["terminal"], f["operation"], f["cash"], f["bills"]) for f in found] == [
        (config.terminal, number, 15000, [10000, 5000])]
    assert found[0]["delivery_attempts"][0]["outcome"] == "approved" and found[0]["receipt_status"] == "printed"


def test_the_payer_opens_the_receipts_status_link_on_a_phone(server, database, browser, tmp_path):  # noqa: F811
    """With the dealer's status page set, the receipt's QR is a signed link: the payer's phone opens the payment's
    status (no sign-in), and support's search box takes the same link."""
    config = load_config(write_config(tmp_path, gateway_mode="ok"))
    with database.session() as session:
        dealer = tenants.dealer_by_slug(session, "acme")
        row = tenants.add_terminal(session, dealer, "7301", "Tverskaya 3", "Europe/Moscow", "", "test")
        code = enrollment.new_enrollment_code(session, row, "test", dt.datetime.now(dt.UTC), 1)
    config = dataclasses.replace(config, terminal="7301", status_url=f"{server.portal_url}/s")
    link_folder = config.journal_path.parent / "dealer-link"
    enroll(server.portal_url, code, CAFiles(server.settings.ca_dir).load().fingerprint, link_folder)
    printer = VirtualPrinter(tmp_path / "paper").start()
    try:
        config = dataclasses.replace(config, printer=Part("printer", "network", {
            "host": "127.0.0.1", "port": printer.port, "model": "generic-80-42"}))
        terminal = Terminal(config)
        terminal.start()
        try:
            _pay_150(terminal)
            [paper] = printer.wait_for_receipts(1)
            deadline = time.monotonic() + 30
            top = terminal.journal.conn.execute("SELECT value FROM change_seq").fetchone()[0]
            while _acknowledged(database, "7301") < top:
                assert time.monotonic() < deadline, "the journal was not uploaded"
                time.sleep(0.05)
        finally:
            terminal.close()
    finally:
        printer.stop()
    receipt = paper.read_text(encoding="utf-8")
    link = re.search(r"\[QR (https://\S+?)\]", receipt)[1]
    assert link.startswith(f"{server.portal_url}/s/7301/1-")

    phone = browser.new_context(ignore_https_errors=True, locale="ru-RU", viewport={"width": 360, "height": 740},
                                is_mobile=True)
    page = phone.new_page()
    page.goto(link)
    assert page.get_by_role("status").inner_text().startswith("Платёж зачислен")
    assert "9123456789" not in page.content() and "150,00" in page.content()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # readable without sideways scrolling
    page.get_by_role("link", name="English").click()
    assert page.get_by_role("status").inner_text().startswith("The payment has been credited")
    phone.close()

    context = browser.new_context(ignore_https_errors=True, locale="en-US")
    page = context.new_page()
    sign_in(page, server.portal_url, "support@acme.test", PASSWORD)
    page.goto(f"{server.portal_url}/lookup")
    page.get_by_label("Terminal/operation, receipt QR text or a processing system's id").fill(link)
    page.keyboard.press("Enter")
    page.wait_for_url("**/lookup/terminals/*/operations/1")
    assert page.locator("#story-state").inner_text() == "delivered"
    assert "by the rule" in page.locator("table.story-events").inner_text()  # the fee rule journaled at commit
    context.close()
