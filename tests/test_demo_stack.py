"""The demo's wiring: the terminal against a validator emulator process (CCNET by default, ID003 or eSSP on
request), OSMP/JSON emulators and the virtual printer."""

import json
import os
import time
from pathlib import Path

import pytest

from kiosk import events as ev
from kiosk.app import Terminal
from kiosk.demo_stack import DemoStack
from kiosk.fiscal import tlv


def wait_for(predicate, terminal, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        terminal.pump()
        if predicate():
            return True
        time.sleep(0.02)
    return False


def pay_100(stack, terminal):
    """A payer pays 100 RUB to mts through the demo's emulators; returns the operation once its receipt printed."""
    assert wait_for(lambda: terminal.validator.status().online, terminal)
    for event in (ev.Touch(), ev.ChooseProvider("mts"), ev.EditAccount("9123456789"), ev.SubmitAccount()):
        terminal.post(event)
    assert wait_for(lambda: terminal.session.state == "confirmation", terminal)
    assert terminal.session.details  # payee details from the OSMP check, shown before money
    terminal.post(ev.Confirm())
    assert wait_for(lambda: terminal.session.state == "cash_collection", terminal)
    time.sleep(0.3)  # the payer waits for the slot to light up
    stack.insert_bill(10000)
    assert wait_for(lambda: terminal.session.cash == 10000, terminal)
    terminal.post(ev.Pay())
    assert wait_for(lambda: terminal.session.state == "receipt", terminal)
    number = terminal.session.operation
    assert wait_for(lambda: terminal.journal.get(number).receipt_status == "printed", terminal, 15.0)
    return number


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["ccnet", "id003", "essp"])
def test_a_demo_payment_goes_through_real_bytes_http_and_escpos(tmp_path, protocol):
    with DemoStack(tmp_path, protocol=protocol) as stack:
        assert protocol in stack.describe() and stack.config.validator.kind == protocol
        terminal = Terminal(stack.config)
        terminal.start()
        try:
            number = pay_100(stack, terminal)
            op = terminal.journal.get(number)
            assert op.state == "delivered" and op.gateway == "main"
            [osmp, _] = stack.gateways
            assert len(osmp.ledger.bookings) == 1
            assert stack.printer.wait_for_receipts(1)[0].with_suffix(".png").exists()
        finally:
            terminal.close()
    assert (tmp_path / f"cassette-{protocol}.json").exists()


def test_demo_takes_the_validator_protocol_from_its_command_line():
    from kiosk.ui_main import _parser

    assert _parser("kiosk demo", demo=True).parse_args(["--validator-protocol", "essp"]).validator_protocol == "essp"
    assert _parser("kiosk demo", demo=True).parse_args([]).validator_protocol == "ccnet"


@pytest.mark.slow
def test_a_demo_payment_makes_a_fiscal_document_in_the_emulated_registrar(tmp_path):
    """`kiosk demo --printer fiscal`: the real Shtrih-M driver and the emulated registrar print the receipt."""
    with DemoStack(tmp_path, printer="fiscal") as stack:
        assert stack.config is not None and stack.config.printer.kind == "fiscal"
        assert "fiscal registrar (emulated Shtrih-M)" in stack.describe()
        # the registrar is `kiosk emulate fiscal` in a process of its own, like the validator emulator
        assert stack.fiscal is not None and stack.fiscal.pid != os.getpid()
        assert "emulate fiscal" in " ".join(Path(f"/proc/{stack.fiscal.pid}/cmdline").read_text().split("\0"))
        terminal = Terminal(stack.config)
        terminal.start()
        try:
            fiscal = terminal.journal.get(pay_100(stack, terminal)).details["fiscal"]
        finally:
            terminal.close()
    state = json.loads((tmp_path / "fiscal-drive.json").read_text(encoding="utf-8"))
    [receipt] = [d for d in state["documents"].values() if d["kind"] == "receipt"]
    assert (fiscal["fd"], fiscal["fp"], fiscal["qr"]) == (receipt["fd"], receipt["fp"], receipt["qr"])
    assert receipt["total"] == 10000 and "&s=100.00&" in receipt["qr"]
    tags = {t.tag for block in receipt["items"][0]["tags"] for t in tlv.decode(bytes.fromhex(block))}
    assert tags == {1222, 1223, 1224, 1226}
    assert f"[QR {receipt['qr']}]" in (tmp_path / "fiscal-printout.txt").read_text(encoding="utf-8")


def test_the_demo_takes_the_printer_from_its_command_line():
    from kiosk.ui_main import _parser

    assert _parser("kiosk demo", demo=True).parse_args(["--printer", "fiscal"]).printer == "fiscal"
    assert _parser("kiosk demo", demo=True).parse_args([]).printer == "escpos"
