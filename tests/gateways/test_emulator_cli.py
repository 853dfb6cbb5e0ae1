"""The emulator as a process: PORT= first, control lines on stdin, bookings kept in the state file."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from kiosk.emulators.processing.osmp import OsmpEmulator
from kiosk.gateways.base import Approved
from kiosk.gateways.osmp import OsmpGateway

from .support import make_request

ROOT = Path(__file__).resolve().parents[2]


def test_cli_prints_the_port_first_and_obeys_control_lines():
    with subprocess.Popen([sys.executable, "-m", "kiosk.emulators.processing.cli", "gateway", "--protocol", "osmp",
                           "--port", "0"], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as proc:
        try:
            port = int(proc.stdout.readline().strip().removeprefix("PORT="))
            proc.stdin.write("fault drop-after-booking 1 pay\n")
            proc.stdin.flush()
            assert "drop-after-booking" in proc.stdout.readline()
            gw = OsmpGateway("main", {"url": f"http://127.0.0.1:{port}/osmp", "timeout": 5})
            try:
                gw.pay(make_request())
                assert isinstance(gw.resend(make_request()), Approved)
            finally:
                gw.close()
            proc.stdin.write("status\nquit\n")
            proc.stdin.flush()
            assert "bookings=1" in proc.stdout.readline()
            assert proc.wait(timeout=10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()


def test_state_file_survives_a_restart_and_keeps_idempotency():
    with tempfile.TemporaryDirectory() as directory:
        state = Path(directory) / "osmp.json"
        first = OsmpEmulator(state_file=state)
        with first:
            gw = OsmpGateway("main", {"url": first.base_url + "/osmp"})
            booked = gw.pay(make_request())
            gw.close()
        assert json.loads(state.read_text())["bookings"][0]["key"] == "txn:10001000001"
        second = OsmpEmulator(state_file=state)
        with second:
            gw = OsmpGateway("main", {"url": second.base_url + "/osmp"})
            assert gw.resend(make_request()) == Approved(booked.external_id, "OK (repeated)")
            gw.close()
        assert len(second.ledger.bookings) == 1
        assert [p.name for p in Path(directory).iterdir()] == ["osmp.json"]  # no temp files left behind


def test_admin_endpoint_takes_the_same_lines():
    import httpx

    with OsmpEmulator() as emulator:
        reply = httpx.post(emulator.base_url + "/_admin", content=b"latency 1")
        assert reply.status_code == 200 and "latency_ms=1" in reply.text
