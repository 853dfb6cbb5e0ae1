"""The HID keyboard-wedge scanner: grabbed so nothing reaches the screen, decoded, reconnected when replugged."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from fake_evdev import FakeInputs
from validator_support import wait_until

from kiosk.bills.gost_qr import PaymentCode, parse
from kiosk.drivers.scanner_hid import HidScanner, open_evdev
from kiosk.errors import DeviceInitializationError

SAMPLES = Path(__file__).parents[1] / "bills" / "data"
PATH = "/dev/input/by-id/usb-Honeywell_Scanner-event-kbd"
CODE = ("ST00012|Name=OOO UK Dom|PersonalAcc=40702810938000000001|BankName=PAO SBERBANK|BIC=044525225|"
        "CorrespAcc=30101810400000000225|Sum=250075|PersAcc=12-345/6")


@pytest.fixture
def inputs(no_leaks):
    fake = FakeInputs()
    yield fake
    fake.close_all()



def test_typed_code_is_decoded_and_never_reaches_the_screen(inputs):
    device = inputs.plug(PATH)
    with HidScanner(PATH, open_device=inputs.open, reconnect_interval=0.05) as scanner:
        wait_until(lambda: scanner.connected)
        assert device.grabbed
        device.type_text(CODE)
        code = scanner.get(timeout=3)
    assert code == CODE.encode()
    bill = parse(code)
    assert isinstance(bill, PaymentCode) and (bill.sum_kopecks, bill.payer_account) == (250075, "12-345/6")
    assert device.screen == []
    assert not device.grabbed and device.ungrab_calls == 1 and device.closed  # given back on close


def test_cyrillic_windows_1251_bill_typed_in_alt_keypad_mode_arrives_byte_for_byte(inputs):
    raw = (SAMPLES / "water_cp1251_pipe.qr").read_bytes()
    device = inputs.plug(PATH)
    with HidScanner(PATH, open_device=inputs.open, reconnect_interval=0.05) as scanner:
        wait_until(lambda: scanner.connected)
        device.type_text(raw)
        code = scanner.get(timeout=3)
    assert code == raw
    bill = parse(code)
    assert isinstance(bill, PaymentCode) and bill.name == 'ГУП "Водоканал Санкт-Петербурга"'


def test_without_grab_the_keys_also_reach_the_screen(inputs):
    device = inputs.plug(PATH)
    with HidScanner(PATH, grab=False, open_device=inputs.open, reconnect_interval=0.05) as scanner:
        wait_until(lambda: scanner.connected)
        device.type_text("ABC")
        assert scanner.get(timeout=3) == b"ABC"
    assert device.grab_calls == 0 and device.screen  # why grab is the default


def test_device_held_by_another_program_is_not_used_ungrabbed(inputs):
    device = inputs.plug(PATH)
    device.busy = True
    with HidScanner(PATH, open_device=inputs.open, reconnect_interval=0.05) as scanner:
        wait_until(lambda: device.grab_calls >= 2)  # retried, never read while another reader has it
        assert not scanner.connected
        device.busy = False
        wait_until(lambda: scanner.connected)
        device.type_text("OK")
        assert scanner.get(timeout=3) == b"OK"


def test_unplugged_scanner_is_reopened_and_grabbed_again(inputs):
    first = inputs.plug(PATH)
    with HidScanner(PATH, open_device=inputs.open, reconnect_interval=0.05) as scanner:
        wait_until(lambda: scanner.connected)
        first.type_text("ONE")
        assert scanner.get(timeout=3) == b"ONE"
        inputs.unplug(PATH)
        wait_until(lambda: not scanner.connected)
        assert first.closed
        second = inputs.plug(PATH)
        wait_until(lambda: scanner.connected)
        assert second.grabbed
        second.type_text("TWO")
        assert scanner.get(timeout=3) == b"TWO"


def test_missing_evdev_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "evdev", None)
    with pytest.raises(DeviceInitializationError, match="pip install evdev"):
        open_evdev(PATH)


def test_real_evdev_on_a_missing_node_is_retried(no_leaks, tmp_path):
    pytest.importorskip("evdev")
    with HidScanner(str(tmp_path / "event99"), reconnect_interval=0.05) as scanner:
        time.sleep(0.2)
        assert not scanner.connected
