"""Periodic chores run on the scheduler, survive a failing chore, and stop with the terminal."""

import threading

from kiosk import housekeeping
from kiosk.housekeeping import Chore


def test_chores_run_repeatedly_and_a_failing_one_does_not_stop_the_others():
    ran = threading.Event()
    count = {"good": 0}

    def good():
        count["good"] += 1
        if count["good"] >= 2:
            ran.set()

    def bad():
        raise RuntimeError("printer exploded")

    scheduler = housekeeping.start([Chore("bad", 0.05, bad), Chore("good", 0.05, good)], "Europe/Moscow")
    try:
        assert ran.wait(5)
    finally:
        scheduler.shutdown(wait=True)


def test_a_running_terminal_keeps_its_chores_and_stops_them(config):
    from kiosk.app import Terminal

    terminal = Terminal(config)  # background mode: checks, printing and chores off the event thread
    terminal.start()
    try:
        jobs = {job.name for job in terminal._scheduler.get_jobs()}
        assert {"journal checkpoint", "outbox nudge"} <= jobs
    finally:
        terminal.close()
    assert terminal._scheduler is None
