"""SIGKILL at random points of the whole flow: every bill belongs to one operation, nothing is booked twice."""

import pytest

from kiosk.emulators.kill_trials import run_device_trials, run_trials
from kiosk.emulators.payer_process import check_invariants, run, write_config


@pytest.mark.slow
def test_random_kills_lose_no_money_and_pay_nothing_twice(tmp_path):
    report = run_trials(tmp_path, kills=8, seed=7)
    assert report.problems == []
    assert report.kills == 8
    assert report.operations > 0 and report.bills > 0


def test_the_invariant_checker_catches_a_double_booking(tmp_path):
    # The checker must be able to fail: book one operation at both gateways behind the terminal's back.
    write_config(tmp_path, gateway_mode="ok")
    run(tmp_path, seed=1, payments=2, drain=False)
    import sqlite3

    conn = sqlite3.connect(tmp_path / "gateway-backup.sqlite")
    conn.execute("INSERT INTO bookings (gateway, idempotency_key, terminal, operation, provider_code, account, "
                 "amount, external_id) VALUES ('backup', 'T10001-0000000001', '10001', 1, '1', 'x', 1, 'dup')")
    conn.commit()
    conn.close()
    problems = check_invariants(tmp_path)
    assert any("booked 2 times" in p for p in problems), problems


def test_the_invariant_checker_catches_a_bill_nobody_owns(tmp_path):
    write_config(tmp_path, gateway_mode="ok")
    run(tmp_path, seed=2, payments=1, drain=False)
    import sqlite3

    conn = sqlite3.connect(tmp_path / "cassette.sqlite")
    conn.execute("INSERT INTO cassette (seq, value, event_id) VALUES (999, 10000, 'ghost')")
    conn.commit()
    conn.close()
    assert any("belongs to no operation" in p for p in check_invariants(tmp_path))


@pytest.mark.slow
@pytest.mark.parametrize("protocol, kills", [("ccnet", 4), ("cctalk", 3), ("id003", 3), ("essp", 3)])
def test_kills_with_real_bytes_keep_cassette_and_journal_in_step(tmp_path, protocol, kills):
    """The emulator process keeps its cassette while the kiosk dies; every bill is credited or listed."""
    report = run_device_trials(tmp_path, kills=kills, protocol=protocol, seed=3, max_delay=2.0)
    assert report.problems == []
    assert report.kills == kills and report.bills > 0
