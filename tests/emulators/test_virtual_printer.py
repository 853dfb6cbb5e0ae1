"""The virtual printer: ESC/POS byte vectors, status answers, files written, and its command line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kiosk.emulators.escpos_interpreter import EscposInterpreter, PrintedReceipt, QrSymbol, TextLine
from kiosk.emulators.printout import to_text
from kiosk.emulators.virtual_printer import VirtualPrinter, control

ROOT = Path(__file__).resolve().parents[2]


def fresh() -> tuple[EscposInterpreter, list[PrintedReceipt]]:
    printed: list[PrintedReceipt] = []
    return EscposInterpreter(32, on_receipt=printed.append), printed


def test_text_styles_code_page_and_cut():
    interp, printed = fresh()
    interp.feed(b"\x1b@\x1bt\x11\x1ba\x01\x1bE\x01\x8f\xe0\xa8\xa2\xa5\xe2\n\x1bE\x00\x1d!\x11AB\n\x1dV\x01")
    [receipt] = printed
    first, second = receipt.items
    assert (first.text, first.align, first.spans[0].bold) == ("Привет", "center", True)
    assert (second.text, second.spans[0].width, second.spans[0].height) == ("AB", 2, 2)
    assert interp.unknown == []


def test_commands_split_across_reads_are_reassembled():
    interp, printed = fresh()
    data = b"\x1b@\x1d(k\x04\x001A2\x00\x1d(k\x0d\x001P0KIOSK1|T=1\x1d(k\x03\x001Q0\x1dV\x01"
    for i in range(len(data)):  # one byte at a time, the worst a serial line can do
        interp.feed(data[i:i + 1])
    [receipt] = printed
    assert [i.payload for i in receipt.items if isinstance(i, QrSymbol)] == ["KIOSK1|T=1"]


def test_status_answers_follow_the_paper_and_cover():
    interp, _ = fresh()
    queries = b"\x10\x04\x01\x10\x04\x02\x10\x04\x04\x1dr\x01"
    assert interp.feed(queries) == bytes([0x12, 0x12, 0x12, 0x00])
    interp.set_paper("near-end")
    assert interp.feed(queries) == bytes([0x12, 0x12, 0x1E, 0x03])
    interp.set_paper("out")
    assert interp.feed(queries) == bytes([0x1A, 0x32, 0x7E, 0x0F])
    interp.set_paper("ok")
    interp.set_cover(True)
    assert interp.feed(queries) == bytes([0x1A, 0x16, 0x12, 0x00])


def test_paper_runs_out_after_n_lines_and_the_rest_is_lost():
    interp, printed = fresh()
    interp.paper_out_after(2)
    interp.feed(b"one\ntwo\nthree\nfour\n\x1dV\x01")
    [receipt] = printed
    assert receipt.incomplete
    assert to_text(receipt, 32) == "one\ntwo\n[PAPER OUT: NOTHING BELOW WAS PRINTED]\n"
    assert interp.feed(b"\x10\x04\x04") == b"\x7e"


def test_unknown_commands_are_recorded_not_fatal():
    interp, printed = fresh()
    # ESC Z is not ours: its two bytes are skipped; its argument byte 0x01 then shows up as a stray control.
    interp.feed(b"\x1bZ\x01ok\n\x07\x1dV\x01")
    assert interp.unknown == [b"\x1bZ", b"\x01", b"\x07"]
    assert [i.text for i in printed[0].items if isinstance(i, TextLine)] == ["ok"]


def test_receipts_are_written_whole_and_nothing_temporary_is_left(tmp_path):
    before = set(threading.enumerate())
    with VirtualPrinter(tmp_path, port=0) as printer:
        with socket.create_connection(("127.0.0.1", printer.port), timeout=2) as conn:
            conn.sendall(b"\x1b@first\n\x1dV\x01\x1b@second\n\x1dV\x01")
        assert [p.name for p in printer.wait_for_receipts(2)] == ["0001.txt", "0002.txt"]
    assert sorted(os.listdir(tmp_path)) == ["0001.png", "0001.txt", "0002.png", "0002.txt"]
    assert (tmp_path / "0002.txt").read_text(encoding="utf-8") == "second\n"
    assert set(threading.enumerate()) <= before


def test_receipt_left_uncut_at_shutdown_is_saved_as_incomplete(tmp_path):
    with VirtualPrinter(tmp_path, port=0) as printer:
        with socket.create_connection(("127.0.0.1", printer.port), timeout=2) as conn:
            conn.sendall(b"\x1b@half a receipt\n\x10\x04\x04")
            assert conn.recv(1) == b"\x12"  # answered, so the line before it has been taken in
    assert (tmp_path / "0001-incomplete.txt").read_text(encoding="utf-8") == "half a receipt\n"


def test_control_commands():
    with VirtualPrinter(".", port=None) as printer:
        assert control(printer, "paper near-end") == "" and printer.interpreter.paper == "near-end"
        assert control(printer, "cover open") == "" and printer.interpreter.cover_open
        assert control(printer, "paper-out-after 0") == "" and printer.interpreter.paper == "out"
        assert control(printer, "paper sideways").startswith("paper state must be")
        assert control(printer, "dance").startswith("unknown command")
        assert control(printer, "quit") == "quit"


@pytest.mark.parametrize("stop", ["quit", "sigterm"])
def test_command_line_serves_tcp_and_pty_until_told_to_stop(tmp_path, stop):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk.emulators.virtual_printer", "--port", "0", "--pty", "--out", str(tmp_path),
         "--model", "generic-58"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        port = int(proc.stdout.readline().removeprefix("PORT="))
        tty = proc.stdout.readline().strip().removeprefix("TTY=")
        assert os.path.exists(tty)
        proc.stdin.write("paper near-end\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "OK paper near-end"
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(b"\x1dr\x01")
            assert conn.recv(1) == b"\x03"
            conn.sendall(b"\x1b@hello\n\x1dV\x01")
            assert proc.stdout.readline().strip() == f"RECEIPT {tmp_path / '0001.txt'}"
        if stop == "quit":
            proc.stdin.write("quit\n")
            proc.stdin.flush()
        else:
            proc.terminate()
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdin.close()
        proc.stdout.close()


def test_a_restarted_printer_never_overwrites_earlier_printouts(tmp_path):
    from kiosk.emulators.virtual_printer import VirtualPrinter

    (tmp_path / "0007.txt").write_text("an earlier receipt")
    printer = VirtualPrinter(tmp_path, port=0).start()
    try:
        assert printer._count == 7
    finally:
        printer.stop()
    assert (tmp_path / "0007.txt").read_text() == "an earlier receipt"
