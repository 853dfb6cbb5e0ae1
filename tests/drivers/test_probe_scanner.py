"""`devices probe` and a 2D scanner: silent to polls, known by udev's words or by a code arriving unasked."""

from __future__ import annotations

import threading

import pytest

from kiosk.drivers.probe import probe_port
from kiosk.drivers.probe_scanner import from_udev
from kiosk.emulators.scanner import ScannerEmulator


@pytest.fixture
def emulator(no_leaks):
    emu = ScannerEmulator(suffix=b"\r")
    emu.start()
    yield emu
    emu.stop()


def test_udev_names_a_scanner_by_its_vendor_or_model():
    honeywell = {"ID_VENDOR": "Honeywell", "ID_MODEL": "Imaging_Device", "ID_VENDOR_ID": "0c2e",
                 "ID_MODEL_ID": "0b61"}
    assert from_udev(honeywell) == {"protocol": "scanner", "identified_by": "udev",
                                    "identity": {"vendor": "Honeywell", "model": "Imaging_Device",
                                                 "usb_id": "0c2e:0b61"}}
    assert from_udev({"ID_VENDOR": "Newtologic", "ID_MODEL": "2D_Barcode_Scanner"})["protocol"] == "scanner"
    assert from_udev({"ID_VENDOR": "FTDI", "ID_MODEL": "FT232R_USB_UART"}) is None  # a validator's adapter
    assert from_udev({}) is None


def test_silent_scanner_is_not_mistaken_for_a_validator_and_the_note_says_how_to_find_it(emulator):
    result = probe_port(emulator.path, timeout=0.05, bauds=(9600,))
    assert result["protocol"] is None
    assert "--listen" in result["note"] and "pulse mode" in result["note"]
    assert emulator.heard > 0 and emulator.scans == 0  # it heard the validator polls and answered none


def test_code_scanned_while_probe_listens_identifies_the_scanner(emulator):
    done = threading.Event()

    def keep_scanning() -> None:
        while not done.wait(0.1):
            emulator.scan(b"ST00012|Name=X")

    scanner_thread = threading.Thread(target=keep_scanning, name="test-scanning")
    scanner_thread.start()
    try:
        result = probe_port(emulator.path, timeout=0.05, bauds=(9600,), listen=1.0)
    finally:
        done.set()
        scanner_thread.join()
    assert result["protocol"] == "scanner"
    assert result["identified_by"] == "unsolicited data while listening"
    assert "ST00012" in result["sample"]
