"""SIGKILL a draining outbox at random moments, restart it, again and again: no payment lost, none paid twice.

The outbox journals a refill's first attempts ahead of their requests (the "osmp" profile resolves an unknown
by an identical resend) or each just before its request ("rebooking"), and commits outcomes with later writes,
so a kill can fall between a reply and its outcome reaching the disk, or between an attempt and its request. The
OSMP emulator runs in a process of its own with its bookings in a state file, as a provider would; the draining
terminal is tests/offline_queue/drain_child.py. With the "rebooking" profile the provider books every repeated
pay again, so a single blind resend after a kill shows up as a double booking.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiosk.offline_queue.reconcile import commit_operation

from .drain_child import CATALOG, open_journal

ROOT = Path(__file__).resolve().parents[2]
PAYMENTS = 200


def account(number: int) -> str:
    """Each operation pays its own account, so the provider's bookings say whose they are."""
    return f"91{number:08d}"


def start_emulator(state: Path, profile: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "kiosk.emulators.processing.cli", "gateway", "--protocol", "osmp",
                             "--port", "0", "--state-file", str(state)], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    port = int(proc.stdout.readline().strip().removeprefix("PORT="))
    for line in (f"profile {profile}", "latency 20"):  # some latency: each kill finds requests in flight
        proc.stdin.write(line + "\n")
        proc.stdin.flush()
        proc.stdout.readline()
    return proc, f"http://127.0.0.1:{port}/osmp"


def drain_child(journal: Path, url: str, profile: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "tests.offline_queue.drain_child", str(journal), url, profile],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)


def problems(operations: list[tuple[int, str, int, str]], bookings: list[dict], profile: str) -> list[str]:
    """Every way a payment was lost or paid twice, as sentences. operations: (number, state, credited, reason)."""
    found: list[str] = []
    ours = {account(number): number for number, _, _, _ in operations}
    booked: dict[int, list[dict]] = {}
    for booking in bookings:
        if booking["account"] not in ours:
            found.append(f"booking {booking['key']} is for no operation of ours")
            continue
        booked.setdefault(ours[booking["account"]], []).append(booking)
    for number, state, credited, reason in operations:
        mine = booked.get(number, [])
        if len(mine) > 1:
            found.append(f"operation {number} was booked {len(mine)} times")
        if any(b["amount"] != credited for b in mine):
            found.append(f"operation {number} was booked for another amount")
        if state == "delivered" and len(mine) != 1:
            found.append(f"operation {number} is delivered but booked {len(mine)} times")
        elif state == "needs_attention" and not (profile == "rebooking" and "ask the provider" in reason):
            found.append(f"operation {number} needs attention with no reason its profile gives: {reason}")
        elif state not in ("delivered", "needs_attention"):
            found.append(f"operation {number} is still {state} after the final drain")
    return found


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["osmp", "rebooking"])
def test_kills_mid_drain_lose_nothing_and_pay_nothing_twice(tmp_path, profile):
    rng = random.Random(f"drain-kills-{profile}")
    path = tmp_path / "journal.sqlite"
    journal = open_journal(str(path))
    for _ in range(PAYMENTS):
        number = journal.open_operation("mts", "x", {}, max_cash=100_00).operation
        journal.conn.execute("UPDATE operations SET account=?, fields=? WHERE operation=?",
                             (account(number), json.dumps({"account": account(number)}), number))
        journal.record_bill(number, rng.choice((50_00, 100_00)), "virtual", f"bill-{number}")
        commit_operation(journal, CATALOG, number, "pay")
    journal.close()
    emulator, url = start_emulator(tmp_path / "provider.json", profile)
    kills = 0
    try:
        for _ in range(8):
            child = drain_child(path, url, profile)
            assert child.stdout is not None and child.stdout.readline().strip() == "READY"
            time.sleep(rng.uniform(0.02, 0.15))
            if child.poll() is not None:
                break  # it finished the drain before the kill
            child.send_signal(signal.SIGKILL)
            child.wait()
            kills += 1
        final = drain_child(path, url, profile)
        final.communicate(timeout=120)
        assert final.returncode == 0
    finally:
        assert emulator.stdin is not None
        emulator.stdin.write("quit\n")
        emulator.stdin.flush()
        emulator.wait(timeout=10)
    assert kills >= 3, "the drain ended before the kills could test it"
    journal = open_journal(str(path))
    try:
        operations = [(r["operation"], r["state"], r["credited"], r["attention_reason"] or "")
                      for r in journal.conn.execute("SELECT * FROM operations")]
        interrupted = journal.conn.execute("SELECT COUNT(*) FROM attempts WHERE message='interrupted by restart'"
                                           ).fetchone()[0]
    finally:
        journal.close()
    bookings = json.loads((tmp_path / "provider.json").read_text())["bookings"]
    assert problems(operations, bookings, profile) == []
    assert len(operations) == PAYMENTS and interrupted > 0  # kills did land on requests in flight
    if profile == "osmp":  # a status query resolves every interrupted attempt: all are delivered
        assert all(state == "delivered" for _, state, _, _ in operations)


def test_the_checker_sees_a_double_booking_a_wrong_amount_and_a_payment_left_behind():
    ops = [(1, "delivered", 100, ""), (2, "delivered", 100, ""), (3, "committed", 100, ""),
           (4, "needs_attention", 100, "outcome unknown at main: ask the provider whether it was booked")]
    books = [{"key": "txn:1", "account": account(1), "amount": 100},
             {"key": "txn:1#2", "account": account(1), "amount": 100},
             {"key": "txn:2", "account": account(2), "amount": 90},
             {"key": "txn:9", "account": account(9), "amount": 100}]
    found = problems(ops, books, "osmp")
    assert "operation 1 was booked 2 times" in found
    assert "operation 2 was booked for another amount" in found
    assert "operation 3 is still committed after the final drain" in found
    assert any(f.startswith("operation 4 needs attention") for f in found)  # osmp has a status query
    assert "booking txn:9 is for no operation of ours" in found
    assert problems(ops[3:], [], "rebooking") == []
