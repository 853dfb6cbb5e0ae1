"""A configured scanner ([devices.scanner]) feeds the running kiosk: a bill typed by a HID keyboard-wedge scanner
(fake evdev device, grabbed) or sent by a serial scanner (emulator on a pty) reaches the session as a scan."""

from __future__ import annotations

import dataclasses
import time

import pytest
from fake_evdev import FakeInputs

from kiosk.app import Terminal
from kiosk.bills.external_scanner import ExternalScanner
from kiosk.config import Part, load_config
from kiosk.utility_demo import SAMPLE_EPD

PATH = "/dev/input/by-id/usb-Newland_Scanner-event-kbd"


def wait_for_state(terminal: Terminal, state: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while terminal.session.state != state:
        assert time.monotonic() < deadline, f"still {terminal.session.state}, not {state}"
        terminal.pump()
        time.sleep(0.01)


@pytest.fixture
def inputs(no_leaks):
    fake = FakeInputs()
    yield fake
    fake.close_all()


def test_a_hid_scanner_types_the_bill_into_the_session_and_nothing_onto_the_screen(config_path, inputs):
    device = inputs.plug(PATH)
    config = dataclasses.replace(load_config(config_path), scanner=Part(
        "scanner", "hid", {"device": PATH, "open_device": inputs.open, "reconnect_interval": 0.05}))
    terminal = Terminal(config, background_checks=False)
    terminal.start(background_outbox=False)
    try:
        deadline = time.monotonic() + 5
        while not device.grabbed:
            assert time.monotonic() < deadline, "the scanner was never grabbed"
            time.sleep(0.01)
        device.type_text(SAMPLE_EPD.read_bytes())  # UTF-8 Cyrillic: Alt+0NNN byte by byte
        wait_for_state(terminal, "debt")
        assert (terminal.session.provider.id, terminal.session.account) == ("epd", "1048572")
        assert device.screen == []  # grabbed: not a keystroke reached the screen
    finally:
        terminal.close()
    assert not device.grabbed and device.closed  # given back when the terminal stops


def test_a_serial_scanner_on_a_pty_feeds_the_session(config_path, tmp_path):
    scanner = ExternalScanner(suffix="crlf")
    try:
        config = dataclasses.replace(load_config(config_path), scanner=scanner.part())
        terminal = Terminal(config, background_checks=False)
        terminal.start(background_outbox=False)
        try:
            time.sleep(0.3)  # the driver opens the port
            assert scanner.command("scan not a bill").startswith("ok")
            wait_for_state(terminal, "category")
            assert terminal.session.view().scan_problem.reason == "not_a_payment_code"
            assert scanner.scan_file(SAMPLE_EPD).startswith("ok")
            wait_for_state(terminal, "debt")
        finally:
            terminal.close()
    finally:
        scanner.close()


def test_a_scanner_in_the_configuration_file(tmp_path, config_path):
    text = config_path.read_text(encoding="utf-8").replace(
        "[devices.printer]", '[devices.scanner]\ndriver = "serial"\nport = "/dev/ttyACM0"\nsuffix = "crlf"\n\n'
                             "[devices.printer]", 1)
    path = config_path.parent / "with-scanner.toml"
    path.write_text(text, encoding="utf-8")
    assert "[devices.scanner]" in text
    assert load_config(path).scanner == Part("scanner", "serial", {"port": "/dev/ttyACM0", "suffix": "crlf"})
    assert load_config(config_path).scanner is None
