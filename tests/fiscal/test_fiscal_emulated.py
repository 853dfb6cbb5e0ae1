"""End to end: the terminal's real session, the real Shtrih-M driver over a pty, and the emulated registrar whose
state file is the truth — one fiscal document per payment with the agent tags and the QR, through power cuts."""

from __future__ import annotations

import json

import pytest
from terminal_steps import act, to_cash

from kiosk import events as ev
from kiosk.app import Terminal
from kiosk.clock import ManualClock
from kiosk.config import load_config
from kiosk.emulators.payer_process import write_config
from kiosk.emulators.shtrih import ShtrihEmulator
from kiosk.fiscal import tlv
from kiosk.fiscal.demo_settings import make_fiscal
from kiosk.fiscal.ledger import FiscalLedger

FAST = {"answer_timeout": 2.0, "control_timeout": 0.5, "byte_timeout": 0.3}


@pytest.fixture
def emulator(tmp_path):
    device = ShtrihEmulator(tmp_path / "fn.json", tmp_path / "printout.txt").start()
    yield device
    device.stop()


def start(tmp_path, emulator):
    config = load_config(make_fiscal(write_config(tmp_path, gateway_mode="ok"), emulator.path, **FAST))
    terminal = Terminal(config, clock=ManualClock(config.timezone), background_checks=False)
    terminal.start(background_outbox=False)
    return terminal


def pay(terminal, bills=(10000, 5000), provider="mts", account="9123456789"):
    number = to_cash(terminal, provider, account)
    for bill in bills:
        terminal.validator.insert(bill)
        act(terminal)
    act(terminal, ev.Pay())
    act(terminal, ev.ReceiptTaken())
    return number


def drive(tmp_path):
    return json.loads((tmp_path / "fn.json").read_text(encoding="utf-8"))


def receipts(tmp_path):
    return [d for d in drive(tmp_path)["documents"].values() if d["kind"] == "receipt"]


def test_a_payment_makes_one_fiscal_document_with_the_agent_tags_and_the_qr(tmp_path, emulator):
    terminal = start(tmp_path, emulator)
    try:
        number = pay(terminal, provider="t2", account="9501234567")  # t2 takes a 1 % fee
        op = terminal.journal.get(number)
        provider = terminal.catalog.providers["t2"]
    finally:
        terminal.close()
    [document] = receipts(tmp_path)
    fiscal = op.details["fiscal"]
    assert op.receipt_status == "printed" and op.state == "delivered"
    assert (fiscal["status"], fiscal["fd"], fiscal["fp"], fiscal["fn"]) == (
        "done", document["fd"], document["fp"], drive(tmp_path)["fn_number"])
    assert fiscal["qr"] == document["qr"]  # the QR the registrar printed is the one support sees
    assert document["total"] == document["cash"] == op.cash and document["taxation"] == 2  # УСН доход
    payment, fee = document["items"]
    assert (payment["subject"], payment["method"], payment["tax"], payment["total"]) == (10, 4, 4, op.credited)
    assert (fee["subject"], fee["method"], fee["tax"], fee["total"]) == (11, 4, 4, op.fee) and fee["tags"] == []
    assert op.fee == 150 and op.credited == 14850
    tags = {t.tag: t for block in payment["tags"] for t in tlv.decode(bytes.fromhex(block))}
    assert tags[tlv.ITEM_AGENT_SIGN].number == tlv.AGENT_PAYING
    assert tags[tlv.SUPPLIER_INN].text.strip() == provider.inn
    assert {t.tag: t.text for t in tags[tlv.AGENT_DATA].children()} == {1073: "+78000000001", 1074: "+78000000002"}
    assert {t.tag for t in tags[tlv.SUPPLIER_DATA].children()} == {1171, 1225}
    [receipt_tags] = [[t for block in document["tags"] for t in tlv.decode(bytes.fromhex(block))]]
    assert [(t.tag, t.number) for t in receipt_tags] == [(tlv.AGENT_SIGN, tlv.AGENT_PAYING)]
    printout = (tmp_path / "printout.txt").read_text(encoding="utf-8")
    assert f"[QR {document['qr']}]" in printout and f"ФД {document['fd']}" in printout
    assert str(number) in printout and "10001" in printout  # support's search keys above the fiscal part


def test_power_cut_after_the_drive_signed_is_settled_from_the_drive_not_sold_again(tmp_path, emulator):
    terminal = start(tmp_path, emulator)
    try:
        pay(terminal, (5000,))  # opens the shift
        emulator.power_cut = "after"
        number = pay(terminal)
        assert terminal.journal.get(number).receipt_status == "failed"
        assert terminal.journal.get(number).details["fiscal"]["status"] == "pending"
        assert [r.state for r in FiscalLedger(terminal.journal).rows(number)] == ["intent"]
        emulator.power_on()
        terminal.fiscal_upkeep()
        fiscal = terminal.journal.get(number).details["fiscal"]
        terminal.fiscal_upkeep()
    finally:
        terminal.close()
    made = [d for d in receipts(tmp_path) if d["total"] == 15000]
    assert len(made) == 1 and fiscal["status"] == "done" and fiscal["fd"] == made[0]["fd"]


def test_power_cut_before_the_drive_signed_makes_the_receipt_once_when_power_is_back(tmp_path, emulator):
    terminal = start(tmp_path, emulator)
    try:
        pay(terminal, (5000,))
        emulator.power_cut = "before"
        number = pay(terminal)
        assert terminal.journal.get(number).receipt_status == "failed"
        emulator.power_on()
        terminal.fiscal_upkeep()
        fiscal = terminal.journal.get(number).details["fiscal"]
    finally:
        terminal.close()
    made = [d for d in receipts(tmp_path) if d["total"] == 15000]
    assert len(made) == 1 and fiscal["status"] == "done" and fiscal["fd"] == made[0]["fd"]


def test_paper_out_then_paper_in_the_receipt_follows_once(tmp_path, emulator):
    terminal = start(tmp_path, emulator)
    try:
        pay(terminal, (5000,))
        emulator.registrar.set_paper(False)
        number = pay(terminal)
        op = terminal.journal.get(number)
        assert op.state == "delivered" and op.receipt_status == "failed"
        assert op.details["fiscal"]["status"] == "failed"
        terminal.fiscal_upkeep()  # still no paper: nothing
        assert terminal.journal.get(number).details["fiscal"]["status"] == "failed"
        emulator.registrar.set_paper(True)
        terminal.fiscal_upkeep()
        assert terminal.journal.get(number).details["fiscal"]["status"] == "done"
    finally:
        terminal.close()
    assert len([d for d in receipts(tmp_path) if d["total"] == 15000]) == 1


def test_paper_running_out_while_the_receipt_prints_keeps_the_document_and_printing_resumes(tmp_path, emulator):
    terminal = start(tmp_path, emulator)
    try:
        pay(terminal, (5000,))
        emulator.registrar.set_paper(True, lines=5)  # the roll ends a few lines into the next receipt
        number = pay(terminal)
        assert terminal.journal.get(number).details["fiscal"]["status"] == "done"  # signed before the paper ended
        assert "[PAPER OUT" in (tmp_path / "printout.txt").read_text(encoding="utf-8")
        emulator.registrar.set_paper(True)  # a new roll: the registrar waits for 'continue printing'
        later = pay(terminal, (10000,))
        assert terminal.journal.get(later).details["fiscal"]["status"] == "done"
        assert terminal.journal.get(later).receipt_status == "printed"
        assert not [i for i in terminal.journal.incidents() if i["operation"] == later]
    finally:
        terminal.close()
    printout = (tmp_path / "printout.txt").read_text(encoding="utf-8")
    first = [d for d in receipts(tmp_path) if d["total"] == 15000][0]
    assert f"[QR {first['qr']}]" in printout  # the interrupted receipt's rest came out after the new roll
    assert len(receipts(tmp_path)) == 3
