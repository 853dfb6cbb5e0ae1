"""Refund receipts (возврат прихода, 1054 = 2): when the cash goes back to the payer by the dealer's "refund"
correction, the terminal makes a return-of-income receipt with the sale's items and agent tags, journals it like
the sale's (intent first, then FD/FP/QR), once, and support's lookup shows it."""

from __future__ import annotations

import threading
from pathlib import Path

from fiscal_steps import committed

from kiosk.app import Terminal
from kiosk.cli import main
from kiosk.clock import ManualClock
from kiosk.config import load_config
from kiosk.dealer_link import corrections  # noqa: F401  (registers the correction handler)
from kiosk.dealer_link.commands import HANDLERS, CommandContext
from kiosk.emulators.fiscal_rig import DRIVER_OPTIONS, FiscalRig
from kiosk.emulators.payer_process import write_config
from kiosk.fees import Split
from kiosk.fiscal import tlv
from kiosk.fiscal.demo_settings import make_fiscal
from kiosk.money import Money
from kiosk.offline_queue.journal import Journal
from kiosk.offline_queue.operation import REFUNDED
from kiosk.receipt_fiscal import fiscal_receipt

REFUND = {"kind": "refund", "approved": True, "how": "cash", "returned_by": "Petrova (office cashier)",
          "returned_at": "2026-11-30T12:00:00+03:00", "requested_by": "support", "approved_by": "manager"}


def owed(journal: Journal, cash: int) -> int:
    """Cash held as owed to the payer (never sent anywhere): what a refund may hand back without a gateway."""
    op = journal.open_operation("mts", "9123456789", {"account": "9123456789"}, max_cash=1_500_000)
    journal.record_bill(op.operation, cash, "virtual", f"bill-{op.operation}")
    split = Split(cash=Money(cash), fee=Money(0), credited=Money(cash))
    return journal.commit(op.operation, split, "pay", hold="owed to the payer (test)").operation


def refunded(journal: Journal, number: int, how: str = "cash") -> None:
    """The refund correction's journal step, as the Corrector writes it."""
    journal.refund_corrected(number, {**REFUND, "how": how}, "refunded", was_delivered=False)


def run_correction(terminal: Terminal, args: dict) -> dict:
    """The remote command `correction` as the command poller runs it, the terminal's loop pumping meanwhile."""
    ctx = CommandContext(terminal=terminal, command_id="c1", kind="correction", folder=Path("."),
                         stopping=threading.Event())
    box: dict = {}
    worker = threading.Thread(target=lambda: box.update(result=HANDLERS["correction"](ctx, args)))
    worker.start()
    while worker.is_alive():
        terminal.pump()
        worker.join(0.02)
    return box["result"]


# -- on a fake drive ---------------------------------------------------------------------------------------
def test_a_refund_receipt_repeats_the_sale_as_return_of_income_once(rig):
    committed(rig.journal, 15000, 300)  # a payment that stays a payment
    number = owed(rig.journal, 20000)
    assert rig.desk.catch_up(rig.journal.get)["made"] == 2  # both payments' sale receipts
    refunded(rig.journal, number)
    assert rig.desk.catch_up(rig.journal.get)["made"] == 1
    sale, refund = [r for r in rig.registrar.receipts if r.items[0].price == 20000]
    assert (sale.kind, refund.kind) == (tlv.KIND_INCOME, tlv.KIND_INCOME_RETURN)
    assert refund.items == sale.items and refund.cash == 20000 and refund.electronic == 0
    fiscal = rig.journal.get(number).details["fiscal_refund"]
    assert fiscal["status"] == "done" and fiscal["qr"].endswith("&n=2")
    assert rig.desk.refund(rig.journal.get(number)) == "printed"  # asked again: no second document
    assert rig.desk.catch_up(rig.journal.get) == {"made": 0, "failed": 0, "owed": 0, "why": ""}
    assert len(rig.registrar.receipts) == 3


def test_a_lost_reply_or_a_crash_at_the_refund_is_settled_by_asking_the_drive(rig):
    number = owed(rig.journal, 5000)
    rig.desk.catch_up(rig.journal.get)
    refunded(rig.journal, number, how="transfer")
    rig.registrar.lose = "after"  # the drive signs the refund, the answer never comes
    assert rig.desk.refund(rig.journal.get(number)) == "printed"  # the drive, asked, has it
    transfer = rig.registrar.receipts[-1]
    assert (transfer.kind, transfer.cash, transfer.electronic) == (2, 0, 5000)  # given back by transfer
    # a crash between the drive signing a refund and the journal hearing of it: only the intent is journaled
    other = owed(rig.journal, 9000)
    rig.desk.catch_up(rig.journal.get)
    refunded(rig.journal, other)
    status = rig.registrar.status()
    rig.ledger.intend(other, "refund", status.fn_number, status.last_fd, 9000)
    rig.registrar.sell(fiscal_receipt(rig.desk.config, rig.desk.catalog, rig.journal.get(other), (), 2))
    assert rig.desk.catch_up(rig.journal.get)["made"] == 0  # settled from the drive, not printed again
    refunds = [d for d in rig.registrar.documents.values() if d.calculation == tlv.KIND_INCOME_RETURN]
    assert len(refunds) == 2
    for each, document in zip((number, other), refunds, strict=True):
        fiscal = rig.journal.get(each).details["fiscal_refund"]
        assert (fiscal["status"], fiscal["fd"]) == ("done", document.number) and fiscal["qr"].endswith("&n=2")


def test_a_refund_before_the_sale_receipt_makes_both_in_order(rig):
    number = owed(rig.journal, 7000)
    rig.registrar.paper = False
    rig.desk.catch_up(rig.journal.get)  # no paper: the sale's receipt is owed
    refunded(rig.journal, number)
    rig.registrar.paper = True
    rig.desk.catch_up(rig.journal.get)
    assert [r.kind for r in rig.registrar.receipts] == [tlv.KIND_INCOME, tlv.KIND_INCOME_RETURN]
    assert rig.journal.get(number).state == REFUNDED


# -- end to end: the correction on a terminal whose registrar is the emulator process -----------------------
def test_the_refund_correction_prints_a_return_receipt_on_the_registrar_and_lookup_shows_it(tmp_path, capsys):
    with FiscalRig(tmp_path) as registrar:
        config_path = make_fiscal(write_config(tmp_path, gateway_mode="ok"), registrar.port, **DRIVER_OPTIONS)
        config = load_config(config_path)
        terminal = Terminal(config, clock=ManualClock(config.timezone), background_checks=False)
        terminal.start(background_outbox=False)
        try:
            number = owed(terminal.journal, 25000)
            terminal.fiscal_upkeep()  # the owed cash's sale receipt
            result = run_correction(terminal, {**REFUND, "operation": number})
            terminal.fiscal_upkeep()  # nothing more is owed
            op = terminal.journal.get(number)
        finally:
            terminal.close()
        documents = registrar.documents()
    assert result["state"] == REFUNDED and result["fiscal_refund"] == "printed"
    sale, refund = [d for d in documents if d["kind"] == "receipt"]
    assert (sale["kind_1054"], refund["kind_1054"]) == (1, 2) and refund["total"] == refund["cash"] == 25000
    assert refund["items"] == sale["items"]  # the same items, with the same agent and supplier tags
    tags = {t.tag for block in refund["items"][0]["tags"] for t in tlv.decode(bytes.fromhex(block))}
    assert tags == {1222, 1223, 1224, 1226}
    assert refund["qr"].endswith(f"&i={refund['fd']}&fp={refund['fp']}&n=2")
    fiscal = op.details["fiscal_refund"]
    assert (fiscal["fd"], fiscal["fp"], fiscal["qr"]) == (refund["fd"], refund["fp"], refund["qr"])
    assert "ВОЗВРАТ ПРИХОДА" in (tmp_path / "fiscal-printout.txt").read_text(encoding="utf-8")
    assert main(["journal", "lookup", "--operation", str(number), "--config", str(config_path)]) == 0
    out = capsys.readouterr().out
    assert f"fiscal refund made: FN {fiscal['fn']}  FD {fiscal['fd']}  FP {fiscal['fp']}" in out
    assert f"fiscal refund receipt (return of income): FN {fiscal['fn']} FD {fiscal['fd']}" in out


def test_a_dealer_whose_office_register_makes_the_return_receipt_turns_them_off(rig, tmp_path):
    text = (tmp_path / "terminal.toml").read_text(encoding="utf-8").replace("[fiscal]\n",
                                                                              "[fiscal]\nrefund_receipts = false\n")
    (tmp_path / "terminal.toml").write_text(text, encoding="utf-8")
    rig.desk.config = load_config(tmp_path / "terminal.toml")
    assert rig.desk.config.fiscal is not None and not rig.desk.config.fiscal.refund_receipts
    number = owed(rig.journal, 4000)
    rig.desk.catch_up(rig.journal.get)
    refunded(rig.journal, number)
    assert rig.desk.catch_up(rig.journal.get) == {"made": 0, "failed": 0, "owed": 0, "why": ""}
    assert [r.kind for r in rig.registrar.receipts] == [tlv.KIND_INCOME]
