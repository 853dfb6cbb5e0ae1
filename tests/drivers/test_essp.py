"""eSSP driver ↔ emulator over a pseudo-terminal: key exchange, encrypted polls, the credit point and faults."""

from __future__ import annotations

import time

import pytest
from validator_support import start_recorded_pair, wait_until

from kiosk.drivers import essp_frame as ef
from kiosk.drivers.essp import EsspValidator, parse_setup
from kiosk.drivers.validator import (
    Bill,
    CassetteFull,
    CassetteInserted,
    CassetteRemoved,
    Cheated,
    Disconnected,
    Escrow,
    Jammed,
    Ready,
    Rejected,
    Returned,
    Stacked,
    Uncertain,
)
from kiosk.emulators.cassette import Cassette
from kiosk.emulators.essp import EsspEmulator
from kiosk.errors import DeviceInitializationError

RUB = 100


@pytest.fixture
def wire():
    """Packets the emulator received (rx) and sent (tx), in order (DATA still encrypted)."""
    return []


@pytest.fixture
def pair(make_pair, events, wire):
    """A started emulator + driver accepting every note, with a host that stacks every escrow."""
    def make(emulator=None, **options):
        return start_recorded_pair(make_pair, events, wire, emulator or EsspEmulator(step_seconds=0.01),
                                   EsspValidator, ef.PacketParser, lambda e: e.status()["enabled"], **options)
    return make


def test_start_syncs_exchanges_keys_and_reads_channels_in_kopecks(pair, events, wire):
    emu, drv = pair(enable=False)
    assert [b.value for b in drv.bill_table()] == [v * RUB for v in (10, 50, 100, 200, 500, 1000, 2000, 5000)]
    assert drv.identity().serial == str(0x00BC614E) and "protocol 6" in drv.identity().firmware
    plain = [p.data[0] for way, p in wire if way == "rx" and p.data[0] != ef.STEX]
    assert plain == [ef.SYNC, ef.SET_GENERATOR, ef.SET_MODULUS, ef.REQUEST_KEY_EXCHANGE]
    sent = [p for way, p in wire if way == "rx"]
    assert sent[0].seq is True and sent[1].seq is False  # SYNC with the flag set, then flag 0
    assert all(a.seq != b.seq for a, b in zip(sent[1:], sent[2:], strict=False))  # flipped for every new command
    assert emu.status()["encrypted"] and drv.status().extra["encrypted"] and events.of(Ready)


def test_every_command_after_the_key_exchange_is_encrypted_and_answered_encrypted(pair, wire):
    emu, drv = pair()
    emu.insert(100)
    wait_until(lambda: emu.cassette.count == 1)
    after = [(way, p) for way, p in wire if way == "rx" or p.data[0] != ef.OK][4:]
    assert after and all(p.data[0] == ef.STEX for _way, p in after)


def test_credit_only_on_credit_note_once(pair, events):
    emu, drv = pair()
    assert emu.insert(500).startswith("ok")
    (escrow,) = events.wait_for(Escrow)
    (stacked,) = events.wait_for(Stacked)
    assert escrow.bill == stacked.bill == Bill(500 * RUB, 5, "RUS")
    wait_until(lambda: emu.status()["note"] == "none" and emu.status()["queued_events"] == 0)
    time.sleep(0.1)
    assert len(events.of(Stacked)) == 1 and emu.cassette.counts() == {500 * RUB: 1}


def test_escrow_is_held_not_polled_while_the_host_decides(pair, events, wire):
    emu, drv = pair(EsspEmulator(step_seconds=0.01, escrow_timeout=0.4), stack=False, hold_interval=0.1)
    emu.insert(100)
    events.wait_for(Escrow)
    time.sleep(1.0)  # well past the unit's own escrow timeout: HOLD keeps it
    assert emu.status()["note"] == "escrow" and not events.of(Stacked) and emu.cassette.count == 0
    drv.stack()
    events.wait_for(Stacked)


def test_undecided_escrow_returned_by_the_unit_which_is_then_re_enabled(pair, events):
    emu, drv = pair(EsspEmulator(step_seconds=0.01, escrow_timeout=0.2), stack=False, auto_hold=False,
                    unit_escrow_timeout=0.3)
    emu.insert(100)
    events.wait_for(Returned)
    wait_until(lambda: emu.status()["enabled"], what="re-enabled after the unit disabled itself")
    assert not events.of(Stacked) and not events.of(Uncertain)


def test_inhibited_channel_is_rejected_with_the_last_reject_code(pair, events):
    emu, drv = pair(enable=False)
    drv.enable([100 * RUB])
    wait_until(lambda: emu.status()["inhibits"] == 0b100 and emu.status()["enabled"])
    assert emu.insert(50) == "ok accepting 50 RUB"
    assert events.wait_for(Rejected)[0].reason == "channel inhibited"
    wait_until(lambda: emu.status()["note"] == "none")
    assert emu.counterfeit() == "ok accepting 100 RUB"
    assert events.wait_for(Rejected, count=2)[1].reason == "coastline fail"
    wait_until(lambda: emu.status()["note"] == "none")
    assert emu.insert(100) == "ok accepting 100 RUB"
    assert events.wait_for(Stacked)[0].bill.value == 100 * RUB


def test_lost_reply_is_resent_with_the_same_flag_and_answered_without_a_second_execution(pair, events):
    emu, drv = pair()
    into = emu._into_cassette

    def and_corrupt():
        emu.wire.corrupt_next = True  # the reply carrying the credit is garbled on the wire
        return into()
    emu._into_cassette = and_corrupt
    emu.insert(200)
    events.wait_for(Stacked)
    time.sleep(0.2)
    assert len(events.of(Stacked)) == 1 and emu.cassette.count == 1 and drv.status().extra["bad_crc"] >= 1
    assert emu.status()["repeated"] >= 1


@pytest.mark.parametrize("step", [1, 2])
def test_both_ecount_readings_work_when_both_ends_agree(pair, events, step):
    emu, drv = pair(EsspEmulator(step_seconds=0.01, ecount_step=step), ecount_step=step)
    emu.insert(100)
    events.wait_for(Stacked)
    assert emu.status()["refused"] == 0 and not events.of(Disconnected)


def test_mismatched_ecount_is_refused_by_the_unit_and_the_start_fails(make_pair):
    emu, drv = make_pair(EsspEmulator(step_seconds=0.01, ecount_step=2), EsspValidator, start_driver=False,
                         ecount_step=1)
    with pytest.raises(DeviceInitializationError):
        drv.start()
    assert emu.status()["refused"] >= 1


def test_replayed_command_is_refused_and_not_executed(pair, events, wire):
    emu, drv = pair()
    replay = next(p for way, p in reversed(wire) if way == "rx" and p.data[0] == ef.STEX)
    with emu.lock:
        before = emu.status()
        emu.receive(ef.encode(replay.data, not emu._last_seq))  # the same encrypted bytes, as a new command
        after = emu.status()
    assert after["refused"] == before["refused"] + 1 and after["ecount"] == before["ecount"]


def test_unencrypted_command_gets_key_not_set(pair):
    emu, drv = pair()
    with emu.lock:
        (reply,) = emu.receive(ef.encode(bytes((ef.ENABLE,)), not emu._last_seq))
    assert ef.PacketParser().feed(reply)[0].data == bytes((ef.KEY_NOT_SET,))


def test_plain_ssp_when_the_unit_does_not_require_encryption(pair, events, wire):
    emu, drv = pair(EsspEmulator(step_seconds=0.01, require_encryption=False), encrypted=False)
    emu.insert(100)
    events.wait_for(Stacked)
    assert all(p.data[0] != ef.STEX for _way, p in wire) and not drv.status().extra["encrypted"]


def test_wrong_fixed_key_never_gets_past_the_key_exchange(make_pair):
    emu, drv = make_pair(EsspEmulator(step_seconds=0.01), EsspValidator, start_driver=False,
                         fixed_key="1111111111111111")
    with pytest.raises(DeviceInitializationError):
        drv.start()


def test_unacknowledged_credit_at_startup_is_uncertain_not_credited(make_pair, events):
    emu = EsspEmulator(step_seconds=0.01)
    emu.cassette.add(100 * RUB)
    emu._batch = bytes((0xEE, 3, 0xCC, 0xEB))  # an earlier host was handed these and died before EVENT ACK
    make_pair(emu, EsspValidator)
    (uncertain,) = events.wait_for(Uncertain)
    assert "before this driver started" in uncertain.detail and uncertain.bill.value == 100 * RUB
    assert uncertain.stacked  # the unit says the note is secured: a pending STACK in the journal is credited
    assert not events.of(Stacked)
    wait_until(lambda: emu._batch is None, what="the old batch acknowledged")


def test_power_cycle_while_stacking_is_uncertain_and_the_driver_recovers(pair, events):
    emu, drv = pair(stack=False)
    emu.insert(100)
    events.wait_for(Escrow)
    emu.step_seconds = 5.0
    drv.stack()
    wait_until(lambda: emu.status()["note"] == "stacking")
    emu.power_cycle()
    emu.step_seconds = 0.01
    (uncertain,) = events.wait_for(Uncertain)
    assert "cashbox at power-up" in uncertain.detail and uncertain.bill.value == 100 * RUB and uncertain.stacked
    events.wait_for(Ready, count=2)
    wait_until(lambda: emu.status()["enabled"] and emu.status()["encrypted"], what="keys and enable restored")
    assert not events.of(Stacked) and emu.cassette.count == 1
    events.on_escrow = lambda _e: drv.stack()
    emu.insert(50)
    assert events.wait_for(Stacked)[0].bill.value == 50 * RUB


def test_power_cycle_with_note_in_escrow_returns_it(pair, events):
    emu, drv = pair(stack=False)
    emu.insert(100)
    events.wait_for(Escrow)
    emu.power_cycle()
    assert events.wait_for(Returned)[0].bill.value == 100 * RUB
    events.wait_for(Ready, count=2)
    assert emu.cassette.count == 0 and not events.of(Uncertain)


def test_cassette_events_fraud_and_full(pair, events, scratch):
    emu, drv = pair(EsspEmulator(step_seconds=0.01, cassette=Cassette(1, scratch / "c.json")))
    emu.cassette_out()
    events.wait_for(CassetteRemoved)
    emu.cassette_in()
    events.wait_for(CassetteInserted)
    emu.fraud()
    events.wait_for(Cheated)
    emu.insert(100)
    events.wait_for(Stacked)
    events.wait_for(CassetteFull)


@pytest.mark.parametrize(("stage", "where"), [("escrow", "validator"), ("stacking", "cassette")])
def test_jam_with_a_note_inside_is_uncertain(pair, events, stage, where):
    emu, drv = pair(stack=False)
    emu.insert(100)
    events.wait_for(Escrow)
    if stage == "stacking":
        emu.step_seconds = 5.0
        drv.stack()
        wait_until(lambda: emu.status()["note"] == "stacking")
    emu.jam()
    if stage == "escrow":
        drv.return_bill()  # until the host decides, the driver holds instead of polling (a poll would accept)
    assert events.wait_for(Jammed)[0].where == where
    assert events.wait_for(Uncertain)[0].bill.value == 100 * RUB and not events.of(Stacked)


def test_silent_device_disconnects_then_recovers_with_a_new_key(pair, events):
    emu, drv = pair()
    emu.wire.silent = True
    events.wait_for(Disconnected, timeout=3)
    emu.wire.silent = False
    events.wait_for(Ready, count=2)
    wait_until(lambda: emu.status()["enabled"], what="acceptance restored")
    emu.insert(100)
    events.wait_for(Stacked)


def test_silent_unit_fails_fast_with_clear_message(make_pair):
    emu = EsspEmulator()
    emu.wire.silent = True
    emu, drv = make_pair(emu, EsspValidator, start_driver=False)
    with pytest.raises(DeviceInitializationError, match="no SSP answer"):
        drv.start()


def test_bad_options_are_rejected(events):
    with pytest.raises(DeviceInitializationError, match="fixed_key"):
        EsspValidator(events, "/dev/null", fixed_key="xyz")
    with pytest.raises(DeviceInitializationError, match="ecount_step"):
        EsspValidator(events, "/dev/null", ecount_step=3)


def test_setup_request_before_protocol_6_uses_one_byte_values_times_the_real_multiplier():
    n = 2
    data = b"\x00" + b"0420" + b"RUB" + (1).to_bytes(3, "big") + bytes((n, 10, 50)) + bytes((2, 2)) + \
        (100).to_bytes(3, "big") + bytes((4,))
    bills, firmware, protocol = parse_setup(data)
    assert protocol == 4 and firmware == "0420"
    assert {ch: b.value for ch, b in bills.items()} == {1: 10 * RUB, 2: 50 * RUB}


def test_channel_values_command_answers_one_byte_values_and_the_setup_request_the_full_ones():
    emu = EsspEmulator(require_encryption=False)  # not started: the device logic alone, answering bytes
    try:
        emu._protocol = 6
        (reply,) = emu.receive(ef.encode(bytes((ef.CHANNEL_VALUES,)), False))
        data = ef.PacketParser().feed(reply)[0].data
        assert data == bytes((ef.OK, 8, 10, 50, 100, 200, 0, 0, 0, 0))  # 500 ₽ and up do not fit in one byte
        (reply,) = emu.receive(ef.encode(bytes((ef.SETUP_REQUEST,)), True))
        bills, _firmware, protocol = parse_setup(ef.PacketParser().feed(reply)[0].data[1:])
        assert protocol == 6 and bills[8].value == 5000 * RUB and bills[1].value == 10 * RUB
    finally:
        emu.stop()
