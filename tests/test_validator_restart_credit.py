"""A kiosk that dies while an ID003 or eSSP bill travels to the cassette: at the next start the device's own
report (VEND VALID still waiting / a credit note never acknowledged) and the journal's pending STACK agree, so
the bill is credited to its payer instead of being listed as uncertain. Real driver, real bytes, real journal."""

import time
from dataclasses import replace

import pytest
from terminal_steps import act, to_cash

from kiosk.app import Terminal
from kiosk.config import Part
from kiosk.emulators.essp import EsspEmulator
from kiosk.emulators.id003 import Id003Emulator

EMULATORS = {"id003": Id003Emulator, "essp": EsspEmulator}


def _phase(emu) -> str:
    status = emu.status()
    return status["phase"] if "phase" in status else status["note"]


def _accepting(emu) -> bool:
    return _phase(emu) == "idling" if isinstance(emu, Id003Emulator) else emu.status()["enabled"]


def _wait(predicate, terminal=None, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        if terminal is not None:
            terminal.pump()
        time.sleep(0.01)


@pytest.mark.parametrize("protocol", sorted(EMULATORS))
def test_a_bill_stacked_while_the_kiosk_was_down_is_credited_on_the_devices_report(config, clock, protocol):
    emu = EMULATORS[protocol](step_seconds=0.01).start()
    config = replace(config, validator=Part("validator", protocol, {
        "port": emu.path, "poll_interval": 0.02, "response_timeout": 0.15, "hotplug": False}))
    try:
        terminal = Terminal(config, clock=clock, background_checks=False)
        terminal.start(background_outbox=False)
        try:
            number = to_cash(terminal)
            _wait(lambda: _accepting(emu))
            assert emu.insert(100) == "ok accepting 100 RUB"
            _wait(lambda: _phase(emu) == "escrow")
            emu.step_seconds = 3.0  # a slow transport: the kiosk dies while the bill is on its way
            _wait(lambda: terminal.journal.pending_stacks(), terminal)  # STACK is journaled, then sent
            _wait(lambda: _phase(emu) == "stacking")
        finally:
            terminal.close()  # as good as a crash for the bill: nothing the kiosk says now can change its fate
        emu.step_seconds = 0.01
        _wait(lambda: emu.cassette.count == 1)  # the device finishes on its own: the bill is in the cassette
        terminal = Terminal(config, clock=clock, background_checks=False)
        try:
            summary = terminal.start(background_outbox=False)
            act(terminal)
            op = terminal.journal.get(number)
            kinds = [i["kind"] for i in terminal.journal.incidents()]
            assert op.cash == 10000 and op.state in ("committed", "delivered")
            assert summary.uncertain_bills == [] and "uncertain_bill" not in kinds and "recovered_bill" in kinds
            assert terminal.journal.pending_stacks() == []
        finally:
            terminal.close()
    finally:
        emu.stop()
