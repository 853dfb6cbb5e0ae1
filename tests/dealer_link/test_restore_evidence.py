"""The dealer service as restore evidence: it keeps the highest operation number a terminal ever reported, and a
terminal whose journal knows less was restored from an older copy, so its numbering jumps past what was seen."""

from __future__ import annotations

import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kiosk.app import Terminal
from kiosk.clock import ManualClock
from kiosk.dealer_link.status import jump_past_numbers_seen
from kiosk.offline_queue.journal import Journal

TZ = ZoneInfo("Europe/Moscow")


def _open_and_cancel(journal: Journal, count: int) -> int:
    number = 0
    for _ in range(count):
        number = journal.open_operation("mts", "9123456789", {"account": "9123456789"}, max_cash=100_000).operation
        journal.cancel(number, "test: payer walked away")
    return number


def _restores(journal: Journal) -> list[str]:
    return [i["detail"] for i in journal.incidents() if i["kind"] == "restore_detected"]


@pytest.fixture
def journal(tmp_path):
    j = Journal(tmp_path / "journal.sqlite", "10001", "RUB", ManualClock(TZ).now)
    yield j
    j.close()


def test_a_higher_number_seen_by_the_service_makes_numbering_jump_once(journal):
    _open_and_cancel(journal, 10)
    assert jump_past_numbers_seen(journal, {"highest_operation": 50}) == 50
    assert len(_restores(journal)) == 1 and "the dealer service saw operation 50" in _restores(journal)[0]
    assert "knows only up to 10" in _restores(journal)[0]
    # every later heartbeat returns the same number: nothing more happens
    assert jump_past_numbers_seen(journal, {"highest_operation": 50}) is None
    assert len(_restores(journal)) == 1
    assert _open_and_cancel(journal, 1) == 51


@pytest.mark.parametrize("reply", [{"highest_operation": 10}, {"highest_operation": 3}, {}, {"highest_operation": None},
                                   {"highest_operation": True}])
def test_a_number_the_journal_knows_or_no_number_is_no_evidence(journal, reply):
    _open_and_cancel(journal, 10)
    assert jump_past_numbers_seen(journal, reply) is None
    assert _restores(journal) == [] and _open_and_cancel(journal, 1) == 11


def _journal_files(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + "*"))  # the journal, its WAL and its high-water mark


@pytest.mark.slow
def test_a_restored_terminal_learns_from_its_dealer_service_and_numbers_past_it(config, tmp_path, wait):
    from provisioning.demo import DemoDealer

    backup = tmp_path / "backup"
    backup.mkdir()
    setup = Terminal(config)  # the journal as the terminal opens it, not started (no heartbeat)
    try:
        _open_and_cancel(setup.journal, 10)
    finally:
        setup.close()
    for file in _journal_files(config.journal_path):
        shutil.copy2(file, backup / file.name)
    setup = Terminal(config)
    try:
        assert _open_and_cancel(setup.journal, 40) == 50
    finally:
        setup.close()

    dealer = DemoDealer(tmp_path / "dealer", config.terminal, "Test street 1",
                        identity_dir=config.journal_path.parent / "dealer-link", heartbeat=False).start()
    try:
        terminal = Terminal(config)
        terminal.start()
        try:  # the terminal reports operation 50; the service keeps it
            assert wait(lambda: terminal.dealer_link.sent >= 1), terminal.dealer_link.last_error
            assert _restores(terminal.journal) == []
        finally:
            terminal.close()
        # the whole journal state restored from the older backup (journal and high-water mark together)
        for file in _journal_files(config.journal_path):
            file.unlink()
        for file in backup.iterdir():
            shutil.copy2(file, config.journal_path.parent / file.name)

        terminal = Terminal(config)
        # nothing on the terminal itself tells it: journal and high-water mark agree
        assert terminal.journal.last_number() == 10 and _restores(terminal.journal) == []
        terminal.start()
        try:
            assert wait(lambda: _restores(terminal.journal) != []), terminal.dealer_link.last_error
            assert "the dealer service saw operation 50" in _restores(terminal.journal)[0]
            assert terminal.dealer_link.beat()  # the next heartbeat: the same number again, no second incident
            assert len(_restores(terminal.journal)) == 1
            assert _open_and_cancel(terminal.journal, 1) > 50
        finally:
            terminal.close()
    finally:
        dealer.close()
