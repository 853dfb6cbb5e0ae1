"""`kiosk simulate` with the real CCNET, ccTalk, ID003 and eSSP drivers against emulators in separate processes."""

import json
import os
import subprocess
import sys

import pytest

from kiosk.emulators.payer_process import write_config

pytestmark = pytest.mark.slow  # each test runs the demo scenario through a real driver and an emulator process


@pytest.mark.parametrize("protocol", ["ccnet", "cctalk", "id003", "essp"])
def test_demo_scenario_through_real_bytes(tmp_path, protocol):
    config = write_config(tmp_path, gateway_mode="ok")
    result = subprocess.run([sys.executable, "-m", "kiosk.cli", "simulate", "--config", str(config),
                             "--validator-protocol", protocol], capture_output=True, text=True, timeout=180,
                            env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    assert "total  10 operations                          9150.00" in result.stdout
    # What the device's cassette holds is exactly what the journal credits, bill by bill.
    cassette = json.loads((tmp_path / f"cassette-{protocol}.json").read_text())
    counts = {int(k): v for k, v in cassette["counts"].items()}
    export = subprocess.run([sys.executable, "-m", "kiosk.cli", "journal", "export", "--config", str(config)],
                            capture_output=True, text=True, timeout=60, check=True).stdout
    journal_counts: dict[int, int] = {}
    for line in export.splitlines():
        for bill in json.loads(line)["bills"]:
            journal_counts[bill] = journal_counts.get(bill, 0) + 1
    assert counts == journal_counts


def test_simulate_attaches_to_an_emulator_somebody_else_started(tmp_path):
    """`kiosk emulate validator` started by hand with its commands on a FIFO; simulate drives it from outside."""
    config = write_config(tmp_path, gateway_mode="ok")
    fifo = tmp_path / "validator-control"
    os.mkfifo(fifo)
    keep_open = os.open(fifo, os.O_RDWR)  # so the emulator's open() of its stdin does not wait for a writer
    emulator = subprocess.Popen(
        ["bash", "-c", f'exec {sys.executable} -m kiosk.cli emulate validator --protocol ccnet '
                       f'--state-file {tmp_path}/cassette-hand.json < {fifo}'],
        stdout=subprocess.PIPE, text=True)
    try:
        port = emulator.stdout.readline().strip().removeprefix("PORT=")
        scenario = tmp_path / "s.toml"
        scenario.write_text('version = 1\n[[script]]\ntitle = "one payer"\nsteps = ["touch", "provider mts", '
                            '"type 9123456789", "next", "confirm", "insert 100", "insert 50", "pay", '
                            '"expect receipt"]\n')
        result = subprocess.run([sys.executable, "-m", "kiosk.cli", "simulate", "--config", str(config),
                                 "--scenario", str(scenario), "--validator-protocol", "ccnet",
                                 "--validator-port", port, "--validator-control", str(fifo)],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "150.00" in result.stdout and "delivered" in result.stdout
        cassette = json.loads((tmp_path / "cassette-hand.json").read_text())
        assert cassette["counts"] == {"10000": 1, "5000": 1}
    finally:
        os.write(keep_open, b"quit\n")
        emulator.wait(timeout=10)
        emulator.stdout.close()
        os.close(keep_open)
