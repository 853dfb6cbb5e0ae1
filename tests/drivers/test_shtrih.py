"""Shtrih-M driver ↔ emulator over a pseudo-terminal: every command, its answer, and its error mapping."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from shtrih_support import agent_receipt, registrar_pair

from kiosk.drivers import shtrih_frame as sf
from kiosk.emulators.shtrih_drive import sign
from kiosk.fiscal.port import BadPassword, FiscalReceipt, PaperOut, ReceiptOpen, ShiftClosed

pytestmark = pytest.mark.usefixtures("no_leaks")  # no thread or file descriptor left behind


def test_status_of_a_fresh_registrar(tmp_path):
    with registrar_pair(tmp_path) as (emu, drv):
        status = drv.status()
        assert not status.shift_open and not status.receipt_open and status.paper
        assert status.fn_number == "9999078902004321" and status.last_fd == 0
        assert status.shift_opened_at is None and not status.shift_expired
        flags, mode, submode = drv.short_status()
        assert (mode, submode) == (4, 0) and flags & 0x02
        assert drv.device_type()["name"].startswith("ШТРИХ")


def test_open_shift_returns_the_signed_report_and_status_knows_when(tmp_path):
    with registrar_pair(tmp_path) as (emu, drv):
        document = drv.open_shift()
        assert document.kind == "shift_open" and document.number == 1 and document.fn_number == "9999078902004321"
        saved = json.loads((tmp_path / "fn.json").read_text())["documents"]["1"]
        assert saved["fp"] == document.sign == sign("9999078902004321", {k: v for k, v in saved.items()})
        status = drv.status()
        assert status.shift_open and status.last_fd == 1
        assert status.shift_opened_at == document.at and status.shift_opened_at.tzinfo is not None
        assert "ОТЧЕТ ОБ ОТКРЫТИИ СМЕНЫ" in (tmp_path / "printout.txt").read_text()


def test_sell_registers_items_tags_and_prints_the_qr(tmp_path):
    with registrar_pair(tmp_path) as (emu, drv):
        drv.open_shift()
        receipt = agent_receipt()
        document = drv.sell(receipt)
        assert (document.kind, document.number, document.total) == ("receipt", 2, 51000)
        state = json.loads((tmp_path / "fn.json").read_text())
        saved = state["documents"]["2"]
        assert saved["total"] == 51000 and saved["cash"] == 60000 and saved["change"] == 9000
        assert saved["taxation"] == 2 and [i["subject"] for i in saved["items"]] == [10, 11]
        assert saved["items"][0]["name"] == "Оплата услуг: лицевой счёт 1234567"
        assert saved["items"][0]["quantity"] == 1_000_000 and saved["items"][0]["price"] == 50000
        # the per-item TLVs arrived byte for byte, attached to the payment item only
        assert bytes.fromhex("".join(saved["items"][0]["tags"])) == b"".join(t.encode() for t in receipt.items[0].tags)
        assert saved["items"][1]["tags"] == []
        assert bytes.fromhex("".join(saved["tags"])) == b"".join(t.encode() for t in receipt.tags)
        at = document.at.strftime("%Y%m%dT%H%M")
        qr = f"t={at}&s=510.00&fn=9999078902004321&i=2&fp={document.sign}&n=1"
        assert saved["qr"] == qr == document.qr()
        printout = (tmp_path / "printout.txt").read_text()
        assert f"[QR {qr}]" in printout and "ООО Водоканал" in printout and "Терминал 42" in printout
        assert "7707083893" in printout
        assert drv.document(2) == document


def test_document_asks_the_drive_by_number(tmp_path):
    with registrar_pair(tmp_path) as (emu, drv):
        opened = drv.open_shift()
        sold = drv.sell(agent_receipt(fee=0, cash=50000))
        closed = drv.close_shift()
        assert [d.kind for d in (opened, sold, closed)] == ["shift_open", "receipt", "z_report"]
        assert drv.document(1) == opened and drv.document(2) == sold and drv.document(3) == closed
        assert drv.document(4) is None
        assert sold.total == 50000 and closed.number == 3
        assert not drv.status().shift_open
        assert "ЧЕКОВ ЗА СМЕНУ 1" in (tmp_path / "printout.txt").read_text()


def test_receipt_needs_an_open_shift_and_enough_cash(tmp_path):
    with registrar_pair(tmp_path) as (emu, drv):
        with pytest.raises(ShiftClosed):
            drv.sell(agent_receipt())
        drv.open_shift()
        with pytest.raises(Exception) as short:
            drv.sell(agent_receipt(cash=100))
        assert getattr(short.value, "code", None) == 0x45
        status = drv.status()
        assert not status.receipt_open and status.last_fd == 1  # the driver cancelled; nothing registered


def test_non_fiscal_lines_cut_and_cancel(tmp_path):
    with registrar_pair(tmp_path) as (emu, drv):
        drv.print_lines(["Инкассация", "x" * 50], cut=True)
        text = (tmp_path / "printout.txt").read_text()
        assert "Инкассация\n" + "x" * 40 + "\n" + "x" * 10 + "\n" in text and "(cut)" in text
        drv.cancel_receipt()  # nothing open: harmless
        drv.open_shift()
        drv.link.exchange(sf.OPEN_RECEIPT, 1, b"\x00")
        assert drv.status().receipt_open
        with pytest.raises(ReceiptOpen):
            drv._call(sf.OPEN_RECEIPT, 1, b"\x00")
        drv.cancel_receipt()
        assert not drv.status().receipt_open and drv.status().last_fd == 1
        assert "ЧЕК АННУЛИРОВАН" in (tmp_path / "printout.txt").read_text()


def test_wrong_passwords_are_refused(tmp_path):
    with registrar_pair(tmp_path, sysadmin_password=7) as (emu, drv):
        with pytest.raises(BadPassword):
            drv.fn_status()
    with registrar_pair(tmp_path, admin_password=5) as (emu, drv):
        drv.open_shift()
        with pytest.raises(BadPassword):
            drv.close_shift()


def test_paper_out_before_a_receipt_registers_nothing(tmp_path):
    with registrar_pair(tmp_path) as (emu, drv):
        drv.open_shift()
        with emu.lock:
            emu.registrar.set_paper(False)
        assert not drv.status().paper
        with pytest.raises(PaperOut):
            drv.sell(agent_receipt())
        with pytest.raises(PaperOut):
            drv.print_lines(["x"])
        with emu.lock:
            emu.registrar.set_paper(True)
        assert drv.status().paper and drv.status().last_fd == 1
        assert drv.sell(agent_receipt()).number == 2


def test_paper_out_mid_receipt_registers_and_continue_prints_the_rest(tmp_path):
    with registrar_pair(tmp_path) as (emu, drv):
        drv.open_shift()
        with emu.lock:
            emu.registrar.set_paper(True, lines=3)  # the roll ends three lines into the receipt
        document = drv.sell(agent_receipt())
        assert document.number == 2
        status = drv.status()
        assert not status.paper and status.last_fd == 2
        assert "[QR" not in (tmp_path / "printout.txt").read_text().split("КАССОВЫЙ ЧЕК")[-1]
        with emu.lock:
            emu.registrar.set_paper(True)
        assert drv.short_status()[2] == 3  # paper back, waiting for B0
        drv.continue_printing()
        assert drv.short_status()[2] == 0
        assert f"fp={document.sign}&n=1]" in (tmp_path / "printout.txt").read_text()


def test_an_error_answer_after_the_drive_signed_returns_the_document(tmp_path):
    with registrar_pair(tmp_path) as (emu, drv):
        drv.open_shift()
        with emu.lock:
            emu.registrar.close_error = 0x6B  # firmware that reports paper-out although the FN signed
        document = drv.sell(agent_receipt())
        assert document.number == 2 and document.kind == "receipt" and document.total == 51000
        assert drv.status().last_fd == 2


def test_item_tlvs_over_250_bytes_go_in_several_commands(tmp_path):
    from kiosk.fiscal import tlv
    from kiosk.fiscal.port import TAX_NONE, FiscalItem

    with registrar_pair(tmp_path) as (emu, drv):
        drv.open_shift()
        tags = tuple(tlv.string(tlv.ADDITIONAL_REQUISITE, f"{n:03d}" + "я" * 90) for n in range(4))
        item = FiscalItem("Платёж", 1000, 1000, tlv.SUBJECT_PAYMENT, tlv.METHOD_FULL, TAX_NONE, tags)
        drv.sell(FiscalReceipt(tlv.KIND_INCOME, (item,), 1000, tlv.TAXATION_OSN))
        saved = json.loads((tmp_path / "fn.json").read_text())["documents"]["2"]["items"][0]["tags"]
        assert len(saved) == 2 and tlv.decode(bytes.fromhex("".join(saved))) == tags


def test_clock_offset_expires_the_shift(tmp_path):
    from kiosk.fiscal.port import ShiftExpired

    with registrar_pair(tmp_path) as (emu, drv):
        opened = drv.open_shift()
        with emu.lock:
            emu.registrar.set_clock_offset(timedelta(hours=25).total_seconds())
        status = drv.status()
        assert status.shift_expired and status.shift_open and status.shift_opened_at == opened.at
        with pytest.raises(ShiftExpired):
            drv.sell(agent_receipt())
        closed = drv.close_shift()
        assert closed.kind == "z_report" and not drv.status().shift_expired
        assert closed.number == 2
        assert drv.open_shift().number == 3 and drv.sell(agent_receipt()).number == 4


def test_drive_full_refuses_documents(tmp_path):
    from kiosk.fiscal.port import DriveFull

    with registrar_pair(tmp_path) as (emu, drv):
        drv.open_shift()
        with emu.lock:
            emu.registrar.set_drive_full(0x14)
        with pytest.raises(DriveFull) as full:
            drv.sell(agent_receipt())
        assert full.value.code == 0x14
        assert drv.status().last_fd == 1 and not drv.status().receipt_open


def test_full_status_reads_the_registrar_clock_and_last_closed_shift(tmp_path):
    from datetime import datetime

    with registrar_pair(tmp_path) as (emu, drv):
        drv.open_shift()
        drv.close_shift()
        drv.open_shift()
        status = drv.full_status()
        assert status["last_closed_shift"] == 1 and status["mode"] == 2 and status["submode"] == 0
        clock = status["clock"]
        assert isinstance(clock, datetime) and clock.tzinfo is not None
        assert abs((clock - datetime.now(clock.tzinfo)).total_seconds()) < 120
        with emu.lock:
            emu.registrar.set_clock_offset(3600)
        later = drv.full_status()["clock"]
        assert isinstance(later, datetime) and 3500 < (later - clock).total_seconds() < 3800


def test_a_receipt_left_open_by_a_dead_process_is_cancelled_before_the_next(tmp_path):
    with registrar_pair(tmp_path) as (emu, drv):
        drv.open_shift()
        drv.link.exchange(sf.OPEN_RECEIPT, 1, b"\x00")
        drv.link.exchange(sf.FN_OPERATION, 30, b"\x01" + (10**6).to_bytes(6, "little") + (999).to_bytes(5, "little")
                          + b"\xff" * 10 + bytes((4, 0, 4, 10)) + "Брошенный".encode("cp1251"))
        assert drv.status().receipt_open
        document = drv.sell(agent_receipt())
        assert document.number == 2 and document.total == 51000
        saved = json.loads((tmp_path / "fn.json").read_text())["documents"]
        assert sorted(saved) == ["1", "2"] and "Брошенный" not in json.dumps(saved, ensure_ascii=False)
        assert "ЧЕК АННУЛИРОВАН" in (tmp_path / "printout.txt").read_text()


def test_status_looks_up_when_the_shift_opened_once_per_shift(tmp_path):
    with registrar_pair(tmp_path) as (emu, drv):
        first = drv.open_shift()
        assert drv.status().shift_opened_at == first.at
        before = emu.commands
        drv.sell(agent_receipt())
        sell_commands = emu.commands - before
        before = emu.commands
        assert drv.status().shift_opened_at == first.at
        assert emu.commands - before == 3  # FF01, 10, FF40: the shift-open report is not searched again
        drv.close_shift()
        second = drv.open_shift()
        assert drv.status().shift_opened_at == second.at and second.number == 4
        assert sell_commands == 9
