"""The systemd unit starts the production command and restarts it whatever the exit status."""

import configparser
import shlex
from pathlib import Path

UNIT = Path(__file__).resolve().parent.parent / "systemd" / "kiosk.service"


def test_unit_runs_kiosk_run_and_always_restarts():
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(UNIT)
    service = parser["Service"]
    command = shlex.split(service["ExecStart"])
    assert command[-4:-2] == ["/opt/kiosk/.venv/bin/kiosk", "run"] and "--config" in command
    assert service["Restart"] == "always"  # covers the service menu's restart (exit 75) and crashes
    assert parser["Unit"]["StartLimitIntervalSec"] == "0"
    assert "ESCPOS_CAPABILITIES_PICKLE_DIR" in service["Environment"] or any(
        "ESCPOS_CAPABILITIES_PICKLE_DIR" in line for line in UNIT.read_text().splitlines())
