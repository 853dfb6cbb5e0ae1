"""CCNET driver ↔ emulator over a pseudo-terminal: every event, fault and money-safety rule."""

from __future__ import annotations

import time

import pytest
from validator_support import wait_until

from kiosk.drivers import ccnet_frame as cf
from kiosk.drivers.ccnet import CcnetValidator
from kiosk.drivers.validator import (
    Bill,
    CassetteFull,
    CassetteInserted,
    CassetteRemoved,
    Disconnected,
    Escrow,
    Failure,
    Jammed,
    Ready,
    Rejected,
    Returned,
    Stacked,
    Uncertain,
)
from kiosk.emulators.cassette import Cassette
from kiosk.emulators.ccnet import CcnetEmulator
from kiosk.errors import DeviceInitializationError

RUB = 100


@pytest.fixture
def pair(make_pair, events):
    """A started emulator + driver accepting every bill, with a host that stacks every escrow."""
    def make(emulator=None, stack=True, enable=True, **options):
        emu, drv = make_pair(emulator or CcnetEmulator(step_seconds=0.01), CcnetValidator, **options)
        if stack:
            events.on_escrow = lambda _e: drv.stack()
        if enable:
            drv.enable(b.value for b in drv.bill_table())
            wait_until(lambda: emu.status()["phase"] == "idling", what="idling")
        return emu, drv
    return make


def test_start_reads_identity_and_bill_table_in_kopecks(pair, events):
    emu, drv = pair(enable=False)
    assert drv.identity().model == "SM-RU1353" and drv.identity().serial == "41K012345"
    assert sorted(b.value for b in drv.bill_table()) == [v * RUB for v in (10, 50, 100, 200, 500, 1000, 2000, 5000)]
    assert events.of(Ready) and drv.status().online


def test_stacked_bill_credits_once(pair, events):
    emu, drv = pair()
    assert emu.insert(500).startswith("ok")
    (escrow,) = events.wait_for(Escrow)
    (stacked,) = events.wait_for(Stacked)
    assert escrow.bill == stacked.bill == Bill(500 * RUB, 5, "RUS")
    time.sleep(0.1)
    assert len(events.of(Stacked)) == 1 and emu.cassette.counts() == {500 * RUB: 1}


def test_two_bills_give_two_credits_with_distinct_ids(pair, events):
    emu, drv = pair()
    emu.insert(100)
    events.wait_for(Stacked)
    wait_until(lambda: emu.status()["phase"] == "idling")
    emu.insert(100)
    first, second = events.wait_for(Stacked, count=2)
    assert first.event_id != second.event_id and emu.cassette.count == 2


def test_event_ids_differ_across_driver_restarts(pair, events, make_pair):
    emu, drv = pair()
    emu.insert(10)
    events.wait_for(Stacked)
    drv.stop()
    drv2 = CcnetValidator(events, emu.path, poll_interval=0.02, hotplug=False)
    drv2.start()
    try:
        events.on_escrow = lambda _e: drv2.stack()
        drv2.enable([1000])
        wait_until(lambda: emu.status()["phase"] == "idling")
        emu.insert(10)
        ids = [e.event_id for e in events.wait_for(Stacked, count=2)]
    finally:
        drv2.stop()
    assert ids[0] != ids[1]


def test_return_from_escrow_does_not_credit(pair, events):
    emu, drv = pair(stack=False)
    events.on_escrow = lambda _e: drv.return_bill()
    emu.insert(1000)
    (returned,) = events.wait_for(Returned)
    assert returned.bill.value == 1000 * RUB and not events.of(Stacked) and emu.cassette.count == 0


def test_hold_keeps_bill_in_escrow_past_device_timeout(pair, events):
    emu, drv = pair(CcnetEmulator(step_seconds=0.01, escrow_timeout=0.3), stack=False, hold_interval=0.1)
    emu.insert(100)
    events.wait_for(Escrow)
    time.sleep(0.8)  # well past the device's own 0.3 s escrow timeout
    assert emu.status()["phase"] in ("escrow", "holding") and not events.of(Returned)
    drv.hold()
    drv.stack()
    events.wait_for(Stacked)


def test_undecided_escrow_is_returned_by_device_without_hold(pair, events):
    emu, drv = pair(CcnetEmulator(step_seconds=0.01, escrow_timeout=0.2), stack=False, auto_hold=False)
    emu.insert(100)
    events.wait_for(Returned)
    assert not events.of(Stacked) and not events.of(Uncertain)


def test_host_that_never_decides_gets_bill_returned(pair, events):
    emu, drv = pair(CcnetEmulator(step_seconds=0.01, escrow_timeout=0.3), stack=False, hold_interval=0.1,
                    escrow_max_hold=0.5)
    emu.insert(100)
    events.wait_for(Returned, timeout=3)
    assert emu.cassette.count == 0


@pytest.mark.parametrize(("order", "mask"), [("y3_first", "00 00 10"), ("y1_first", "10 00 00")])
def test_enable_mask_bit_order(pair, events, order, mask):
    sent = []
    emu = CcnetEmulator(step_seconds=0.01, mask_order=order)
    emu.wire.on_wire = lambda way, data: sent.append(data) if way == "rx" else None
    emu, drv = pair(emu, enable=False, mask_order=order)
    drv.enable([100 * RUB])  # type 4 → bit 4
    wait_until(lambda: emu.status()["enabled_types"] == [4])
    assert cf.command(cf.ENABLE_BILL_TYPES, bytes.fromhex(mask) * 2) in b"".join(sent)
    emu.insert(50)
    assert events.wait_for(Rejected)[0].reason == "inhibit"
    wait_until(lambda: emu.status()["phase"] == "idling")
    emu.insert(100)
    assert events.wait_for(Stacked)[0].bill.value == 100 * RUB


def test_lost_ack_does_not_double_credit(pair, events):
    emu, drv = pair()
    emu.repeat_stacked = True
    emu.lose_acks = 3  # the device keeps saying "stacked" for three more polls
    emu.insert(200)
    events.wait_for(Stacked)
    wait_until(lambda: emu.status()["phase"] == "idling")
    # The emulator is idling once it has sent its last repeat; the driver may still be reading that reply.
    wait_until(lambda: drv.status().extra["repeated_stacked"] >= 3, what="the driver to see three repeats")
    assert len(events.of(Stacked)) == 1
    assert emu.cassette.counts() == {200 * RUB: 1}


def test_corrupted_reply_is_naked_and_repolled(pair, events):
    emu, drv = pair()
    emu.wire.corrupt_next = True
    wait_until(lambda: drv.status().extra["bad_crc"] >= 1)
    emu.insert(100)
    events.wait_for(Stacked)
    assert drv.status().online and not events.of(Disconnected)


def _corrupt_when_stacked(emu):
    into = emu._into_cassette

    def and_corrupt():
        emu.wire.corrupt_next = True
        return into()
    emu._into_cassette = and_corrupt


def test_corrupted_stacked_report_is_recovered_when_device_repeats(pair, events):
    emu, drv = pair()
    emu.repeat_stacked = True
    _corrupt_when_stacked(emu)
    emu.insert(100)
    events.wait_for(Stacked)
    time.sleep(0.1)
    assert len(events.of(Stacked)) == 1 and not events.of(Uncertain)


def test_corrupted_stacked_report_without_repeat_is_uncertain_not_lost(pair, events):
    emu, drv = pair()
    _corrupt_when_stacked(emu)
    emu.insert(100)
    (uncertain,) = events.wait_for(Uncertain)
    assert uncertain.bill.value == 100 * RUB and not events.of(Stacked)
    assert emu.cassette.count == 1  # the money is in the cassette: the host must reconcile, not forget


def test_power_up_with_bill_in_validator_returns_it(pair, events):
    emu, drv = pair(stack=False)
    emu.insert(100)
    events.wait_for(Escrow)
    assert "power_up_bill" in emu.power_cycle()
    events.wait_for(Ready, count=2)
    assert events.wait_for(Returned)[0].bill.value == 100 * RUB
    assert not events.of(Stacked) and not events.of(Disconnected) and emu.cassette.count == 0
    wait_until(lambda: emu.status()["phase"] == "idling", what="acceptance restored after power-up")


def test_power_up_with_bill_in_stacker_is_uncertain(pair, events):
    emu, drv = pair(stack=False)
    emu.insert(100)
    events.wait_for(Escrow)
    emu.step_seconds = 5.0  # a slow stacker, so the power cut lands mid-stacking
    drv.stack()
    wait_until(lambda: emu.status()["phase"] == "stacking")
    assert "power_up_stacker" in emu.power_cycle()
    emu.step_seconds = 0.01
    (uncertain,) = events.wait_for(Uncertain)
    assert "stacker" in uncertain.detail
    events.wait_for(Ready, count=2)
    assert not events.of(Stacked) and emu.cassette.count == 1


def test_stacked_reported_at_startup_is_left_to_the_journal(make_pair, events):
    emu = CcnetEmulator(step_seconds=0.01)
    emu.repeat_stacked = True
    emu._go("stacked", keep_bill=True)
    emu._bill, emu._awaiting_ack = 4, True
    make_pair(emu, CcnetValidator)
    (report,) = events.wait_for(Uncertain)
    # A host before us may have seen this report: only its journal (a STACK still pending) can say.
    assert report.stacked and report.bill is not None and report.bill.value == 100 * RUB
    assert report.detail.startswith("at start-up") and not events.of(Stacked)


def test_a_bill_still_stacking_at_startup_is_awaited_and_reported_stacked(make_pair, events):
    emu = CcnetEmulator(step_seconds=0.3)  # the previous host died while this bill was on its way in
    emu._go("stacking", keep_bill=True)
    emu._bill, emu._reported = 5, True
    make_pair(emu, CcnetValidator)
    (report,) = events.wait_for(Uncertain)
    assert report.stacked and report.bill is not None and report.bill.value == 500 * RUB
    assert "no host saw that report" in report.detail
    assert emu.cassette.count == 1 and not events.of(Stacked)


def test_cassette_removed_and_inserted(pair, events):
    emu, drv = pair()
    emu.cassette_out()
    events.wait_for(CassetteRemoved)
    assert emu.insert(100).startswith("error")
    emu.cassette_in()
    events.wait_for(CassetteInserted)
    wait_until(lambda: emu.status()["phase"] == "idling")
    emu.insert(100)
    events.wait_for(Stacked)


def test_cassette_full(pair, events, scratch):
    emu, drv = pair(CcnetEmulator(step_seconds=0.01, cassette=Cassette(1, scratch / "c.json")))
    emu.insert(100)
    events.wait_for(Stacked)
    events.wait_for(CassetteFull)
    assert emu.insert(100).startswith("error")


@pytest.mark.parametrize("where", ["validator", "cassette"])
def test_jam(pair, events, where):
    emu, drv = pair()
    emu.jam(where)
    assert events.wait_for(Jammed)[0].where == where


def test_jam_during_escrow_is_uncertain(pair, events):
    emu, drv = pair(stack=False)
    emu.insert(100)
    events.wait_for(Escrow)
    emu.jam()
    events.wait_for(Jammed)
    assert events.wait_for(Uncertain)[0].bill.value == 100 * RUB and not events.of(Stacked)


def test_counterfeit_is_rejected(pair, events):
    emu, drv = pair()
    emu.counterfeit()
    assert events.wait_for(Rejected)[0].reason == "identification"
    assert not events.of(Escrow) and emu.cassette.count == 0


def test_failure_code(pair, events):
    emu, drv = pair()
    emu.fail(0x50)
    assert events.wait_for(Failure)[0] == Failure(0x50, "stack motor")


def test_silent_device_disconnects_then_recovers(pair, events):
    emu, drv = pair()
    emu.wire.silent = True
    started = time.monotonic()
    events.wait_for(Disconnected, timeout=3)
    assert time.monotonic() - started >= 0.5  # silence_timeout=0.6, minus a poll's jitter
    assert not drv.status().online
    emu.wire.silent = False
    events.wait_for(Ready, count=2)
    wait_until(lambda: emu.status()["phase"] == "idling", what="acceptance restored")
    emu.insert(100)
    events.wait_for(Stacked)


def test_pulse_mode_unit_fails_fast_with_clear_message(make_pair):
    emu = CcnetEmulator()
    emu.wire.silent = True  # a unit in pulse mode never answers CCNET at all
    emu, drv = make_pair(emu, CcnetValidator, start_driver=False)
    started = time.monotonic()
    with pytest.raises(DeviceInitializationError, match="pulse mode"):
        drv.start()
    assert time.monotonic() - started < 3


def test_missing_port_is_an_initialization_error(events, scratch):
    with pytest.raises(DeviceInitializationError, match="cannot open"):
        CcnetValidator(events, str(scratch / "ttyUSB9"), hotplug=False).start()


def test_bad_options_are_rejected(events):
    with pytest.raises(DeviceInitializationError, match="unknown option"):
        CcnetValidator(events, "/dev/null", bauds=9600)
    with pytest.raises(DeviceInitializationError, match="mask_order"):
        CcnetValidator(events, "/dev/null", mask_order="sideways")
    drv = CcnetValidator(events, "/dev/null", baudrate="19200", poll_interval="0.2", hotplug="off")
    assert drv.options["baudrate"] == 19200 and drv.options["hotplug"] is False


def test_delayed_and_dropped_bytes_are_survived(pair, events):
    emu, drv = pair()
    emu.wire.delay = 0.05  # slower than usual, inside the response timeout
    emu.insert(100)
    events.wait_for(Stacked)
    emu.wire.delay = 0.0
    emu.wire.drop_incoming = 4  # a poll frame mangled on its way to the device
    wait_until(lambda: emu.wire.drop_incoming == 0)
    wait_until(lambda: emu.status()["phase"] == "idling")
    emu.insert(50)
    events.wait_for(Stacked, count=2)
    assert not events.of(Disconnected)


def test_unplugged_adapter_is_reconnected_without_restart(make_pair, events, scratch):
    emu = CcnetEmulator(step_seconds=0.01, link=str(scratch / "ttyUSB0"))
    emu, drv = make_pair(emu, CcnetValidator)
    events.on_escrow = lambda _e: drv.stack()
    drv.enable([100 * RUB])
    emu.wire.unplug()
    events.wait_for(Disconnected)
    time.sleep(0.2)  # a few failed reopen attempts
    emu.wire.replug()
    events.wait_for(Ready, count=2)
    wait_until(lambda: emu.status()["phase"] == "idling", what="enable mask restored after reconnect")
    emu.insert(100)
    events.wait_for(Stacked)
