"""The journal against restores, deleted files, full disks and damaged high-water marks."""

import os
import shutil
import sqlite3
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from kiosk.clock import ManualClock
from kiosk.errors import JournalError
from kiosk.offline_queue.files import HighWater
from kiosk.offline_queue.journal import Journal

TZ = ZoneInfo("Europe/Moscow")


def open_op(journal, account="9123456789"):
    return journal.open_operation("mts", account, {"account": account}, max_cash=1_500_000)


def journal_at(folder, clock=None):
    return Journal(folder / "journal.sqlite", "10001", "RUB", (clock or ManualClock(TZ)).now)


def kinds(journal):
    return [i["kind"] for i in journal.incidents()]


def copy_state(source, target):
    """A backup of the whole state folder (journal, its WAL and the high-water mark), as a copy tool takes it."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)


def test_a_restored_whole_state_never_repeats_an_id_a_processing_system_saw(tmp_path):
    state, backup = tmp_path / "state", tmp_path / "backup"
    state.mkdir()
    journal = journal_at(state)
    open_op(journal)
    journal.close()
    copy_state(state, backup)
    journal = journal_at(state)
    after_backup = open_op(journal)
    journal.close()
    shutil.rmtree(state)
    copy_state(backup, state)  # journal *and* high-water mark come back: nothing on disk remembers operation 2
    journal = journal_at(state)
    again = open_op(journal)
    journal.close()
    # The number people read may repeat (nothing left could tell), the ids sent to processing systems never do,
    # and the two payments stay distinguishable.
    assert again.operation == after_backup.operation == 2
    assert again.idempotency_key != after_backup.idempotency_key
    assert again.request_ids() != after_backup.request_ids()


def test_a_journal_older_than_its_high_water_mark_is_reported_as_restored_and_numbering_jumps(tmp_path):
    journal = journal_at(tmp_path)
    open_op(journal)
    journal.close()
    shutil.copy(tmp_path / "journal.sqlite", tmp_path / "old.sqlite")
    journal = journal_at(tmp_path)
    open_op(journal), open_op(journal)
    journal.close()
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"journal.sqlite{suffix}").unlink(missing_ok=True)
    shutil.copy(tmp_path / "old.sqlite", tmp_path / "journal.sqlite")
    journal = journal_at(tmp_path)
    assert "restore_detected" in kinds(journal)
    assert open_op(journal).operation == 4
    journal.close()
    journal = journal_at(tmp_path)  # the jump is remembered: no second alarm on the next start
    assert kinds(journal).count("restore_detected") == 1
    journal.close()


def test_evidence_from_elsewhere_jumps_numbering_ahead(tmp_path):
    journal = journal_at(tmp_path)
    open_op(journal)
    floor = journal.restore_detected("the validator counted 5 bills the journal does not have")
    assert floor > 1 and open_op(journal).operation == floor + 1
    journal.close()


def test_a_number_lost_to_a_full_disk_is_not_called_a_restore(tmp_path, monkeypatch, caplog):
    journal = journal_at(tmp_path)
    open_op(journal)

    def disk_full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(journal, "_tx", disk_full)
    with pytest.raises(sqlite3.OperationalError):
        open_op(journal)
    monkeypatch.undo()
    journal.close()
    caplog.clear()
    journal = journal_at(tmp_path)
    assert "restore_detected" not in kinds(journal)
    assert "looks restored" not in caplog.text and "restored" not in caplog.text
    assert open_op(journal).operation == 3
    journal.close()


def test_a_garbage_high_water_mark_is_an_error_naming_the_file(tmp_path):
    (tmp_path / "journal.sqlite.opseq").write_text("twelve\n")
    with pytest.raises(JournalError, match=r"journal\.sqlite\.opseq.*expected the highest operation number"):
        journal_at(tmp_path)


def test_the_old_single_number_high_water_mark_is_still_read(tmp_path):
    (tmp_path / "journal.sqlite.opseq").write_text("41")
    assert HighWater.read(tmp_path / "journal.sqlite.opseq") == HighWater(41, 41)


@pytest.mark.parametrize("damage", ["deleted", "zero_length"])
def test_a_lost_journal_refuses_money_until_a_person_accepts_it(tmp_path, damage):
    journal = journal_at(tmp_path)
    for _ in range(3):
        open_op(journal)
    journal.close()
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"journal.sqlite{suffix}").unlink(missing_ok=True)
    if damage == "deleted":
        (tmp_path / "journal.sqlite").unlink()
    else:
        (tmp_path / "journal.sqlite").write_bytes(b"")
    journal = journal_at(tmp_path)
    assert "history is gone" in journal.refusal()
    assert "journal_lost" in kinds(journal)
    with pytest.raises(JournalError, match="not taking money"):
        open_op(journal)
    journal.close()
    journal = journal_at(tmp_path)  # a restart does not forget the refusal
    assert journal.refusal() is not None
    assert "history is gone" in journal.accept_new("service engineer")
    assert journal.refusal() is None and "journal_accepted" in kinds(journal)
    assert open_op(journal).operation == 4  # numbering continues past the lost history
    journal.close()


def test_a_brand_new_terminal_takes_money_at_once(tmp_path):
    journal = journal_at(tmp_path)
    assert journal.refusal() is None
    assert open_op(journal).operation == 1
    journal.close()


def test_a_clock_behind_the_journal_is_an_incident(tmp_path):
    clock = ManualClock(TZ)
    journal = journal_at(tmp_path, clock)
    open_op(journal)
    journal.close()
    behind = ManualClock(TZ, clock.now() - timedelta(days=1))  # someone set the clock a day back
    journal = journal_at(tmp_path, behind)
    assert "clock_behind" in kinds(journal)
    journal.close()


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file modes")
def test_a_read_only_shm_left_by_support_does_not_break_start_up(tmp_path):
    journal = journal_at(tmp_path)
    open_op(journal)
    journal.close()
    shm = tmp_path / "journal.sqlite-shm"
    shm.write_bytes(b"")
    shm.chmod(0o444)
    journal = journal_at(tmp_path)
    assert open_op(journal).operation == 2
    journal.close()
