"""The journal: durability settings, operation numbers, exactly-once bills, refusing what it cannot trust."""

import shutil
import sqlite3
from zoneinfo import ZoneInfo

import pytest

from kiosk.clock import ManualClock
from kiosk.errors import JournalError, SchemaTooNewError
from kiosk.fees import NoFee, PercentFee
from kiosk.money import Money
from kiosk.offline_queue.journal import Journal, idempotency_key, txn_id
from kiosk.offline_queue.operation import session_id
from kiosk.offline_queue.schema import SCHEMA_VERSION

TZ = ZoneInfo("Europe/Moscow")


@pytest.fixture
def journal(tmp_path):
    j = Journal(tmp_path / "journal.sqlite", "10001", "RUB", ManualClock(TZ).now)
    yield j
    j.close()


def open_op(journal, provider="mts", account="9123456789"):
    return journal.open_operation(provider, account, {"account": account}, max_cash=1_500_000)


def test_durability_settings(journal):
    assert journal.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert journal.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert journal.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_operation_carries_stable_keys_and_aware_times(journal):
    op = open_op(journal)
    assert op.operation == 1 and op.state == "collecting"
    # the human pair (terminal 10001, operation 1) plus the journaled nonce that makes the ids unrepeatable
    assert 0 <= op.nonce < 10**6
    assert op.idempotency_key == idempotency_key("10001", 1, op.nonce) == f"T10001-0000000001-{op.nonce:06d}"
    assert txn_id("10001", 1, 42) == 1000100004200000001
    assert len(str(txn_id("1234567890", 99_999_999, 999_999))) == 20  # the OSMP limit, whatever the terminal
    assert len(session_id("1234567", 2_000_000_000, 999_999)) <= 20  # the CyberPlat SESSION limit
    assert idempotency_key("10001", 1) == "T10001-0000000001" and txn_id("10001", 1) == 100010000000001  # legacy
    assert op.created_at.endswith("+03:00")


def test_a_stacked_bill_is_credited_once_per_device_event(journal):
    op = open_op(journal)
    assert journal.record_bill(op.operation, 10000, "ccnet", "evt-1")
    assert not journal.record_bill(op.operation, 10000, "ccnet", "evt-1")  # the device repeated itself
    assert journal.record_bill(op.operation, 5000, "ccnet", "evt-2")
    assert journal.get(op.operation).cash == 15000
    assert journal.bills(op.operation) == [10000, 5000]


@pytest.mark.parametrize("bad", [0, -100, 10.5, "100", True])
def test_absurd_denominations_are_refused(journal, bad):
    op = open_op(journal)
    with pytest.raises(JournalError, match="positive number of kopecks"):
        journal.record_bill(op.operation, bad, "ccnet", "x")
    assert journal.get(op.operation).cash == 0


def test_commit_fixes_fee_and_refuses_a_split_that_does_not_add_up(journal):
    op = open_op(journal)
    journal.record_bill(op.operation, 100000, "ccnet", "a")
    with pytest.raises(JournalError, match="does not match"):
        journal.commit(op.operation, NoFee().split(Money(90000)), "pay")
    committed = journal.commit(op.operation, PercentFee(15000).split(Money(100000)), "pay")
    assert (committed.state, committed.fee, committed.credited) == ("committed", 1500, 98500)
    with pytest.raises(JournalError, match="not collecting"):
        journal.record_bill(op.operation, 1000, "ccnet", "late")


def test_money_is_never_cancelled(journal):
    op = open_op(journal)
    journal.record_bill(op.operation, 1000, "ccnet", "a")
    with pytest.raises(JournalError, match="money is never dropped"):
        journal.cancel(op.operation, "payer left")
    empty = open_op(journal)
    journal.cancel(empty.operation, "payer left")
    assert journal.get(empty.operation).state == "cancelled"


def test_numbers_are_never_reused_after_a_restore_of_an_older_file(tmp_path):
    path = tmp_path / "journal.sqlite"
    clock = ManualClock(TZ)
    journal = Journal(path, "10001", "RUB", clock.now)
    open_op(journal)
    journal.close()
    shutil.copy(path, tmp_path / "backup.sqlite")  # a backup taken after operation 1
    journal = Journal(path, "10001", "RUB", clock.now)
    assert [open_op(journal).operation for _ in range(3)] == [2, 3, 4]
    journal.close()
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"journal.sqlite{suffix}").unlink(missing_ok=True)
    shutil.copy(tmp_path / "backup.sqlite", path)  # the older file comes back
    journal = Journal(path, "10001", "RUB", clock.now)
    assert open_op(journal).operation == 5
    journal.close()


def test_a_journal_from_a_newer_kiosk_is_refused_untouched(tmp_path):
    path = tmp_path / "journal.sqlite"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(SchemaTooNewError, match=f"schema version {SCHEMA_VERSION + 1} was written by a newer"):
        Journal(path, "10001", "RUB", ManualClock(TZ).now)
    assert path.read_bytes() == before


def test_a_corrupt_journal_is_refused_with_its_name(tmp_path):
    path = tmp_path / "journal.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(JournalError, match="journal.sqlite: not a usable journal"):
        Journal(path, "10001", "RUB", ManualClock(TZ).now)


def test_a_journal_of_another_terminal_is_refused(tmp_path):
    path = tmp_path / "journal.sqlite"
    Journal(path, "10001", "RUB", ManualClock(TZ).now).close()
    with pytest.raises(JournalError, match="belongs to terminal 10001, configured as 20002"):
        Journal(path, "20002", "RUB", ManualClock(TZ).now)


def test_waiting_counts_committed_operations(journal):
    for _ in range(3):
        op = open_op(journal)
        journal.record_bill(op.operation, 5000, "v", f"e{op.operation}")
        journal.commit(op.operation, NoFee().split(Money(5000)), "pay")
    assert journal.waiting() == (3, 15000)


def test_encashment_counts_bills_since_the_previous_one_and_reports_differences(journal):
    op = open_op(journal)
    for index, value in enumerate([10000, 10000, 50000]):
        journal.record_bill(op.operation, value, "ccnet", f"b{index}")
    first = journal.encash("cassette removed")
    assert first["counts"] == {10000: 2, 50000: 1} and first["total"] == 70000 and first["bill_count"] == 3
    assert first["difference"] is None
    journal.record_bill(op.operation, 5000, "ccnet", "b3")
    second = journal.encash("service menu", cassette={5000: 1, 100000: 1})
    assert second["counts"] == {5000: 1}
    assert second["difference"] == {100000: 1}  # a bill in the cassette the journal never credited: reported
    assert journal.incidents()[0]["kind"] == "encashment_difference"
    assert journal.encash("empty")["bill_count"] == 0


def test_a_version_1_journal_is_migrated_in_place_keeping_its_money(tmp_path):
    from kiosk.offline_queue.schema import MIGRATIONS

    path = tmp_path / "journal.sqlite"
    conn = sqlite3.connect(path)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO meta VALUES ('terminal', '10001')")
    conn.execute("INSERT INTO operations (operation, terminal, idempotency_key, provider, account, currency, state, "
                 "cash, max_cash, created_at) VALUES (7, '10001', 'T10001-0000000007', 'mts', '9123456789', 'RUB', "
                 "'collecting', 5000, 100000, '2026-01-01T00:00:00+03:00')")
    conn.commit()
    conn.close()
    journal = Journal(path, "10001", "RUB", ManualClock(TZ).now)
    assert journal.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == len(MIGRATIONS)
    assert journal.get(7).cash == 5000
    # an operation opened before nonces existed keeps the ids its gateway already knows
    old = journal.get(7)
    assert old.nonce is None and old.idempotency_key == "T10001-0000000007"
    assert old.session is None and old.request_ids()[2] == "T10001N0000000007"  # v4: no SESSION minted yet
    journal.stack_commanded(7, 1000, "ccnet")  # the v2 table is there
    assert journal.open_operation("mts", "9123456789", {}, max_cash=1).operation == 8
    journal.close()


def test_a_commanded_stack_is_cleared_by_its_stacked_bill_or_by_a_return(journal):
    op = open_op(journal)
    journal.stack_commanded(op.operation, 10000, "ccnet")
    journal.record_bill(op.operation, 10000, "ccnet", "e1")
    journal.stack_commanded(op.operation, 5000, "ccnet")
    journal.stack_settled("ccnet")
    assert journal.take_pending_stacks() == []
