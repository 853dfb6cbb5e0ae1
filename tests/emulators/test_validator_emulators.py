"""Validator emulators: the durable cassette, the `emulate validator` command loop, and its process form."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kiosk.drivers import ccnet_frame as cf
from kiosk.drivers.ccnet import CcnetValidator
from kiosk.drivers.cctalk import CctalkValidator
from kiosk.drivers.essp import EsspValidator
from kiosk.drivers.id003 import Id003Validator
from kiosk.drivers.validator import Stacked
from kiosk.emulators import validator_cli
from kiosk.emulators.cassette import Cassette, CassetteFullError
from kiosk.emulators.ccnet import CcnetEmulator
from kiosk.emulators.cctalk import CctalkEmulator
from kiosk.emulators.essp import EsspEmulator
from kiosk.emulators.id003 import Id003Emulator

FAST = {"poll_interval": 0.02, "response_timeout": 0.15, "hotplug": False}


@pytest.fixture
def scratch(tmp_path_factory):
    """A directory removed after the test, with a leak check on threads and fds."""
    import shutil
    import tempfile

    threads, fds = set(threading.enumerate()), set(os.listdir("/proc/self/fd"))
    path = Path(tempfile.mkdtemp(prefix="kiosk-emu-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)
    deadline = time.monotonic() + 3
    while True:
        extra = [t for t in threading.enumerate() if t not in threads and t.is_alive()]
        open_fds = {fd for fd in set(os.listdir("/proc/self/fd")) - fds if os.path.exists(f"/proc/self/fd/{fd}")}
        if not extra and not open_fds:
            break
        assert time.monotonic() < deadline, f"leaked threads {extra} / fds {open_fds}"
        time.sleep(0.02)


# -- cassette -------------------------------------------------------------------------------------
def test_cassette_state_file_is_counts_by_denomination_in_kopecks(scratch):
    state = scratch / "cassette.json"
    cassette = Cassette(3, state)
    cassette.add(10000)
    cassette.add(10000)
    cassette.add(500000)
    doc = json.loads(state.read_text())
    assert doc["counts"] == {"10000": 2, "500000": 1} and doc["total"] == 520000 and doc["bills"] == 3
    assert Cassette(3, state).counts() == {10000: 2, 500000: 1}  # a new process picks it up
    with pytest.raises(CassetteFullError):
        cassette.add(100)
    assert cassette.empty() == {10000: 2, 500000: 1} and Cassette(3, state).count == 0
    assert sorted(p.name for p in scratch.iterdir()) == ["cassette.json"]  # no temp files left


def test_cassette_refuses_an_unreadable_state_file(scratch):
    state = scratch / "cassette.json"
    state.write_text("{not json")
    with pytest.raises(ValueError, match="unreadable cassette state"):
        Cassette(10, state)


def test_failed_write_leaves_the_old_state(scratch, monkeypatch):
    state = scratch / "cassette.json"
    cassette = Cassette(10, state)
    cassette.add(1000)
    monkeypatch.setattr(os, "fsync", lambda _fd: (_ for _ in ()).throw(OSError("disk gone")))
    with pytest.raises(OSError):
        cassette.add(1000)
    assert cassette.counts() == {1000: 1} and json.loads(state.read_text())["counts"] == {"1000": 1}
    assert sorted(p.name for p in scratch.iterdir()) == ["cassette.json"]


# -- command loop (in process) --------------------------------------------------------------------
@pytest.fixture
def ccnet_emu(scratch):
    emu = CcnetEmulator(cassette=Cassette(100, scratch / "c.json")).start()
    yield emu
    emu.stop()


def test_every_command_answers_one_line(ccnet_emu):
    run = lambda line: validator_cli.execute(ccnet_emu, line)  # noqa: E731
    assert run("insert 100") == "error: busy (power_up)"  # no host has reset it yet
    assert run("insert 3").startswith("error: no 3 RUB")
    assert run("silent on") == "ok silent on" and ccnet_emu.wire.silent
    assert run("silent off") == "ok silent off" and not ccnet_emu.wire.silent
    assert run("corrupt-next") == "ok corrupt-next" and ccnet_emu.wire.corrupt_next
    assert run("drop 4") == "ok drop 4" and ccnet_emu.wire.drop_incoming == 4
    assert run("delay 30") == "ok delay 30" and ccnet_emu.wire.delay == 0.03
    assert run("repeat-stacked on") == "ok repeat-stacked on" and ccnet_emu.repeat_stacked
    assert run("echo on").startswith("error: echo is a ccTalk")
    assert run("cassette out") == "ok cassette out"
    assert run("cassette in") == "ok cassette in"
    assert run("jam") == "ok jammed (validator)" and run("unjam") == "ok unjammed"
    assert run("jam sideways").startswith("error")
    assert run("counterfeit").startswith(("ok", "error: busy"))
    assert run("power-cycle").startswith("ok power-cycled")
    assert json.loads(run("status")[3:])["protocol"] == "ccnet"
    assert run("frobnicate").startswith("error: unknown")
    assert run("delay soon").startswith("error")
    assert run("").startswith("error: empty")


def test_cctalk_specific_commands(scratch):
    emu = CctalkEmulator().start()
    try:
        assert validator_cli.execute(emu, "echo on") == "ok echo on" and emu.echo
        assert validator_cli.execute(emu, "repeat-stacked on").startswith("error: repeat-stacked is a CCNET")
    finally:
        emu.stop()


def test_poll_timeout_option_is_cctalk_only(scratch):
    args = validator_cli.build_parser().parse_args(
        ["--protocol", "cctalk", "--poll-timeout", "1", "--state-file", str(scratch / "pt.json")])
    emu = validator_cli.make_emulator(args).start()
    try:
        assert isinstance(emu, CctalkEmulator) and emu.poll_timeout == 1.0
    finally:
        emu.stop()
    args = validator_cli.build_parser().parse_args(
        ["--protocol", "ccnet", "--poll-timeout", "1", "--state-file", str(scratch / "pt.json")])
    with pytest.raises(SystemExit, match="only the cctalk emulator has a poll timeout"):
        validator_cli.make_emulator(args)


def test_id003_specific_commands():
    emu = Id003Emulator().start()
    try:
        run = lambda line: validator_cli.execute(emu, line)  # noqa: E731
        assert run("repeat-vend-valid off") == "ok repeat-vend-valid off" and not emu.repeat_vend_valid
        assert run("lose-ack 2") == "ok lose-ack 2" and emu.lose_acks == 2
        assert run("cheat") == "ok cheated" and emu.status()["phase"] == "cheated"
        assert run("fail 0xA6") == "ok failure 0xA6" and emu.status()["state"] == "0x49"
        assert run("jam") == "ok jammed (validator)" and run("unjam") == "ok unjammed"
        assert run("repeat-stacked on").startswith("error: repeat-stacked is not a command of the id003")
        assert run("echo on").startswith("error: echo is not a command of the id003")
    finally:
        emu.stop()


def test_essp_specific_commands():
    emu = EsspEmulator().start()
    try:
        run = lambda line: validator_cli.execute(emu, line)  # noqa: E731
        assert run("ecount-step 2").startswith("ok ecount-step 2") and emu.ecount_step == 2
        assert run("encryption optional") == "ok encryption optional" and not emu.require_encryption
        assert run("fraud") == "ok fraud attempt"
        assert run("insert 100") == "ok refused (validator disabled)"
        assert run("unjam").startswith("error: unjam is not a command of the essp")
        assert json.loads(run("status")[3:])["protocol"] == "essp"
    finally:
        emu.stop()


# -- the process: PORT= first, a driver on the tty, the state file outliving everyone ------------
def _spawn(*args: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "kiosk.emulators.validator_cli", *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, bufsize=1)
    first = proc.stdout.readline().strip()
    assert first.startswith("PORT="), first
    return proc, first[5:]


def _ask(proc: subprocess.Popen, line: str) -> str:
    proc.stdin.write(line + "\n")
    proc.stdin.flush()
    return proc.stdout.readline().strip()


@pytest.mark.parametrize(("protocol", "driver_cls"), [("ccnet", CcnetValidator), ("cctalk", CctalkValidator),
                                                     ("id003", Id003Validator), ("essp", EsspValidator)])
def test_emulator_process_serves_a_driver_and_keeps_the_cassette_across_a_kill(scratch, protocol, driver_cls):
    state = scratch / "cassette.json"
    proc, port = _spawn("--protocol", protocol, "--state-file", str(state), "--step", "0.01")
    stacked, driver = [], None
    try:
        def on_event(event):
            if type(event).__name__ == "Escrow":
                driver.stack()
            if isinstance(event, Stacked):
                stacked.append(event)
        driver = driver_cls(on_event, port, **FAST)
        driver.start()
        driver.enable([10000, 50000])
        time.sleep(0.2)
        assert _ask(proc, "insert 500") == "ok accepting 500 RUB"
        deadline = time.monotonic() + 5
        while not stacked and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [s.bill.value for s in stacked] == [50000]
        status = json.loads(_ask(proc, "status")[3:])
        assert status["cassette"] == {"50000": 1}
        driver.stop()
        proc.send_signal(signal.SIGKILL)  # nobody gets to clean up
        proc.wait(5)
    finally:
        if driver:
            driver.stop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        proc.stdin.close()
        proc.stdout.close()
    assert json.loads(state.read_text())["counts"] == {"50000": 1}
    proc, _port = _spawn("--protocol", protocol, "--state-file", str(state))
    try:
        assert json.loads(_ask(proc, "status")[3:])["bills"] == 1
        assert _ask(proc, "quit") == "ok bye"
        assert proc.wait(5) == 0
    finally:
        proc.stdin.close()
        proc.stdout.close()


# -- the paced wire -------------------------------------------------------------------------------
def _poll_round_trip(emu: CcnetEmulator) -> tuple[float, bytes]:
    from kiosk.drivers.serial_port import SerialPort

    request = cf.encode(bytes((cf.POLL,)))
    with SerialPort(emu.path, 9600) as port:
        started = time.monotonic()
        port.write(request)
        reply, deadline = b"", started + 2
        while len(reply) < 6 or len(reply) < reply[2]:
            chunk = port.read(deadline)
            assert chunk, f"no whole reply within 2 s, got {reply.hex(' ')}"
            reply += chunk
        return time.monotonic() - started, reply


def test_a_paced_wire_takes_as_long_as_its_baud_rate_and_a_bare_pty_does_not(scratch):
    emu = CcnetEmulator(step_seconds=0.01).start()
    try:
        bare = [_poll_round_trip(emu) for _ in range(3)]
        emu.wire.baud = 1200  # slow enough that a bare pty under any load is far quicker
        paced, paced_reply = _poll_round_trip(emu)
    finally:
        emu.stop()
    wire_seconds = (6 + len(paced_reply)) * 10 / 1200  # request and reply, 10 bits a byte (8N1)
    assert paced >= wire_seconds
    assert min(seconds for seconds, _ in bare) < wire_seconds / 2
    assert {reply for _, reply in bare} == {paced_reply}
