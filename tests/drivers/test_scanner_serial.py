"""The serial scanner driver against the scanner emulator over a real pseudo-terminal."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from validator_support import wait_until

from kiosk.bills.gost_qr import PaymentCode, parse
from kiosk.drivers.scanner_serial import SerialScanner
from kiosk.emulators.scanner import ScannerEmulator, execute

SAMPLES = Path(__file__).parents[1] / "bills" / "data"
KIOSK_CLI = "import sys; from kiosk.cli import main; sys.exit(main())"  # the `kiosk` command itself


@pytest.fixture
def emulator(no_leaks):
    emu = ScannerEmulator(suffix=b"\r\n")
    emu.start()
    yield emu
    emu.stop()



def test_scanned_bill_arrives_as_its_exact_bytes(emulator):
    raw = (SAMPLES / "water_cp1251_pipe.qr").read_bytes()
    with SerialScanner(emulator.path, suffix="crlf", reconnect_interval=0.05, hotplug=False) as scanner:
        wait_until(lambda: scanner.connected)
        emulator.scan(raw)
        code = scanner.get(timeout=3)
    assert code == raw
    bill = parse(code)
    assert isinstance(bill, PaymentCode) and bill.sum_kopecks == 127050


def test_codes_go_to_the_callback_in_order_and_a_failing_handler_does_not_stop_the_reader(emulator):
    got: list[bytes] = []

    def handler(code: bytes) -> None:
        got.append(code)
        if code == b"BOOM":
            raise RuntimeError("screen not ready")

    with SerialScanner(emulator.path, suffix="crlf", on_code=handler, reconnect_interval=0.05,
                       hotplug=False) as scanner:
        wait_until(lambda: scanner.connected)
        for text in ("ONE", "BOOM", "TWO"):
            emulator.scan(text.encode())
        wait_until(lambda: len(got) == 3)
    assert got == [b"ONE", b"BOOM", b"TWO"]
    assert scanner.codes.empty()


def test_a_code_without_its_suffix_ends_at_the_pause(emulator):
    with SerialScanner(emulator.path, suffix="crlf", gap=0.05, reconnect_interval=0.05, hotplug=False) as scanner:
        wait_until(lambda: scanner.connected)
        execute(emulator, "scan-partial ST00012|Name=X")
        assert scanner.get(timeout=3) == b"ST00012|Name=X"


def test_vanishing_scanner_is_reconnected_and_no_half_code_survives(no_leaks, tmp_path):
    emu = ScannerEmulator(suffix=b"\r", link=str(tmp_path / "ttyScanner"))
    emu.start()
    try:
        with SerialScanner(emu.path, suffix="cr", reconnect_interval=0.05, hotplug=False) as scanner:
            wait_until(lambda: scanner.connected)
            emu.scan(b"BEFORE")
            assert scanner.get(timeout=3) == b"BEFORE"
            emu.scan(b"HALF-", complete=False)
            assert emu.unplug() == "ok unplugged"
            wait_until(lambda: not scanner.connected)
            assert execute(emu, "scan X").startswith("error: unplugged")
            emu.replug()
            wait_until(lambda: scanner.connected)
            emu.scan(b"AFTER")
            assert scanner.get(timeout=3) == b"AFTER"
            assert scanner.get(timeout=0.2) is None
    finally:
        emu.stop()


def test_close_is_idempotent_and_open_twice_starts_one_reader(emulator):
    scanner = SerialScanner(emulator.path, hotplug=False)
    scanner.open()
    scanner.open()
    assert len([t for t in threading.enumerate() if t.name.startswith("scanner-")]) == 1
    scanner.close()
    scanner.close()


def test_missing_port_is_retried_not_raised(no_leaks, tmp_path):
    with SerialScanner(str(tmp_path / "nothing"), reconnect_interval=0.05, hotplug=False) as scanner:
        time.sleep(0.2)
        assert not scanner.connected


def test_emulator_commands_answer_one_line_each(emulator, tmp_path):
    sample = tmp_path / "code.qr"
    sample.write_bytes(b"ABC\r\n")
    assert execute(emulator, f"scan-file {sample}") == "ok scanned 3 bytes"
    assert execute(emulator, "scan-hex 414243") == "ok scanned 3 bytes"
    assert execute(emulator, "scan-file /nonexistent/x").startswith("error:")
    assert execute(emulator, "scan-hex zz").startswith("error:")
    assert execute(emulator, "dance").startswith("error: unknown")
    assert '"scans":2' in execute(emulator, "status")


def test_emulator_process_prints_port_first_and_scans_from_stdin(no_leaks):
    proc = subprocess.Popen([sys.executable, "-c", KIOSK_CLI, "emulate", "scanner", "--suffix", "lf"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    try:
        first = proc.stdout.readline().strip()
        assert first.startswith("PORT="), first
        with SerialScanner(first[5:], suffix="lf", reconnect_interval=0.05, hotplug=False) as scanner:
            wait_until(lambda: scanner.connected)
            proc.stdin.write(f"scan-file {SAMPLES / 'gas_koi8r_semicolon.qr'}\n")
            proc.stdin.flush()
            assert proc.stdout.readline().startswith("ok scanned")
            code = scanner.get(timeout=3)
        assert code == (SAMPLES / "gas_koi8r_semicolon.qr").read_bytes()
        proc.stdin.write("quit\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "ok bye"
        assert proc.wait(5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdin.close()
        proc.stdout.close()


def test_hotplug_add_reconnects_at_once_not_at_the_next_retry(no_leaks, tmp_path, monkeypatch):
    watchers: list = []

    class RecordingWatcher:
        """Stands in for the udev monitor (none in containers): the test delivers its events."""

        def __init__(self, port: str, on_change) -> None:
            self.port, self.on_change, self.stopped = port, on_change, False

        @classmethod
        def try_start(cls, port: str, on_change) -> RecordingWatcher:
            watchers.append(cls(port, on_change))
            return watchers[-1]

        def stop(self) -> None:
            self.stopped = True

    monkeypatch.setattr("kiosk.drivers.scanner_serial.HotplugWatcher", RecordingWatcher)
    emu = ScannerEmulator(suffix=b"\r", link=str(tmp_path / "ttyScanner"))
    emu.start()
    try:
        with SerialScanner(emu.path, suffix="cr", reconnect_interval=60) as scanner:
            wait_until(lambda: scanner.connected)
            emu.unplug()
            wait_until(lambda: not scanner.connected)
            time.sleep(0.1)  # the reader is now in its 60-second wait
            emu.replug()
            watchers[0].on_change("add")
            wait_until(lambda: scanner.connected, timeout=2)
            emu.scan(b"BACK")
            assert scanner.get(timeout=3) == b"BACK"
        assert watchers[0].stopped and watchers[0].port == emu.path
    finally:
        emu.stop()
