"""`./dev demo`'s dealer side: service on loopback, the demo terminal enrolled and online, again after a restart."""

from __future__ import annotations

import time

import httpx
import pytest
from sqlalchemy import select

from provisioning.db import Database
from provisioning.db.models import Terminal
from provisioning.demo import DemoDealer
from provisioning.settings import Settings


def _wait_sent(dealer: DemoDealer, count: int) -> None:
    deadline = time.monotonic() + 20
    while dealer.heartbeat.sent < count and time.monotonic() < deadline:
        time.sleep(0.1)
    assert dealer.heartbeat.sent >= count, dealer.heartbeat.last_error


@pytest.mark.slow
def test_demo_dealer_enrolls_the_terminal_and_sees_it_online_across_restarts(tmp_path):
    state = tmp_path / "dealer"
    dealer = DemoDealer(state, "10001", "Demo street 1").start()
    try:
        _wait_sent(dealer, 1)
        text = dealer.describe()
        assert dealer.portal_url in text and "admin@demo.local / " in text
        login = httpx.get(f"{dealer.portal_url}/login")
        assert login.status_code == 200 and 'name="password"' in login.text
    finally:
        dealer.close()
    again = DemoDealer(state, "10001").start()  # new ports; the stored identity follows them
    try:
        _wait_sent(again, 1)
    finally:
        again.close()
    db = Database(Settings.load(state).db_url)
    try:
        with db.session() as session:
            terminal = session.scalar(select(Terminal).where(Terminal.number == "10001"))
            assert terminal.status == "enrolled" and terminal.online and terminal.address == "Demo street 1"
    finally:
        db.close()
