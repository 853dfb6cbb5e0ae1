"""`kiosk journal …` as support uses it: which journal, human lookups, find, damaged files, pipes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from terminal_steps import act, to_cash

from kiosk import events as ev
from kiosk.app import Terminal
from kiosk.cli import main
from kiosk.offline_queue import reader as reader_module


@pytest.fixture
def paid(config, config_path, clock):
    """A terminal state folder with two delivered payments (150 RUB and 200 RUB to two mts accounts)."""
    terminal = Terminal(config, clock=clock, background_checks=False)
    terminal.start(background_outbox=False)
    try:
        for provider, account, bills in (("mts", "9123456789", (10000, 5000)), ("mts", "9031234567", (20000,))):
            to_cash(terminal, provider, account)
            for bill in bills:
                terminal.validator.insert(bill)
                act(terminal)
            act(terminal, ev.Pay())
            act(terminal, ev.ReceiptTaken())
    finally:
        terminal.close()
    return config_path


def run(capsys, *args):
    code = main(["journal", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_lookup_is_for_people_by_default_and_says_which_journal(paid, capsys, config):
    code, out, err = run(capsys, "lookup", "--operation", "1", "--config", str(paid))
    assert code == 0
    assert f"journal {config.journal_path} — terminal 10001" in err
    assert "Terminal 10001, operation 1" in out and "booked       booked" in out
    assert "150.00 RUB" in out and "100.00, 50.00" in out and "(mts)" in out
    assert "(UTC+03:00)" in out and "idempotency key T10001-0000000001-" in out and "OSMP txn_id" in out
    code, out, _ = run(capsys, "lookup", "--operation", "1", "--config", str(paid), "--format", "json")
    record = json.loads(out)
    assert record["cash"] == 15000 and record["booked"] == "booked" and isinstance(record["txn_id"], int)


def test_lookup_tells_the_story_in_russian_with_the_fee_rule_journaled_at_commit(paid, capsys):
    code, out, _ = run(capsys, "lookup", "1", "--config", str(paid), "--lang", "ru")
    assert code == 0
    assert "Терминал 10001, операция 1" in out and "состояние    delivered — доставлена поставщику" in out
    assert "купюра 100,00 руб. принята" in out and "купюры       100,00; 50,00" in out
    fee = next(line for line in out.splitlines() if "зафиксирована: внесено 150,00 руб., комиссия" in line)
    assert "по правилу" in fee and "к зачислению" in fee  # the rule's words as the terminal applied it
    code, out, _ = run(capsys, "lookup", "1", "--config", str(paid))
    assert "by the rule" in next(line for line in out.splitlines() if "committed: cash 150.00 RUB" in line)


def test_state_dir_reads_that_folders_journal(paid, capsys, config):
    code, out, err = run(capsys, "show", "--state-dir", str(config.journal_path.parent))
    assert code == 0 and str(config.journal_path) in err and "terminal 10001" in out
    assert "clock: " in out and "uncertain bills and owed cash: 0" in out


def test_a_receipt_from_another_terminal_is_not_answered_from_this_journal(paid, capsys):
    code, out, err = run(capsys, "lookup", "--operation", "1", "--config", str(paid), "--terminal", "10002")
    assert code == 2 and "belongs to terminal 10001, not 10002" in err and out == ""


def test_find_by_phone_amount_and_dates(paid, capsys):
    code, out, err = run(capsys, "find", "--config", str(paid), "--phone", "+7 (903) 123-45-67")
    assert code == 0 and "9031234567" in out and "9123456789" not in out and "1 operations found" in err
    _, out, _ = run(capsys, "find", "--config", str(paid), "--amount", "150")
    assert "9123456789" in out and "9031234567" not in out
    _, out, _ = run(capsys, "find", "--config", str(paid), "--from", "2026-01-15", "--to", "2026-01-15",
                    "--format", "json")
    assert [json.loads(line)["operation"] for line in out.splitlines()] == [1, 2]
    _, out, _ = run(capsys, "find", "--config", str(paid), "--from", "2026-01-16")
    assert "9123456789" not in out and "9031234567" not in out
    code, _, err = run(capsys, "find", "--config", str(paid), "--from", "yesterday")
    assert code == 2 and "--from: expected a date" in err


def test_reading_creates_nothing_beside_a_cleanly_closed_journal(paid, capsys, config):
    before = sorted(p.name for p in config.journal_path.parent.iterdir())
    assert run(capsys, "show", "--config", str(paid))[0] == 0
    assert sorted(p.name for p in config.journal_path.parent.iterdir()) == before


def test_a_journal_on_a_read_only_file_system_is_read_from_a_snapshot(paid, capsys, config, clock, monkeypatch):
    terminal = Terminal(config, clock=clock, background_checks=False)  # running: its newest writes are in the WAL
    terminal.start(background_outbox=False)
    try:
        to_cash(terminal)
        terminal.validator.insert(5000)
        act(terminal)
        act(terminal, ev.Pay())
        act(terminal, ev.ReceiptTaken())
        monkeypatch.setattr(reader_module.os, "access", lambda path, mode: False)  # nothing here is writable
        code, out, err = run(capsys, "lookup", "--operation", "3", "--config", str(paid))
        assert code == 0 and "snapshot copy" in err and "50.00 RUB" in out
    finally:
        terminal.close()


def test_a_damaged_journal_is_named_and_salvaged(paid, capsys, config, tmp_path):
    path = config.journal_path
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\x00" * (4096 - 100)  # the schema page is gone
    path.write_bytes(bytes(data))
    code, _, err = run(capsys, "show", "--config", str(paid))
    assert code == 2 and str(path) in err
    code, _, err = run(capsys, "export", "--config", str(paid), "--salvage", "--output", str(tmp_path / "x.jsonl"))
    assert code == 2 or "salvaged" in err  # nothing readable is still said clearly, naming the file
    assert str(path) in err


def test_a_salvage_export_keeps_every_readable_operation(tmp_path, capsys):
    from zoneinfo import ZoneInfo

    from kiosk.clock import ManualClock
    from kiosk.offline_queue.journal import Journal

    journal = Journal(tmp_path / "journal.sqlite", "10001", "RUB", ManualClock(ZoneInfo("Europe/Moscow")).now)
    for i in range(400):
        journal.open_operation("mts", f"91234{i:05d}", {"account": "x" * 200}, max_cash=100)
    journal.checkpoint()
    journal.close()
    path = tmp_path / "journal.sqlite"
    data = bytearray(path.read_bytes())
    middle = len(data) // 4096 // 2
    data[middle * 4096:(middle + 1) * 4096] = b"\xde\xad" * 2048
    path.write_bytes(bytes(data))
    code, _, err = run(capsys, "export", "--state-dir", str(tmp_path))
    assert code == 2 and "damaged" in err and "--salvage" in err and str(path) in err
    code, out, err = run(capsys, "export", "--state-dir", str(tmp_path), "--salvage")
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and 300 < len(records) < 400 and "unreadable" in err and str(path) in err


def test_export_into_a_closed_pipe_ends_quietly(paid):
    shell = (f"{sys.executable} -m kiosk.cli journal export --config {paid} | head -c 10 >/dev/null; "
             "exit ${PIPESTATUS[0]}")
    result = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=120,
                            env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    assert "Broken pipe" not in result.stderr and "Traceback" not in result.stderr


def test_a_slow_delivery_is_a_clear_error_not_an_empty_one(monkeypatch, capsys):
    import kiosk.cli as cli

    def slow(args):
        raise TimeoutError()  # what a future's result(timeout=60) raises, with no message

    monkeypatch.setattr(cli, "_simulate", slow)
    assert main(["simulate"]) == 2
    err = capsys.readouterr().err
    assert "kiosk: error: timed out" in err and not err.strip().endswith("error:")


def test_lookup_by_the_number_alone_tells_the_whole_story(paid, capsys):
    code, out, _ = run(capsys, "lookup", "1", "--config", str(paid))
    assert code == 0 and "  story:" in out
    assert "bill 100.00 RUB stacked" in out and "bill 50.00 RUB stacked" in out and "committed: cash 150.00 RUB" in out
    assert "attempt 1: pay at" in out and "→ approved" in out
    code, _, err = run(capsys, "lookup", "--config", str(paid))
    assert code == 2 and "which operation?" in err
