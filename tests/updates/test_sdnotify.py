"""sd_notify over a real datagram socket: READY reaches it, WATCHDOG only while every watched loop turns."""

from __future__ import annotations

import os
import socket

from kiosk.updates.health import running_release
from kiosk.updates.sdnotify import Watchdog, notify


def _listener(tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(2)
    return sock


def test_ready_reaches_the_notify_socket_and_nothing_is_sent_without_one(tmp_path):
    with _listener(tmp_path) as sock:
        assert notify("READY=1", {"NOTIFY_SOCKET": str(tmp_path / "notify")})
        assert sock.recv(100) == b"READY=1"
    assert not notify("READY=1", {"PATH": "/usr/bin"})


def test_watchdog_pings_only_while_every_loop_turns(tmp_path):
    now = [100.0]
    env = {"NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid())}
    validator_turned = [100.0]
    watchdog = Watchdog(env, clock=lambda: now[0])
    watchdog.watch("validator", lambda: validator_turned[0])
    with _listener(tmp_path) as sock:
        assert watchdog.tick()
        assert sock.recv(100) == b"WATCHDOG=1"
        now[0] += 0.5
        assert not watchdog.tick()  # pinged at most every half period
        now[0] += 2.0  # the UI loop turns, the validator's polling thread has hung
        assert watchdog.stale() == ["validator"] and not watchdog.tick()
        validator_turned[0] = now[0]
        assert watchdog.tick()
        assert sock.recv(100) == b"WATCHDOG=1"


def test_watchdog_of_another_process_is_not_ours(tmp_path):
    env = {"NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "1"}
    assert Watchdog(env).period is None


def test_the_running_release_is_read_from_the_environment_path(tmp_path):
    venv = tmp_path / "updates" / "releases" / "1.4.0" / "venv"
    venv.mkdir(parents=True)
    assert running_release(tmp_path / "updates", str(venv)) == "1.4.0"
    assert running_release(tmp_path / "updates", str(tmp_path)) is None


def test_a_release_is_healthy_after_its_first_heartbeat_unless_the_service_refuses_it():
    from types import SimpleNamespace

    from kiosk.updates.health import _first_heartbeat_ok

    def terminal(sent: int, error: str) -> SimpleNamespace:
        return SimpleNamespace(dealer_link=SimpleNamespace(sent=sent, last_error=error))

    assert _first_heartbeat_ok(terminal(1, ""), 1) == (True, "first heartbeat accepted")
    ok, why = _first_heartbeat_ok(terminal(0, "POST /heartbeat refused (400): unknown field"), 1)
    assert not ok and "refused" in why
    ok, why = _first_heartbeat_ok(terminal(0, "dealer service unreachable at https://x: timed out"), 1)
    assert ok and "payments do not need it" in why  # the network being away is no fault of the release
    assert _first_heartbeat_ok(SimpleNamespace(dealer_link=None), 1)[0]
