"""`kiosk simulate` with the real CCNET and ccTalk drivers against emulators in separate processes."""

import json
import os
import subprocess
import sys

import pytest

from kiosk.emulators.payer_process import write_config


@pytest.mark.parametrize("protocol", ["ccnet", "cctalk"])
def test_demo_scenario_through_real_bytes(tmp_path, protocol):
    config = write_config(tmp_path, gateway_mode="ok")
    result = subprocess.run([sys.executable, "-m", "kiosk.cli", "simulate", "--config", str(config),
                             "--validator-protocol", protocol], capture_output=True, text=True, timeout=180,
                            env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    assert "total  9 operations                          6150.00" in result.stdout
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
