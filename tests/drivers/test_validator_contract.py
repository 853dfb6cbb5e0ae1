"""One contract, every bill validator: the same tests run against each driver, as python-can runs one
back-to-back suite against every bus.

The serial drivers run against their emulators over a real pseudo-terminal (real framing, checksums and
timing); the virtual driver is its own device. To add a validator, write a `_rig_<name>` factory below and
add it to RIGS: every test here then runs against it too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from validator_support import FAST, Events, wait_until

from kiosk.drivers.ccnet import CcnetValidator
from kiosk.drivers.cctalk import CctalkValidator
from kiosk.drivers.essp import EsspValidator
from kiosk.drivers.id003 import Id003Validator
from kiosk.drivers.validator import (
    BillValidator,
    CassetteInserted,
    CassetteRemoved,
    Escrow,
    Ready,
    Returned,
    Stacked,
)
from kiosk.drivers.virtual import VirtualValidator
from kiosk.emulators.ccnet import CcnetEmulator
from kiosk.emulators.cctalk import CctalkEmulator
from kiosk.emulators.essp import EsspEmulator
from kiosk.emulators.id003 import Id003Emulator

RUB = 100
QUIET = 0.3  # seconds to wait for something that must not happen (several poll cycles at FAST settings)


@dataclass
class Rig:
    """A validator under test and the hands that work its device."""

    driver: BillValidator
    insert: Callable[[int], object]  # a payer pushes a banknote of so many roubles in
    cassette_out: Callable[[], object]
    cassette_in: Callable[[], object]
    accepting: Callable[[], bool]  # the device itself has taken the host's last enable()/disable()
    stop_device: Callable[[], None]


def _rig_ccnet(events: Events, scratch: Path) -> Rig:
    emu = CcnetEmulator(step_seconds=0.01).start()
    driver = CcnetValidator(events, emu.path, **FAST)
    return Rig(driver, emu.insert, emu.cassette_out, emu.cassette_in,
               lambda: emu.status()["phase"] == "idling", emu.stop)


def _rig_cctalk(events: Events, scratch: Path) -> Rig:
    emu = CctalkEmulator(step_seconds=0.01).start()
    driver = CctalkValidator(events, emu.path, **FAST)
    return Rig(driver, emu.insert, emu.cassette_out, emu.cassette_in, lambda: emu.status()["master"] == 1, emu.stop)


def _rig_virtual(events: Events, scratch: Path) -> Rig:
    driver = VirtualValidator(events, cassette=scratch / "cassette.sqlite")
    return Rig(driver, lambda roubles: driver.insert(roubles * RUB), driver.remove_cassette, driver.insert_cassette,
               lambda: bool(driver.status().enabled), lambda: None)


def _rig_id003(events: Events, scratch: Path) -> Rig:
    emu = Id003Emulator(step_seconds=0.01).start()
    driver = Id003Validator(events, emu.path, **FAST)
    return Rig(driver, emu.insert, emu.cassette_out, emu.cassette_in,
               lambda: emu.status()["phase"] == "idling", emu.stop)


def _rig_essp(events: Events, scratch: Path) -> Rig:
    emu = EsspEmulator(step_seconds=0.01).start()
    driver = EsspValidator(events, emu.path, **FAST)
    return Rig(driver, emu.insert, emu.cassette_out, emu.cassette_in,
               lambda: emu.status()["enabled"] and emu.status()["note"] == "none", emu.stop)


RIGS: dict[str, Callable[[Events, Path], Rig]] = {"ccnet": _rig_ccnet, "cctalk": _rig_cctalk, "virtual": _rig_virtual,
                                                  "id003": _rig_id003, "essp": _rig_essp}


@pytest.fixture(params=sorted(RIGS))
def rig(request: pytest.FixtureRequest, events: Events, scratch: Path) -> Iterator[Rig]:
    """A started validator of each kind; it and its device are stopped after the test."""
    made = RIGS[request.param](events, scratch)
    try:
        made.driver.start()
        yield made
    finally:
        made.driver.stop()
        made.stop_device()


def _accept_all(rig: Rig) -> None:
    rig.driver.enable(b.value for b in rig.driver.bill_table())
    wait_until(rig.accepting, what="the device accepts bills")


def _stack_every_escrow(rig: Rig, events: Events) -> None:
    events.on_escrow = lambda _e: rig.driver.stack()  # from inside the callback, as a host may


def test_start_reports_ready_identity_and_a_bill_table_in_kopecks(rig: Rig, events: Events) -> None:
    events.wait_for(Ready)
    status = rig.driver.status()
    assert status.online and not status.enabled
    assert rig.driver.identity().protocol == rig.driver.protocol
    assert {10 * RUB, 100 * RUB, 5000 * RUB} <= {b.value for b in rig.driver.bill_table()}


def test_a_stacked_bill_is_credited_once_after_its_escrow(rig: Rig, events: Events) -> None:
    _stack_every_escrow(rig, events)
    _accept_all(rig)
    rig.insert(500)
    (stacked,) = events.wait_for(Stacked)
    (escrow,) = events.of(Escrow)
    assert escrow.bill.value == stacked.bill.value == 500 * RUB
    assert events.items.index(escrow) < events.items.index(stacked)
    assert stacked.event_id
    time.sleep(QUIET)
    assert len(events.of(Stacked)) == 1


def test_two_bills_are_two_credits_with_distinct_event_ids(rig: Rig, events: Events) -> None:
    _stack_every_escrow(rig, events)
    _accept_all(rig)
    rig.insert(100)
    events.wait_for(Stacked)
    wait_until(rig.accepting, what="the device is idle again")
    rig.insert(1000)
    first, second = events.wait_for(Stacked, count=2)
    assert [first.bill.value, second.bill.value] == [100 * RUB, 1000 * RUB]
    assert first.event_id != second.event_id


def test_a_returned_bill_is_never_credited(rig: Rig, events: Events) -> None:
    events.on_escrow = lambda _e: rig.driver.return_bill()
    _accept_all(rig)
    rig.insert(200)
    (returned,) = events.wait_for(Returned)
    assert returned.bill is not None and returned.bill.value == 200 * RUB
    time.sleep(QUIET)
    assert events.of(Stacked) == []


def test_hold_keeps_the_bill_until_the_host_decides(rig: Rig, events: Events) -> None:
    _accept_all(rig)
    rig.insert(50)
    events.wait_for(Escrow)
    rig.driver.hold()
    time.sleep(QUIET)
    assert events.of(Stacked) == [] and events.of(Returned) == []
    rig.driver.stack()
    (stacked,) = events.wait_for(Stacked)
    assert stacked.bill.value == 50 * RUB


def test_a_disabled_validator_takes_no_bill(rig: Rig, events: Events) -> None:
    _stack_every_escrow(rig, events)
    rig.driver.enable([100 * RUB])
    wait_until(rig.accepting, what="the device accepts bills")
    rig.driver.disable()
    wait_until(lambda: not rig.accepting(), what="the device refuses bills")
    assert not rig.driver.status().enabled
    rig.insert(100)
    time.sleep(QUIET)
    assert events.of(Escrow) == [] and events.of(Stacked) == []


def test_only_the_enabled_values_are_taken(rig: Rig, events: Events) -> None:
    _stack_every_escrow(rig, events)
    rig.driver.enable([100 * RUB, 123 * RUB])  # 123 ₽ is in no bill table: ignored, not an error
    wait_until(rig.accepting, what="the device accepts bills")
    rig.insert(500)
    time.sleep(QUIET)
    assert events.of(Escrow) == []
    wait_until(rig.accepting, what="the device is idle again")
    rig.insert(100)
    (stacked,) = events.wait_for(Stacked)
    assert stacked.bill.value == 100 * RUB


def test_enabling_only_unknown_values_accepts_nothing(rig: Rig) -> None:
    rig.driver.enable([123 * RUB])
    assert not rig.driver.status().enabled


def test_cassette_removal_and_return_are_reported_in_order(rig: Rig, events: Events) -> None:
    _accept_all(rig)
    rig.cassette_out()
    events.wait_for(CassetteRemoved)
    rig.cassette_in()
    events.wait_for(CassetteInserted)
    kinds = [type(e) for e in events.items if isinstance(e, (CassetteRemoved, CassetteInserted))]
    assert kinds == [CassetteRemoved, CassetteInserted]


def test_stop_is_idempotent_and_leaves_the_validator_offline(rig: Rig) -> None:
    rig.driver.stop()
    rig.driver.stop()
    rig.driver.close()
    assert not rig.driver.status().online


def test_the_validator_is_a_context_manager(rig: Rig, events: Events) -> None:
    rig.driver.stop()
    with rig.driver as driver:
        assert driver is rig.driver and driver.status().online
        events.wait_for(Ready, count=2)
    assert not rig.driver.status().online
