"""ccTalk driver ↔ emulator over a pseudo-terminal: events, routing, inhibits, counter, faults, echo."""

from __future__ import annotations

import logging
import time

import pytest
from validator_support import FAST, wait_until

from kiosk.drivers import cctalk_frame as cc
from kiosk.drivers.cctalk import CctalkValidator, last_bill_stacked
from kiosk.drivers.validator import (
    Bill,
    CassetteFull,
    CassetteInserted,
    CassetteRemoved,
    Disconnected,
    Escrow,
    EventsLost,
    Jammed,
    Ready,
    Rejected,
    Returned,
    Stacked,
    Uncertain,
)
from kiosk.emulators.cassette import Cassette
from kiosk.emulators.cctalk import CctalkEmulator
from kiosk.errors import DeviceInitializationError

RUB = 100
MODES = [("simple", "lo_in_source"), ("crc16", "lo_in_source"), ("crc16", "hi_in_source")]


@pytest.fixture
def pair(make_pair, events):
    """A started emulator + driver accepting every bill, with a host that stacks every escrow."""
    def make(emulator=None, stack=True, enable=True, **options):
        emu, drv = make_pair(emulator or CctalkEmulator(step_seconds=0.01), CctalkValidator, **options)
        if stack:
            events.on_escrow = lambda _e: drv.stack()
        if enable:
            drv.enable(b.value for b in drv.bill_table())
            wait_until(lambda: emu.status()["master"] == 1, what="master inhibit lifted")
        return emu, drv
    return make


def _settle(emu, drv):
    wait_until(lambda: drv.status().extra["event_counter"] == emu.status()["counter"], what="driver caught up")
    # While a stacked bill's outcome is unread the driver holds master inhibit; it lifts it right after.
    wait_until(lambda: emu.status()["master"] == int(drv.status().enabled), what="acceptance restored")


@pytest.mark.parametrize(("checksum", "placement"), MODES)
def test_identity_bill_table_and_one_credit(pair, events, checksum, placement):
    emu = CctalkEmulator(step_seconds=0.01, checksum=checksum, crc_placement=placement)
    emu, drv = pair(emu, checksum=checksum, crc_placement=placement)
    assert drv.identity().serial == "12345678" and drv.identity().model == "KSK EMU-BV"
    assert [b.value for b in drv.bill_table()] == [v * RUB for v in (10, 50, 100, 200, 500, 1000, 2000, 5000)]
    emu.insert(1000)
    assert events.wait_for(Escrow)[0].bill == Bill(1000 * RUB, 6, "RU")
    events.wait_for(Stacked)
    _settle(emu, drv)
    assert len(events.of(Stacked)) == 1 and emu.cassette.counts() == {1000 * RUB: 1}


@pytest.mark.parametrize("line_echoes", [True, False])
def test_echo_setting(pair, events, line_echoes):
    emu = CctalkEmulator(step_seconds=0.01)
    emu.echo = line_echoes
    emu, drv = pair(emu, echo=line_echoes)
    emu.insert(100)
    events.wait_for(Stacked)
    assert drv.status().extra["echo_mismatch"] == 0


def test_echoing_line_without_echo_setting_still_works(pair, events):
    emu = CctalkEmulator(step_seconds=0.01)
    emu.echo = True  # our own request comes back addressed to the device and is skipped
    emu, drv = pair(emu, echo=False)
    emu.insert(50)
    events.wait_for(Stacked)


def test_address_is_respected(make_pair):
    emu = CctalkEmulator(address=41)
    emu, drv = make_pair(emu, CctalkValidator, start_driver=False, address=40)
    with pytest.raises(DeviceInitializationError, match="address 40"):
        drv.start()


def test_return_and_hold(pair, events):
    emu, drv = pair(CctalkEmulator(step_seconds=0.01, escrow_timeout=0.3), stack=False, hold_interval=0.1)
    emu.insert(100)
    events.wait_for(Escrow)
    time.sleep(0.7)  # past the device's escrow timeout: the driver's route 255 keeps it
    assert emu.status()["escrow"] and not events.of(Returned)
    drv.hold()
    drv.return_bill()
    assert events.wait_for(Returned)[0].bill.value == 100 * RUB
    assert not events.of(Stacked) and emu.cassette.count == 0


def test_inhibit_and_master_inhibit(pair, events):
    emu, drv = pair(enable=False)
    drv.enable([100 * RUB])
    wait_until(lambda: emu.status()["master"] == 1 and emu.status()["inhibit_mask"] == 0b100)
    emu.insert(50)
    assert events.wait_for(Rejected)[0].reason == "inhibited bill (serial)"
    drv.disable()
    wait_until(lambda: emu.status()["master"] == 0)
    assert "master inhibit" in emu.insert(100)
    _settle(emu, drv)
    assert not events.of(Escrow)


def test_counterfeit_jam_and_cassette_events(pair, events, scratch):
    emu, drv = pair(CctalkEmulator(step_seconds=0.01, cassette=Cassette(1, scratch / "c.json")))
    emu.counterfeit()
    assert events.wait_for(Rejected)[0].reason == "invalid bill (validation fail)"
    emu.jam()
    events.wait_for(Jammed)
    emu.cassette_out()
    events.wait_for(CassetteRemoved)
    emu.cassette_in()
    events.wait_for(CassetteInserted)
    emu.insert(100)
    events.wait_for(Stacked)
    events.wait_for(CassetteFull)


def test_more_than_five_events_between_reads_is_reported_loudly(pair, events, caplog):
    emu, drv = pair(silence_timeout=5.0)
    emu.wire.silent = True
    time.sleep(0.1)
    for _ in range(7):
        emu.counterfeit()
    with caplog.at_level(logging.ERROR):
        emu.wire.silent = False
        (lost,) = events.wait_for(EventsLost)
    assert lost.count == 2 and "money may be owed" in lost.detail
    assert any(r.levelno == logging.ERROR and "lost" in r.message for r in caplog.records)
    assert len(events.wait_for(Rejected, count=5)) == 5


def test_counter_wrap_credits_each_bill_once(pair, events):
    emu, drv = pair()
    emu.wire.silent = True
    time.sleep(0.1)
    with emu.lock:  # fast-forward both sides to just before the wrap
        emu._counter = 253
        drv._counter = drv._index = 253
    emu.wire.silent = False
    for n in range(4):
        emu.insert(100)
        events.wait_for(Stacked, count=n + 1)
        _settle(emu, drv)
    stacked = events.of(Stacked)
    assert emu.status()["counter"] == 6 and len(stacked) == 4  # 253 + 4 × (escrow, credit) wrapped past 255
    assert len({e.event_id for e in stacked}) == 4 and emu.cassette.count == 4
    assert not events.of(EventsLost)


def test_rereading_the_buffer_never_double_counts(pair, events):
    emu, drv = pair()
    emu.insert(100)
    events.wait_for(Stacked)
    time.sleep(0.2)  # ten more reads of the same buffer
    assert len(events.of(Stacked)) == 1


def test_power_cycle_is_a_reset_not_a_wrap(pair, events):
    emu, drv = pair(stack=False)
    emu.insert(100)
    events.wait_for(Escrow)
    emu.power_cycle()
    assert events.wait_for(Returned)[0].bill.value == 100 * RUB
    events.wait_for(Ready, count=2)
    wait_until(lambda: emu.status()["master"] == 1, what="inhibits restored after the reset")
    events.on_escrow = lambda _e: drv.stack()
    emu.insert(100)
    (stacked,) = events.wait_for(Stacked)
    assert not events.of(EventsLost) and ":1:" in stacked.event_id  # reset epoch 1


def test_reset_while_stacking_is_uncertain(pair, events):
    emu, drv = pair(stack=False)
    emu.insert(100)
    events.wait_for(Escrow)
    emu.step_seconds = 5.0  # a slow stacker: the power cut lands while the bill travels
    drv.stack()
    wait_until(lambda: emu.status()["stacking"])
    emu.power_cycle()
    emu.step_seconds = 0.01
    assert events.wait_for(Uncertain)[0].bill.value == 100 * RUB
    assert not events.of(Stacked) and emu.cassette.count == 1


def test_silent_device_disconnects_and_recovers_without_losing_events(pair, events):
    emu, drv = pair()
    emu.wire.silent = True
    events.wait_for(Disconnected, timeout=3)
    emu.insert(100)  # happens while the host cannot hear
    emu.wire.silent = False
    events.wait_for(Ready, count=2)
    events.wait_for(Stacked)


def test_corrupted_and_delayed_replies_are_retried(pair, events):
    emu, drv = pair()
    emu.wire.corrupt_next = True
    emu.wire.delay = 0.03
    emu.insert(200)
    events.wait_for(Stacked)
    assert not events.of(Disconnected)


def test_silent_from_start_names_the_settings_to_check(make_pair):
    emu = CctalkEmulator()
    emu.wire.silent = True
    emu, drv = make_pair(emu, CctalkValidator, start_driver=False)
    with pytest.raises(DeviceInitializationError, match="checksum mode and echo"):
        drv.start()


def test_wrong_checksum_mode_is_an_initialization_error(make_pair):
    emu = CctalkEmulator(checksum="crc16")
    emu, drv = make_pair(emu, CctalkValidator, start_driver=False, checksum="simple")
    with pytest.raises(DeviceInitializationError):
        drv.start()


def test_bad_checksum_option(events):
    with pytest.raises(DeviceInitializationError, match="checksum"):
        CctalkValidator(events, "/dev/null", checksum="xor")


def test_unplugged_adapter_is_reconnected(make_pair, events, scratch):
    emu = CctalkEmulator(step_seconds=0.01, link=str(scratch / "ttyUSB0"))
    emu, drv = make_pair(emu, CctalkValidator)
    events.on_escrow = lambda _e: drv.stack()
    drv.enable([100 * RUB])
    emu.wire.unplug()
    events.wait_for(Disconnected)
    emu.wire.replug()
    events.wait_for(Ready, count=2)
    wait_until(lambda: emu.status()["master"] == 1)
    emu.insert(100)
    events.wait_for(Stacked)


def test_route_reply_codes(pair, events):
    emu, drv = pair(stack=False)
    replies: list[bytes] = []
    # On the polling thread, as every command runs: a second thread on the port would race the polls.
    drv._queue("route", lambda: replies.append(drv._transact(cc.ROUTE_BILL, b"\x01")))
    wait_until(lambda: replies, what="the route reply")
    assert replies == [b"\xfe"]  # escrow empty


def test_last_bill_stacked_reads_only_the_newest_bill_event():
    assert last_bill_stacked(bytes((2, 3, 0, 3, 1)) + bytes(6)) == 3  # escrow then stacked: stacked
    assert last_bill_stacked(bytes((3, 0, 1, 3, 1, 3, 0)) + bytes(4)) is None  # a later bill went back
    assert last_bill_stacked(bytes((3, 0, 14, 3, 0, 3, 1)) + bytes(4)) == 3  # status after it changes nothing
    assert last_bill_stacked(bytes((1, 3, 1)) + bytes(8)) is None  # still in escrow
    assert last_bill_stacked(bytes(11)) is None  # a fresh device


@pytest.mark.parametrize(("events_before", "reported"), [
    ([(3, 1), (3, 0)], 100 * RUB),  # the previous host died after the bill was stacked
    ([(3, 1), (3, 0), (5, 1), (0, 1)], None),  # … and a later bill was returned: nothing certain to report
    ([(3, 1)], None),  # died with the bill in escrow: the reset returns it
])
def test_the_event_buffer_is_read_before_the_reset_at_startup(make_pair, events, events_before, reported):
    emu = CctalkEmulator(step_seconds=0.01)
    for a, b in events_before:
        emu.add_event(a, b)
    make_pair(emu, CctalkValidator)
    events.wait_for(Ready)
    found = [e.bill.value for e in events.of(Uncertain) if e.stacked and e.bill is not None]
    assert found == ([reported] if reported else [])
    assert not events.of(Stacked)


def test_no_next_bill_is_taken_while_a_stacked_bills_outcome_is_unread(pair, events):
    emu, drv = pair(stack=False, emulator=CctalkEmulator(step_seconds=0.3))  # a slow stacker
    emu.insert(100)
    events.wait_for(Escrow)
    drv.stack()
    wait_until(lambda: emu._stacking, what="the bill on its way to the cassette")
    emu.wire.silent = True  # the kiosk "dies" while the bill is stacking: it reads nothing more
    wait_until(lambda: emu.cassette.count == 1, what="the bill stacked")
    assert emu.status()["master"] == 0
    assert "refused" in emu.insert(200)  # the next payer's bill cannot bury the outcome in the buffer
    emu.wire.silent = False
    events.wait_for(Stacked)
    _settle(emu, drv)
    assert emu.status()["master"] == 1


def test_a_device_with_a_poll_timeout_takes_bills_only_while_polled(pair, events):
    emu = CctalkEmulator(step_seconds=0.01, poll_timeout=0.3)
    assert "not drawn in" in emu.insert(100)  # not before the host's first buffer read after power-up
    assert emu.status()["counter"] == 0
    emu, drv = pair(emu)
    emu.insert(100)
    events.wait_for(Stacked)
    _settle(emu, drv)
    emu.wire.silent = True  # the host stops reading
    wait_until(lambda: not emu.polled, what="the poll timeout")
    counter = emu.status()["counter"]
    assert "not drawn in" in emu.insert(200) and "not drawn in" in emu.counterfeit()
    assert emu.status()["counter"] == counter  # attempts at a unit that is not taking bills leave no event
    emu.wire.silent = False
    wait_until(lambda: emu.polled, what="polled again")
    emu.insert(500)
    assert events.wait_for(Stacked, count=2)[1].bill.value == 500 * RUB


def test_restart_finds_the_stacked_bill_when_payers_kept_trying_while_the_kiosk_was_down(make_pair, events):
    """The kiosk dies while its bill is stacking; payers push eight bills before it is back. A unit with a poll
    timeout stops drawing them in, so the stacked bill is still in the buffer for the next start to report."""
    emu, drv = make_pair(CctalkEmulator(step_seconds=0.3, poll_timeout=0.3), CctalkValidator)
    drv.enable(b.value for b in drv.bill_table())
    wait_until(lambda: emu.status()["master"] == 1, what="master inhibit lifted")
    emu.insert(100)
    events.wait_for(Escrow)
    drv.stack()
    wait_until(lambda: emu._stacking, what="the bill on its way to the cassette")
    emu.wire.silent = True  # the kiosk dies: nothing reads the buffer any more
    drv.stop()
    wait_until(lambda: emu.cassette.count == 1 and not emu.polled, what="stacked, then the poll timeout")
    for _ in range(8):
        emu.insert(200)
    emu.wire.silent = False
    events.items.clear()
    again = CctalkValidator(events, emu.path, **FAST)
    again.start()
    try:
        events.wait_for(Ready)
        assert [(e.bill.value, e.stacked) for e in events.of(Uncertain)] == [(100 * RUB, True)]
    finally:
        again.stop()
