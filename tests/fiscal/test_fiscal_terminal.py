"""A terminal whose printer is a fiscal registrar: payments through the real session get one fiscal receipt each,
journaled before the payer is told, shown in `kiosk journal lookup`; start-up settles what a crash left."""

from __future__ import annotations

import dataclasses
import json

import pytest
from fake_registrar import FakeRegistrar
from fiscal_steps import start
from terminal_steps import act, to_cash

from kiosk import events as ev
from kiosk.cli import main
from kiosk.emulators.payer_process import write_config
from kiosk.fiscal.demo_settings import make_fiscal
from kiosk.fiscal.ledger import FiscalLedger
from kiosk.receipt_fiscal import fiscal_receipt


@pytest.fixture
def config_path(tmp_path):
    return make_fiscal(write_config(tmp_path, gateway_mode="ok"), "/dev/null")


def pay(terminal, bills=(10000, 5000)):
    number = to_cash(terminal)
    for bill in bills:
        terminal.validator.insert(bill)
        act(terminal)
    act(terminal, ev.Pay())
    return number


def test_a_payment_gets_one_fiscal_receipt_journaled_before_the_payer_is_told(config_path, capsys):
    registrar = FakeRegistrar()
    seen_by_the_screen = []
    terminal = start(config_path, registrar)
    try:
        number = pay(terminal)
        # what the receipt screen shows is only ever what the journal already holds
        seen_by_the_screen.append((terminal.session.receipt_status, terminal.journal.get(number).details["fiscal"]))
        act(terminal, ev.ReceiptTaken())
        assert terminal.journal.get(number).receipt_status == "printed"
        assert terminal.receipts.reprint_last() == "printed"  # a reprint is a non-fiscal copy
    finally:
        terminal.close()
    status, fiscal = seen_by_the_screen[0]
    assert status == "printed" and fiscal["status"] == "done" and fiscal["fd"] == registrar.last_fd
    [receipt] = registrar.receipts
    assert receipt.cash == 15000 and [item.subject for item in receipt.items][0] == 10
    assert "10001" in "\n".join(receipt.header_lines) and str(number) in "\n".join(receipt.header_lines)
    assert registrar.printed[-1][0].startswith("*** КОПИЯ") and registrar.closed
    assert main(["journal", "lookup", "--operation", str(number), "--config", str(config_path)]) == 0
    out = capsys.readouterr().out
    assert f"fiscal       made: FN {fiscal['fn']}  FD {fiscal['fd']}  FP {fiscal['fp']}" in out
    assert f"QR (the payer's check at the tax service): {fiscal['qr']}" in out
    assert f"fiscal receipt: FN {fiscal['fn']} FD {fiscal['fd']} FP {fiscal['fp']}; QR {fiscal['qr']}" in out


def test_without_paper_the_payment_is_delivered_and_the_receipt_follows_when_paper_is_back(config_path, capsys):
    registrar = FakeRegistrar(paper=False)
    terminal = start(config_path, registrar)
    try:
        number = pay(terminal)
        act(terminal, ev.ReceiptTaken())
        op = terminal.journal.get(number)
        assert op.state == "delivered" and op.receipt_status == "failed"
        assert op.details["fiscal"]["status"] == "failed"
        assert any(i["kind"] == "fiscal_receipt_failed" for i in terminal.journal.incidents())
        registrar.paper = True
        terminal.fiscal_upkeep()
        assert terminal.journal.get(number).details["fiscal"]["status"] == "done"
        terminal.fiscal_upkeep()
    finally:
        terminal.close()
    assert len(registrar.receipts) == 1
    main(["journal", "lookup", "--operation", str(number), "--config", str(config_path), "--format", "json"])
    story = json.loads(capsys.readouterr().out)
    assert json.loads(story["details"])["fiscal"]["status"] == "done"


def test_start_up_settles_a_receipt_a_crash_left_unknown_without_a_second_one(config_path):
    registrar = FakeRegistrar()
    terminal = start(config_path, registrar)
    try:
        pay(terminal, (5000,))
        act(terminal, ev.ReceiptTaken())
        fiscal = terminal.receipts.fiscal
        assert fiscal is not None
        # the state a SIGKILL leaves between the drive signing and the result being journaled: the intent,
        # the document in the drive, nothing else (the kill trials do this for real, with the emulator)
        terminal.receipts.fiscal = None
        number = pay(terminal, (20000,))
        op = terminal.journal.get(number)
        status = registrar.status()
        fiscal.ledger.intend(number, "receipt", status.fn_number, status.last_fd, op.cash)
        registrar.sell(fiscal_receipt(terminal.config, terminal.catalog, op))
        act(terminal, ev.ReceiptTaken())
    finally:
        terminal.close()
    restarted = start(config_path, registrar)
    try:
        assert [r.state for r in FiscalLedger(restarted.journal).rows(number)] == ["done"]
        assert restarted.journal.get(number).details["fiscal"]["fd"] == registrar.receipts_for(20000)[0].number
    finally:
        restarted.close()
    assert len(registrar.receipts_for(20000)) == 1 and len(registrar.receipts) == 2


def test_a_fiscal_drive_warning_becomes_one_incident(config_path):
    from kiosk.fiscal.port import WARN_FN_REPLACE_30_DAYS

    registrar = FakeRegistrar()
    real_status = registrar.status
    registrar.status = lambda: dataclasses.replace(real_status(), warnings=frozenset({WARN_FN_REPLACE_30_DAYS}))
    terminal = start(config_path, registrar)
    try:
        terminal.fiscal_upkeep()
        terminal.fiscal_upkeep()
        warnings = [i for i in terminal.journal.incidents() if i["kind"] == "fiscal_warning"]
    finally:
        terminal.close()
    assert [w["detail"] for w in warnings] == ["the fiscal drive must be replaced within 30 days"]


def test_the_dealer_story_shows_the_fiscal_receipt_from_the_uploaded_row(config_path):
    """The dealer service builds the story from the uploaded row (details as text or already parsed)."""
    from kiosk.story import Story, from_journal

    registrar = FakeRegistrar()
    terminal = start(config_path, registrar)
    try:
        number = pay(terminal)
        act(terminal, ev.ReceiptTaken())
        story = from_journal(terminal.journal, number)
    finally:
        terminal.close()
    assert story is not None
    fiscal = json.loads(story.record["details"])["fiscal"]
    for details in (story.record["details"], json.loads(story.record["details"])):
        uploaded = Story({**story.record, "details": details}, story.bills, story.attempts, story.incidents,
                         timezone="Europe/Moscow", source="dealer service")
        [event] = [e for e in uploaded.events() if e.kind == "fiscal"]
        assert event.text == (f"fiscal receipt: FN {fiscal['fn']} FD {fiscal['fd']} FP {fiscal['fp']}; "
                              f"QR {fiscal['qr']}")
        assert any(line.startswith("  fiscal       made: FN") for line in uploaded.lines())
    russian = Story(story.record, story.bills, story.attempts, story.incidents, timezone="Europe/Moscow",
                    source="dealer service", lang="ru")
    [event] = [e for e in russian.events() if e.kind == "fiscal"]
    assert event.text.startswith(f"фискальный чек: ФН {fiscal['fn']} ФД {fiscal['fd']} ФП {fiscal['fp']}")
    assert any(line.startswith("  фиск. чек    пробит: FN") for line in russian.lines())


def test_encashment_slips_and_reprints_on_a_registrar_are_never_fiscal(config_path):
    registrar = FakeRegistrar()
    terminal = start(config_path, registrar)
    try:
        pay(terminal)
        act(terminal, ev.ReceiptTaken())
        documents = dict(registrar.documents)
        assert terminal.receipts.reprint_last() == "printed"
        record = terminal.encash("service menu")
        assert record["receipt"] == "printed"
        assert terminal.screen_port().service.print_test_page("ru") == "printed"
    finally:
        terminal.close()
    assert registrar.documents == documents  # no new fiscal document
    assert len(registrar.printed) == 3 and registrar.printed[0][0].startswith("*** КОПИЯ")
    assert not registrar.printed[1][0].startswith("*** КОПИЯ")  # the encashment slip is an original
