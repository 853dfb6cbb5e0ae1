"""A kiosk restarting after a crash asks the bill validator what became of its last bill, and settles the STACK
the crash left pending with the answer: credited exactly once, listed as uncertain only when the device
cannot tell. The real terminal, journal and CCNET driver, against the emulator on a pseudo-terminal."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from validator_support import FAST

from kiosk.app import Terminal
from kiosk.clock import ManualClock
from kiosk.config import Config, Part
from kiosk.emulators.ccnet import CcnetEmulator
from kiosk.offline_queue.journal import Journal

RUB = 100
HUNDRED_TYPE = 4  # the emulator's bill type for 100 ₽


@pytest.fixture
def emulator(no_leaks: None) -> Iterator[CcnetEmulator]:
    """A CCNET emulator, stopped afterwards."""
    emu = CcnetEmulator(step_seconds=0.3)
    yield emu
    emu.stop()


def _crashed_journal(config: Config, pending_stack: bool) -> int:
    """A journal as a crash left it: an operation collecting, and maybe a STACK sent and never answered."""
    journal = Journal(config.journal_path, config.terminal, config.currency, ManualClock(config.timezone).now)
    try:
        op = journal.open_operation("mts", "9123456789", {}, max_cash=1_500_000).operation
        if pending_stack:
            journal.stack_commanded(op, 100 * RUB, "ccnet")
        return op
    finally:
        journal.close()


def _restart(config: Config, emu: CcnetEmulator) -> tuple[Terminal, list[str]]:
    emu.start()
    options = {k: v for k, v in FAST.items() if k != "silence_timeout"}
    config = replace(config, validator=Part("validator", "ccnet", {"port": emu.path, **options}))
    terminal = Terminal(config, clock=ManualClock(config.timezone), background_checks=False)
    terminal.start(background_outbox=False)
    return terminal, [i["kind"] for i in terminal.journal.incidents()]


def _device_stacked(emu: CcnetEmulator, phase: str) -> None:
    emu._go(phase, keep_bill=True)
    emu._bill, emu._reported = HUNDRED_TYPE, True
    if phase == "stacked":
        emu.cassette.add(100 * RUB)


def test_a_bill_stacked_but_never_journaled_is_credited_to_its_operation(config: Config,
                                                                        emulator: CcnetEmulator) -> None:
    op = _crashed_journal(config, pending_stack=True)
    _device_stacked(emulator, "stacked")
    terminal, incidents = _restart(config, emulator)
    try:
        assert terminal.journal.get(op).cash == 100 * RUB
        assert "uncertain_bill" not in incidents and "recovered_bill" in incidents
    finally:
        terminal.close()


def test_a_bill_journaled_before_the_crash_is_not_credited_again(config: Config, emulator: CcnetEmulator) -> None:
    op = _crashed_journal(config, pending_stack=False)  # record_bill cleared the pending STACK
    _device_stacked(emulator, "stacked")
    terminal, incidents = _restart(config, emulator)
    try:
        assert terminal.journal.get(op).cash == 0
        assert "recovered_bill" not in incidents and "late_bill" not in incidents
    finally:
        terminal.close()


def test_a_bill_still_stacking_at_restart_is_credited_once_it_lands(config: Config, emulator: CcnetEmulator) -> None:
    op = _crashed_journal(config, pending_stack=True)
    _device_stacked(emulator, "stacking")
    terminal, incidents = _restart(config, emulator)
    try:
        assert emulator.cassette.count == 1
        assert terminal.journal.get(op).cash == 100 * RUB and "uncertain_bill" not in incidents
    finally:
        terminal.close()


def test_a_stack_the_device_cannot_account_for_stays_uncertain(config: Config, emulator: CcnetEmulator) -> None:
    op = _crashed_journal(config, pending_stack=True)  # the device is idle: the report, if any, is gone
    terminal, incidents = _restart(config, emulator)
    try:
        assert terminal.journal.get(op).cash == 0
        assert incidents.count("uncertain_bill") == 1
    finally:
        terminal.close()
