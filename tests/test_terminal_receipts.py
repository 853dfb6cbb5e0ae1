"""The terminal printing real ESC/POS to the virtual network printer: what the journal knows about each receipt."""

import dataclasses

import pytest
from terminal_steps import act

from kiosk import events as ev
from kiosk.app import Terminal
from kiosk.clock import ManualClock
from kiosk.config import Part, load_config
from kiosk.emulators.payer_process import write_config
from kiosk.emulators.virtual_printer import VirtualPrinter


@pytest.fixture
def printer(tmp_path):
    device = VirtualPrinter(tmp_path / "paper").start()
    yield device
    device.stop()


def make_terminal(tmp_path, printer, receipt_required=False):
    config = load_config(write_config(tmp_path, gateway_mode="ok"))
    config = dataclasses.replace(
        config, receipt_required=receipt_required,
        printer=Part("printer", "network", {"host": "127.0.0.1", "port": printer.port, "model": "generic-80-42"}))
    term = Terminal(config, clock=ManualClock(config.timezone), background_checks=False)
    term.start(background_outbox=False)
    return term


def pay(terminal):
    act(terminal, ev.Touch(), ev.ChooseProvider("mts"), ev.EditAccount("9123456789"), ev.SubmitAccount(),
        ev.Confirm())
    number = terminal.session.operation
    for kopecks in (10000, 5000):
        terminal.validator.insert(kopecks)
        act(terminal)
    act(terminal, ev.Pay())
    act(terminal, ev.ReceiptTaken())
    return number


def test_receipt_is_printed_with_the_numbers_support_needs(tmp_path, printer):
    terminal = make_terminal(tmp_path, printer)
    try:
        number = pay(terminal)
        [text] = printer.wait_for_receipts(1)
        paper = text.read_text(encoding="utf-8")
        assert terminal.journal.get(number).receipt_status == "printed"
        assert "10001" in paper and str(number) in paper and "+7 (912) 345-67-89" in paper
        assert "150.00" in paper or "150,00" in paper
        assert text.with_suffix(".png").exists()
        assert terminal.receipts.reprint_last() == "printed"
    finally:
        terminal.close()


def test_paper_running_out_mid_receipt_is_journaled_as_incomplete(tmp_path, printer):
    terminal = make_terminal(tmp_path, printer)
    try:
        printer.paper_out_after(5)
        number = pay(terminal)
        assert terminal.journal.get(number).receipt_status == "incomplete"
        assert terminal.journal.get(number).state == "delivered"  # the money is fine; only the paper is not
    finally:
        terminal.close()


def test_with_a_receipt_required_no_paper_means_out_of_service_before_money(tmp_path, printer):
    printer.set_paper("out")
    terminal = make_terminal(tmp_path, printer, receipt_required=True)
    try:
        act(terminal, ev.Touch())
        assert terminal.session.state == "out_of_service" and terminal.session.fault == "printer"
        assert terminal.journal.last_operation() is None
        printer.set_paper("ok")
        terminal.clock.advance(11)
        act(terminal, ev.Tick())
        assert terminal.session.state == "idle"
    finally:
        terminal.close()


def test_without_a_required_receipt_the_payer_is_told_before_paying(tmp_path, printer):
    printer.set_paper("out")
    terminal = make_terminal(tmp_path, printer)
    try:
        act(terminal, ev.Touch(), ev.ChooseProvider("mts"), ev.EditAccount("9123456789"), ev.SubmitAccount())
        assert terminal.session.state == "confirmation" and terminal.session.view().no_receipt
        act(terminal, ev.Confirm())
        number = terminal.session.operation
        terminal.validator.insert(10000)
        act(terminal, ev.Pay())
        assert terminal.journal.get(number).receipt_status == "failed"
    finally:
        terminal.close()
