"""Kill -9 during fiscal receipts (the real driver, the emulated registrar outliving the killed terminal): never
two fiscal documents for one payment, never one the journal does not know, every payment with money gets one."""

from __future__ import annotations

import json
import sqlite3

import pytest

from kiosk.emulators.fiscal_kill_trials import check_fiscal, run_fiscal_trials


@pytest.mark.slow
def test_kills_around_the_signing_leave_one_fiscal_receipt_per_payment(tmp_path):
    report = run_fiscal_trials(tmp_path, kills=6, seed=7)  # seed 7 aims most kills at FF45, the fifth at a shift
    assert report.problems == []
    assert report.kills == 6 and report.signing_kills >= 3
    assert {"41", "E0"} & {command for command, _ in report.points}  # a shift document was interrupted too
    assert report.operations > 0 and report.receipts == report.operations


def drive_and_journal(tmp_path, documents: dict, rows: str) -> sqlite3.Connection:
    """A drive's state file with these documents, and a journal of the tables check_fiscal reads, with rows."""
    state = {"fn_number": "9999078902004321", "last_fd": len(documents), "documents": documents}
    (tmp_path / "fn.json").write_text(json.dumps(state), encoding="utf-8")
    conn = sqlite3.connect(tmp_path / "journal.sqlite")
    conn.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
        CREATE TABLE operations (operation INTEGER, cash INTEGER, state TEXT);
        CREATE TABLE fiscal_documents (operation INTEGER, kind TEXT, state TEXT, fd INTEGER, fp INTEGER, total INTEGER);
    """ + rows)
    conn.commit()
    return conn


def test_the_check_finds_a_doubled_and_a_lost_receipt(tmp_path):
    """The invariant check itself: a drive and a journal that disagree are reported."""
    conn = drive_and_journal(tmp_path, {
        "1": {"fd": 1, "kind": "receipt", "fp": 11, "total": 500},
        "2": {"fd": 2, "kind": "receipt", "fp": 12, "total": 500},
        "3": {"fd": 3, "kind": "receipt", "fp": 13, "total": 500}}, """
        INSERT INTO operations VALUES (1, 500, 'delivered'), (2, 500, 'delivered');
        INSERT INTO fiscal_documents VALUES (1, 'receipt', 'done', 1, 11, 500), (1, 'receipt', 'done', 2, 12, 500),
                                            (2, 'receipt', 'intent', NULL, NULL, 500);
    """)
    conn.close()
    problems = check_fiscal(tmp_path, tmp_path / "fn.json")
    assert any("FD 3 that the journal does not know" in p for p in problems)
    assert any("operation 1 has 2 fiscal receipts" in p for p in problems)
    assert any("operation 2 took money but has no fiscal receipt" in p for p in problems)
    assert any("intent is still unresolved" in p for p in problems)


@pytest.mark.slow
def test_kills_with_the_registrar_in_a_process_of_its_own(tmp_path):
    """As in the demo: `kiosk emulate fiscal` runs apart; it kills the terminal mid-receipt (its `kill-host`
    switch), the terminal restarts, and each payment still has exactly one fiscal receipt."""
    report = run_fiscal_trials(tmp_path, kills=4, seed=7, separate=True)
    assert report.problems == []
    assert report.kills == 4 and report.signing_kills >= 1
    assert report.operations > 0 and report.receipts == report.operations


def test_the_check_tells_a_refund_receipt_from_a_sale(tmp_path):
    """A refund (1054 = 2) journaled as such matches the drive; journaled against a sale document it does not."""
    conn = drive_and_journal(tmp_path, {
        "1": {"fd": 1, "kind": "receipt", "fp": 11, "total": 500, "kind_1054": 1},
        "2": {"fd": 2, "kind": "receipt", "fp": 12, "total": 500, "kind_1054": 2}}, """
        INSERT INTO operations VALUES (1, 500, 'refunded');
        INSERT INTO fiscal_documents VALUES (1, 'receipt', 'done', 1, 11, 500), (1, 'refund', 'done', 2, 12, 500);
    """)
    problems = [p for p in check_fiscal(tmp_path, tmp_path / "fn.json") if not p.startswith("fiscal drive:")]
    assert problems == []
    conn.execute("UPDATE fiscal_documents SET kind='refund' WHERE fd=1")
    conn.execute("UPDATE fiscal_documents SET kind='receipt' WHERE fd=2")
    conn.commit()
    conn.close()
    problems = check_fiscal(tmp_path, tmp_path / "fn.json")
    assert any("FD 1: the journal says refund" in p for p in problems)
    assert any("FD 2: the journal says receipt" in p for p in problems)
