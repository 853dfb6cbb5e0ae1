"""ID003 driver ↔ emulator over a pseudo-terminal: the bill cycle, its credit point and every fault."""

from __future__ import annotations

import time

import pytest
from validator_support import start_recorded_pair, wait_until

from kiosk.drivers import id003_frame as jf
from kiosk.drivers.id003 import Id003Validator
from kiosk.drivers.validator import (
    Bill,
    CassetteFull,
    Cheated,
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
from kiosk.emulators.id003 import Id003Emulator
from kiosk.errors import DeviceInitializationError

RUB = 100


@pytest.fixture
def wire():
    """Frames the emulator received (rx) and sent (tx), decoded, in order."""
    return []


@pytest.fixture
def pair(make_pair, events, wire):
    """A started emulator + driver accepting every bill, with a host that stacks every escrow."""
    def make(emulator=None, **options):
        return start_recorded_pair(make_pair, events, wire, emulator or Id003Emulator(step_seconds=0.01),
                                   Id003Validator, jf.FrameParser, lambda e: e.status()["phase"] == "idling",
                                   **options)
    return make


def test_start_reads_version_and_currency_table_in_kopecks(pair, events):
    emu, drv = pair(enable=False)
    assert drv.identity().firmware.startswith("i(RUS)-100-SS ID003")
    assert [(b.bill_type, b.value) for b in drv.bill_table()] == [
        (0x61 + i, v * RUB) for i, v in enumerate((10, 50, 100, 200, 500, 1000, 2000, 5000))]
    assert events.of(Ready) and drv.status().online


def test_start_sends_reset_then_every_setting_and_checks_each_echo(pair, wire):
    emu, drv = pair()
    # The unit is idling once it has taken C3 00; its echo goes out a moment later.
    wait_until(lambda: ("tx", jf.Frame(0xC3, b"\x00")) in wire, what="the echo of C3 00")
    sent = [f.code for way, f in wire if way == "rx" and f.code != jf.STATUS_REQUEST]
    assert sent[:3] == [jf.RESET, jf.GET_VERSION, jf.GET_CURRENCY_ASSIGNMENT]
    assert sent[3:9] == [0xC0, 0xC1, 0xC2, 0xC4, 0xC5, 0xC3]
    echoes = [f for way, f in wire if way == "tx" and f.code in jf.SETTINGS]
    assert jf.Frame(0xC3, b"\x00") in echoes and jf.Frame(0xC0, b"\x00\x00") in echoes


def test_wrong_echo_of_a_setting_fails_the_start(make_pair):
    emu = Id003Emulator(step_seconds=0.01)
    answer = emu._command
    emu._command = lambda frame: (frame.code, b"\x01\x00") if frame.code == 0xC1 else answer(frame)
    emu, drv = make_pair(emu, Id003Validator, start_driver=False)
    with pytest.raises(DeviceInitializationError, match="echoed"):
        drv.start()


def test_credit_is_at_vend_valid_once_and_acknowledged_after_it(pair, events, wire):
    emu, drv = pair()
    assert emu.insert(500).startswith("ok")
    (escrow,) = events.wait_for(Escrow)
    (stacked,) = events.wait_for(Stacked)
    assert escrow.bill == stacked.bill == Bill(500 * RUB, 0x65, "RUS")
    wait_until(lambda: emu.status()["phase"] == "idling")
    assert len(events.of(Stacked)) == 1 and emu.cassette.counts() == {500 * RUB: 1}
    flow = [(way, f.code) for way, f in wire]
    vend = flow.index(("tx", jf.VEND_VALID))
    assert ("rx", jf.ACK) in flow[vend:] and ("rx", jf.STACK_1) in flow[:vend]
    assert flow.index(("tx", jf.ESCROW)) < flow.index(("rx", jf.STACK_1))


def test_escrow_alone_never_credits(pair, events):
    emu, drv = pair(stack=False)
    emu.insert(100)
    events.wait_for(Escrow)
    time.sleep(0.2)
    assert not events.of(Stacked) and emu.status()["phase"] == "escrow" and emu.cassette.count == 0


def test_stack_2_is_sent_when_configured(pair, events, wire):
    emu, drv = pair(stack_command=2)
    emu.insert(100)
    events.wait_for(Stacked)
    assert ("rx", jf.STACK_2) in [(way, f.code) for way, f in wire]


def test_hold_keeps_bill_in_escrow_past_device_timeout(pair, events):
    emu, drv = pair(Id003Emulator(step_seconds=0.01, escrow_timeout=0.3), stack=False, hold_interval=0.1)
    emu.insert(100)
    events.wait_for(Escrow)
    time.sleep(0.8)
    assert emu.status()["phase"] in ("escrow", "holding") and not events.of(Returned)
    drv.stack()
    events.wait_for(Stacked)


def test_host_that_never_decides_gets_bill_returned(pair, events):
    emu, drv = pair(Id003Emulator(step_seconds=0.01, escrow_timeout=0.3), stack=False, hold_interval=0.1,
                    escrow_max_hold=0.5)
    emu.insert(100)
    events.wait_for(Returned, timeout=3)
    assert emu.cassette.count == 0 and not events.of(Uncertain)


def test_inhibited_denomination_is_rejected_with_its_reason(pair, events, wire):
    emu, drv = pair(enable=False)
    drv.enable([100 * RUB])  # only escrow code 0x63
    wait_until(lambda: emu.status()["phase"] == "idling")
    assert jf.Frame(0xC0, jf.denomination_mask({0x61, 0x62, 0x64, 0x65, 0x66, 0x67, 0x68})) in \
        [f for way, f in wire if way == "rx"]
    emu.insert(50)
    assert events.wait_for(Rejected)[0].reason == "inhibited"
    wait_until(lambda: emu.status()["phase"] == "idling")
    emu.insert(100)
    assert events.wait_for(Stacked)[0].bill.value == 100 * RUB


def test_disable_inhibits_acceptance(pair, events):
    emu, drv = pair()
    drv.disable()
    wait_until(lambda: emu.status()["phase"] == "disabled")
    assert "refused" in emu.insert(100) and not drv.status().enabled


@pytest.mark.parametrize("repeat", [True, False], ids=["vend-valid-repeats", "vend-valid-once"])
def test_lost_ack_does_not_double_credit(pair, events, repeat):
    emu, drv = pair()
    emu.repeat_vend_valid = repeat
    emu.lose_acks = 3  # with repeats on, the unit says VEND VALID for three more polls
    emu.insert(200)
    events.wait_for(Stacked)
    wait_until(lambda: emu.status()["phase"] == "idling")
    assert len(events.of(Stacked)) == 1 and emu.cassette.counts() == {200 * RUB: 1}
    assert (drv.status().extra["repeated_vend_valid"] >= 3) == repeat


def test_corrupted_vend_valid_reply_is_asked_again_and_credited_once(pair, events):
    emu, drv = pair()
    into = emu._into_cassette

    def and_corrupt():
        emu.wire.corrupt_next = True
        return into()
    emu._into_cassette = and_corrupt
    emu.insert(100)
    events.wait_for(Stacked)
    time.sleep(0.1)
    assert len(events.of(Stacked)) == 1 and not events.of(Uncertain) and drv.status().extra["bad_crc"] >= 1


def test_vend_valid_waiting_at_startup_is_uncertain_not_credited(make_pair, events):
    emu = Id003Emulator(step_seconds=0.01)
    emu._code = 0x63
    emu._go("vend_valid", keep_bill=True)
    make_pair(emu, Id003Validator)
    (uncertain,) = events.wait_for(Uncertain)
    assert uncertain.detail.startswith("at start-up") and uncertain.stacked  # in the cassette: the journal decides
    assert not events.of(Stacked)


def test_a_bill_still_stacking_at_startup_is_awaited_and_reported_in_the_cassette(make_pair, events):
    emu = Id003Emulator(step_seconds=0.3)
    emu._code = 0x63
    emu._go("stacking", keep_bill=True)
    make_pair(emu, Id003Validator)
    (uncertain,) = events.wait_for(Uncertain)
    assert uncertain.stacked and uncertain.detail.startswith("at start-up")  # VEND VALID, not a swallowed reset
    assert emu.cassette.counts() == {100 * RUB: 1} and not events.of(Stacked)


def test_power_up_with_bill_in_acceptor_returns_it(pair, events):
    emu, drv = pair(stack=False)
    emu.insert(100)
    events.wait_for(Escrow)
    assert "power_up_acceptor" in emu.power_cycle()
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
    assert "stacker" in uncertain.detail and uncertain.bill.value == 100 * RUB and uncertain.stacked
    events.wait_for(Ready, count=2)
    assert not events.of(Stacked) and emu.cassette.count == 1


def test_power_cut_after_vend_valid_credits_once_and_never_stacks_twice(pair, events):
    emu, drv = pair()
    emu.lose_acks = 100  # VEND VALID stays
    emu.insert(100)
    events.wait_for(Stacked)
    emu.power_cycle()
    events.wait_for(Ready, count=2)
    wait_until(lambda: emu.status()["phase"] == "idling")
    assert len(events.of(Stacked)) == 1 and emu.cassette.count == 1 and not events.of(Uncertain)


def test_cassette_full(pair, events, scratch):
    emu, drv = pair(Id003Emulator(step_seconds=0.01, cassette=Cassette(1, scratch / "c.json")))
    emu.insert(100)
    events.wait_for(Stacked)
    events.wait_for(CassetteFull)
    assert emu.insert(100).startswith("error")


@pytest.mark.parametrize("where", ["validator", "cassette"])
def test_jam(pair, events, where):
    emu, drv = pair()
    emu.jam(where)
    assert events.wait_for(Jammed)[0].where == where
    emu.unjam()
    wait_until(lambda: emu.status()["phase"] == "idling")


def test_jam_during_escrow_is_uncertain(pair, events):
    emu, drv = pair(stack=False)
    emu.insert(100)
    events.wait_for(Escrow)
    emu.jam()
    events.wait_for(Jammed)
    assert events.wait_for(Uncertain)[0].bill.value == 100 * RUB and not events.of(Stacked)


def test_counterfeit_cheat_and_failure(pair, events):
    emu, drv = pair()
    emu.counterfeit()
    assert events.wait_for(Rejected)[0].reason == "denomination assessment"
    wait_until(lambda: emu.status()["phase"] == "idling")
    emu.cheat()
    events.wait_for(Cheated)
    emu.fail(0xA2)
    assert events.wait_for(Failure)[0] == Failure(0xA2, "stacker motor")
    assert not events.of(Escrow) and emu.cassette.count == 0


def test_silent_device_disconnects_then_recovers(pair, events):
    emu, drv = pair()
    emu.wire.silent = True
    events.wait_for(Disconnected, timeout=3)
    emu.wire.silent = False
    events.wait_for(Ready, count=2)
    wait_until(lambda: emu.status()["phase"] == "idling", what="acceptance restored")
    emu.insert(100)
    events.wait_for(Stacked)


def test_silent_unit_fails_fast_with_clear_message(make_pair):
    emu = Id003Emulator()
    emu.wire.silent = True
    emu, drv = make_pair(emu, Id003Validator, start_driver=False)
    with pytest.raises(DeviceInitializationError, match="no ID003 answer"):
        drv.start()


def test_bad_options_are_rejected(events):
    with pytest.raises(DeviceInitializationError, match="stack_command"):
        Id003Validator(events, "/dev/null", stack_command=3)
    with pytest.raises(DeviceInitializationError, match="unknown option"):
        Id003Validator(events, "/dev/null", parity_bits=1)
