"""CyberPlat ERROR=11 from pay_status: the payment starts again (check + pay) under a new, journaled SESSION.

Over real HTTP against the emulator with the vendor's test keys; the centre loses a session with its
`lose-sessions` switch. A new SESSION exists in the journal before any request carries it, only a status query
may prove the old one unknown, and a terminal killed at any step of the restart never pays twice.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.emulators.processing.cyberplat import CyberplatEmulator
from kiosk.gateways.cyberplat import CyberplatGateway
from kiosk.gateways.router import Router
from kiosk.offline_queue.journal import COMMITTED, DELIVERED, Journal
from kiosk.offline_queue.outbox import Outbox
from kiosk.story import from_journal

from .session_restart_child import CATALOG, open_journal, prepare

VENDOR = Path(__file__).parent / "data" / "cyberplat"  # the vendor's test keys serve both sides
CHILD = Path(__file__).parent / "session_restart_child.py"
OPTIONS = {"sd": "17031", "ap": "17032", "op": "17034", "timeout": 5, "status_polls": 1,
           "status_interval_seconds": 0, "timezone": "Europe/Moscow", "secret_key": str(VENDOR / "secret.key"),
           "secret_key_password": "1111111111", "public_keys": str(VENDOR / "pubkeys.key"),
           "server_key_serial": 17033}


@pytest.fixture(scope="module")
def centre():
    server = CyberplatEmulator(VENDOR, key_password="1111111111")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def centre_losing_one(centre):
    centre.control("reset")
    centre.control("lose-sessions 1")
    return centre


def sessions(journal: Journal, number: int = 1) -> list[tuple[str, str, str]]:
    """(verb, SESSION, outcome) of every attempt, oldest first."""
    return [(a["verb"], a["session"], a["outcome"]) for a in journal.attempts(number)]


def bookings_of(server: CyberplatEmulator, prefix: str) -> dict[str, str]:
    """SESSION → external id of every booking whose SESSION starts with prefix."""
    return {key.removeprefix("session:"): b.external_id for key, b in server.ledger.bookings.items()
            if key.startswith(f"session:{prefix}")}


@pytest.fixture
def delivery(tmp_path, centre_losing_one):
    """A committed payment in a fresh journal, and the outbox that delivers it to the emulator."""
    prepare(tmp_path, OPTIONS)
    journal = open_journal(tmp_path)
    gateway = CyberplatGateway("cp", {**OPTIONS, "url": centre_losing_one.base_url + "/cgi-bin"})
    outbox = Outbox(journal, Router({"cp": gateway}), CATALOG, backoff_base=0.0, backoff_max=0.0)
    yield journal, outbox
    outbox.stop()
    gateway.close()
    journal.close()


def test_status_error_11_restarts_check_and_pay_under_a_new_journaled_session(delivery, centre_losing_one):
    journal, outbox = delivery
    first = journal.get(1).request_ids()[2]
    # check registers S1, the centre loses it, pay answers 11 and pay_status confirms: a new SESSION
    assert outbox.deliver(1) == COMMITTED
    op = journal.get(1)
    assert op.session and op.session != first and op.pinned_gateway is None
    assert sessions(journal) == [("pay", first, "retry_not_executed")]
    assert op.last_code == "11"
    assert outbox.deliver(1) == DELIVERED  # check + pay again, under the new SESSION
    op = journal.get(1)
    assert sessions(journal) == [("pay", first, "retry_not_executed"), ("pay", op.session, "approved")]
    assert bookings_of(centre_losing_one, "T10001N1R") == {op.session: op.external_id}
    assert op.request_ids()[2] == op.session  # support sees the SESSION the money was booked under
    story = from_journal(journal, 1)
    assert story is not None
    text = "\n".join(story.lines())
    assert f"attempt 1: pay at cp [SESSION {first}]" in text
    assert f"[SESSION {op.session}] → approved" in text


def test_lost_pay_reply_then_error_11_from_status_restarts_in_the_same_cycle(delivery, centre_losing_one):
    journal, outbox = delivery
    centre_losing_one.control("fault drop-before-booking 1 pay")
    first = journal.get(1).request_ids()[2]
    assert outbox.deliver(1) == COMMITTED  # the pay's reply is lost: pinned, SESSION unchanged
    assert journal.get(1).pinned_gateway == "cp" and journal.get(1).session is None
    assert outbox.deliver(1) == DELIVERED  # pay_status: 11 → new SESSION journaled → check + pay
    op = journal.get(1)
    assert sessions(journal) == [("pay", first, "unknown"), ("status", first, "retry_not_executed"),
                                 ("pay", op.session, "approved")]
    assert bookings_of(centre_losing_one, "T10001N1R") == {op.session: op.external_id}


def test_an_unanswered_status_never_mints_a_session(delivery, centre_losing_one):
    journal, outbox = delivery
    # pay answers 11, but pay_status's reply is lost: nothing proves the session unknown, so it is kept
    centre_losing_one.control("fault drop-after-booking 1 status")
    first = journal.get(1).request_ids()[2]
    assert outbox.deliver(1) == COMMITTED
    op = journal.get(1)
    assert op.session is None and op.pinned_gateway == "cp" and op.last_outcome == "unknown"
    assert outbox.deliver(1) == DELIVERED  # now pay_status answers 11: a new SESSION, check + pay
    second = journal.get(1).session
    assert second not in (None, first)
    assert sessions(journal) == [("pay", first, "unknown"), ("status", first, "retry_not_executed"),
                                 ("pay", second, "approved")]


def run_child(directory: Path, url: str, kill_at: int = 0) -> tuple[int, list[str]]:
    """Run the terminal process; (exit status, its step lines)."""
    done = subprocess.run([sys.executable, str(CHILD), str(directory), url, str(kill_at)], capture_output=True,
                          text=True, timeout=60)
    return done.returncode, done.stdout.splitlines()


def check_one_booking(directory: Path, server: CyberplatEmulator) -> list[tuple[str, str, str]]:
    """The payment is delivered, booked once, under a SESSION the journal recorded; its attempts."""
    journal = open_journal(directory)
    try:
        op = journal.get(1)
        attempts = sessions(journal)
        booked = bookings_of(server, "T10001N1R")
        assert op.state == DELIVERED, attempts
        assert len(booked) == 1 and list(booked.values()) == [op.external_id], (booked, attempts)
        assert set(booked) <= {s for _, s, _ in attempts}, (booked, attempts)
        assert server.ledger.find(f"session:{next(iter(booked))}").amount == 150_00
        return attempts
    finally:
        journal.close()


@pytest.mark.slow  # 22 kills, two terminal processes each: ~15 s
def test_killed_at_every_step_of_the_restart_never_pays_twice(tmp_path, centre):
    url = centre.base_url + "/cgi-bin"
    centre.control("reset")
    centre.control("lose-sessions 1")
    prepare(tmp_path / "whole", OPTIONS)
    status, steps = run_child(tmp_path / "whole", url)
    assert status == 0 and steps[-1] == "STATE delivered", steps
    attempts = check_one_booking(tmp_path / "whole", centre)
    assert [verb for verb, _, _ in attempts] == ["pay", "pay"] and attempts[0][1] != attempts[1][1]
    names = [line.split(" ", 2)[2] for line in steps if line.startswith("STEP ")]
    second = attempts[1][1]
    # the new SESSION is journaled (attempt pinned to it) before the request carrying it leaves
    assert names.index(f"after journal pay {second}") < names.index(f"before send pay_check {second}")
    assert names.index("after journal new session") < names.index(f"before journal pay {second}")
    for kill_at in range(1, len(names) + 1):
        centre.control("reset")
        centre.control("lose-sessions 1")
        directory = tmp_path / f"kill{kill_at}"
        prepare(directory, OPTIONS)
        status, _ = run_child(directory, url, kill_at)
        assert status == -signal.SIGKILL, f"step {kill_at} ({names[kill_at - 1]}) was never reached"
        status, after = run_child(directory, url)
        assert status == 0 and after[-1] == "STATE delivered", (names[kill_at - 1], after)
        check_one_booking(directory, centre)
