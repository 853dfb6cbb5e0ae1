"""ReceiptPrinter against the virtual printer over TCP and a pty: status, printing, paper running out."""

from __future__ import annotations

import socket
import threading

import pytest

from kiosk.drivers.printer import (
    PrinterStatus,
    PrintResult,
    ReceiptPrinter,
    decode_paper_dle,
    decode_paper_gs_r,
)
from kiosk.drivers.printer_links import FileLink, NetworkLink, PrinterLink, SerialLink
from kiosk.emulators.sample_receipts import sample
from kiosk.emulators.virtual_printer import VirtualPrinter
from kiosk.errors import ConfigError


@pytest.fixture
def virtual(tmp_path):
    before = set(threading.enumerate())
    printer = VirtualPrinter(tmp_path / "paper", model="generic-80-42", port=0, pty=True).start()
    yield printer
    printer.stop()
    assert set(threading.enumerate()) <= before


@pytest.fixture(params=["tcp", "pty"])
def receipt_printer(request, virtual):
    link = NetworkLink("127.0.0.1", virtual.port, timeout=2) if request.param == "tcp" else SerialLink(virtual.tty)
    printer = ReceiptPrinter(link, "generic-80-42", job_timeout=2.0, status_timeout=0.5)
    yield printer
    printer.close()


def test_status_bytes_decode_per_the_escpos_manual():
    assert [decode_paper_dle(b) for b in (0x12, 0x1E, 0x72, 0x7E)] == ["ok", "near_end", "out", "out"]
    assert [decode_paper_gs_r(b) for b in (0x00, 0x03, 0x0C, 0x0F)] == ["ok", "near_end", "out", "out"]


def test_status_follows_the_paper_sensor_and_cover(virtual, receipt_printer):
    assert receipt_printer.status() == PrinterStatus("ok", cover_open=False, online=True)
    virtual.set_paper("near-end")
    assert receipt_printer.status().summary == "near_end"
    assert receipt_printer.status().can_print
    virtual.set_paper("out")
    assert receipt_printer.status() == PrinterStatus("out", cover_open=False, online=False)
    virtual.set_paper("ok")
    virtual.set_cover(True)
    status = receipt_printer.status()
    assert (status.summary, status.can_print) == ("cover_open", False)


def test_receipt_prints_and_the_printer_confirms_the_end(virtual, receipt_printer):
    result = receipt_printer.print_receipt(sample("payment"))
    assert result == PrintResult("printed", verified=True)
    [txt] = virtual.wait_for_receipts(1)
    assert txt.name == "0001.txt" and "Операция № 42" in txt.read_text(encoding="utf-8")
    assert txt.with_suffix(".png").stat().st_size > 1000
    assert virtual.interpreter.unknown == []


def test_paper_running_out_mid_receipt_is_reported_incomplete(virtual, receipt_printer):
    virtual.paper_out_after(12)
    result = receipt_printer.print_receipt(sample("payment"))
    assert (result.outcome, result.printed) == ("incomplete", False)
    assert "paper ran out" in result.reason
    [txt] = virtual.wait_for_receipts(1)
    assert txt.name == "0001-incomplete.txt"
    assert "NOTHING BELOW WAS PRINTED" in txt.read_text(encoding="utf-8")


def test_paper_running_out_on_the_last_lines_is_caught_by_the_final_check(virtual, receipt_printer):
    # One part only, so no real-time check in between: the in-order GS r after the cut must catch it.
    receipt_printer.blocks_per_check = 1000
    virtual.paper_out_after(40)
    assert receipt_printer.print_receipt(sample("payment")).outcome == "incomplete"


def test_nothing_is_sent_when_the_paper_is_already_out(virtual, receipt_printer):
    virtual.set_paper("out")
    assert receipt_printer.print_receipt(sample("payment")) == PrintResult("failed", "paper_out")
    virtual.set_paper("ok")
    assert receipt_printer.print_receipt(sample("test")).printed
    assert [p.name for p in virtual.wait_for_receipts(1)] == ["0001.txt"]


def test_printer_that_is_not_there_fails_without_raising():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound but not listening: connection refused
        printer = ReceiptPrinter(NetworkLink("127.0.0.1", port, timeout=0.5), "generic-58")
        assert printer.status().summary == "offline"
        result = printer.print_receipt(sample("payment"))
    assert result.outcome == "failed"


def test_one_way_link_prints_but_cannot_know_the_paper(tmp_path):
    spool = tmp_path / "lp0"
    printer = ReceiptPrinter(FileLink(str(spool)), "generic-80-48")
    assert printer.status() == PrinterStatus.unknown()
    assert printer.print_receipt(sample("encashment")) == PrintResult("printed", verified=False)
    printer.close()
    assert spool.read_bytes() == printer.render(sample("encashment"))


def test_from_config_builds_link_and_model_and_names_bad_keys(tmp_path):
    printer = ReceiptPrinter.from_config("file", {"path": str(tmp_path / "x"), "model": "generic-58",
                                                  "columns": 32}, "terminal.toml")
    assert isinstance(printer.link, FileLink) and printer.model.columns == 32
    with pytest.raises(ConfigError, match="devices.printer.model"):
        ReceiptPrinter.from_config("file", {"path": "x", "model": "nope"}, "terminal.toml")
    with pytest.raises(ConfigError, match="bad options"):
        ReceiptPrinter.from_config("file", {"path": "x", "baud": 9600}, "terminal.toml")


class ScriptedLink(PrinterLink):
    """A two-way link whose printer answers real-time queries but never GS r (stopped, or not supported).

    Its paper byte changes to `after` once the receipt has been sent; None there means it falls silent.
    """

    def __init__(self, after: int | None) -> None:
        super().__init__()
        self.paper_byte: int | None = 0x12
        self.after, self.sent, self._replies = after, bytearray(), bytearray()

    def _make(self):
        raise AssertionError("not used")

    def open(self) -> None:
        pass

    def write(self, data: bytes) -> None:
        self.sent += data
        if len(data) > 100:
            self.paper_byte = self.after
        if data.startswith(b"\x10\x04") and self.paper_byte is not None:
            self._replies.append(0x12 if data[2] != 4 else self.paper_byte)

    def _read(self, timeout: float) -> bytes:
        replies, self._replies = bytes(self._replies), bytearray()
        return replies


@pytest.mark.parametrize(("after", "outcome", "reason"), [
    (0x12, "printed", "printer did not confirm the end of the receipt"),
    (0x72, "incomplete", "paper ran out while printing"),
    (None, "incomplete", "printer stopped answering while printing"),
])
def test_unanswered_end_check_falls_back_to_real_time_status(after, outcome, reason):
    link = ScriptedLink(after)
    printer = ReceiptPrinter(link, "generic-80-42", job_timeout=0.05, status_timeout=0.05, blocks_per_check=1000)
    result = printer.print_receipt(sample("payment"))
    assert (result.outcome, result.reason, result.verified) == (outcome, reason, False)
    assert b"\x1dr\x01" in link.sent


def test_a_usb_printer_that_is_not_there_is_offline_and_fails_clearly_not_silently():
    from kiosk.drivers.printer import ReceiptPrinter
    from kiosk.emulators.sample_receipts import sample

    printer = ReceiptPrinter.from_config("usb", {"vendor_id": 0xFFFF, "product_id": 0xFFFE}, "terminal.toml")
    status = printer.status()
    assert status.online is False and not status.can_print
    result = printer.print_receipt(sample("payment"))
    assert result.outcome == "failed" and result.reason
