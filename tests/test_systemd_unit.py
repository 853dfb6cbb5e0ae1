"""The systemd units: the kiosk runs the current release under Type=notify with a watchdog, always restarts except
for configuration errors, is hardened and limited to its devices; the updater's guard runs from the factory
install; and `systemd-analyze verify` accepts every unit (in a root tree with the programs they name)."""

import configparser
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

SYSTEMD = Path(__file__).resolve().parent.parent / "systemd"
UNIT = SYSTEMD / "kiosk.service"
UDEV = Path(__file__).resolve().parent.parent / "udev" / "99-kiosk.rules"
# Keys of systemd 254+ that older versions (Debian 12 has 252) ignore with a warning: the unit stays valid.
NEWER_KEYS = {"RestartSteps", "RestartMaxDelaySec"}


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(path)
    return parser


def _all_values(path: Path, key: str) -> list[str]:
    return [line.split("=", 1)[1] for line in path.read_text().splitlines() if line.startswith(f"{key}=")]


def test_unit_runs_the_current_release_and_always_restarts():
    parser = _unit(UNIT)
    service = parser["Service"]
    command = shlex.split(service["ExecStart"])
    assert command[:2] == ["/var/lib/kiosk/updates/current/venv/bin/kiosk", "run"] and "--config" in command
    assert shlex.split(service["ExecStartPre"])[:4] == ["/opt/kiosk/.venv/bin/kiosk", "update", "guard", "--start"]
    assert service["Restart"] == "always"  # covers the service menu's restart (exit 75), an update and crashes
    assert service["RestartPreventExitStatus"] == "78"
    assert parser["Unit"]["StartLimitIntervalSec"] == "0"
    assert any("ESCPOS_CAPABILITIES_PICKLE_DIR" in v for v in _all_values(UNIT, "Environment"))


def test_unit_is_notify_with_a_watchdog_and_hardened():
    service = _unit(UNIT)["Service"]
    assert service["Type"] == "notify" and int(service["WatchdogSec"]) > 0 and service["NotifyAccess"] == "main"
    assert service["ProtectSystem"] == "strict" and service["NoNewPrivileges"] == "yes"
    assert service["PrivateTmp"] == "yes" and "/var/lib/kiosk" in service["ReadWritePaths"].split()
    assert service["DevicePolicy"] == "closed"
    allowed = _all_values(UNIT, "DeviceAllow")
    assert "/dev/kiosk-validator rw" in allowed and "/dev/kiosk-printer rw" in allowed


def test_compositor_gives_no_way_out_to_a_shell():
    service = _unit(SYSTEMD / "kiosk-compositor.service")["Service"]
    command = shlex.split(service["ExecStart"])
    assert command[0] == "/usr/bin/cage" and "-s" not in command[:command.index("--")]  # no VT switching
    assert service["User"] == "kiosk" and service["PAMName"] == "login" and service["TTYPath"] == "/dev/tty1"


def test_udev_rules_name_the_devices_the_unit_allows():
    names = set(re.findall(r'SYMLINK\+="([^"]+)"', UDEV.read_text()))
    assert {"kiosk-validator", "kiosk-printer"} <= names
    for line in UDEV.read_text().splitlines():
        if line and not line.startswith("#"):
            for part in line.split(", "):
                assert re.fullmatch(r'[A-Z_]+(\{[A-Za-z_]+\})?(==|\+=|=)"[^"]*"', part), part


def _root_tree(tmp_path: Path) -> Path:
    """A root with the system's own units and stand-ins for every program the units run."""
    root = tmp_path / "root"
    (root / "usr/lib/systemd").mkdir(parents=True)
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    for unit in SYSTEMD.iterdir():
        shutil.copy(unit, root / "etc/systemd/system" / unit.name)
        for key in ("ExecStart", "ExecStartPre"):
            for value in _all_values(unit, key):
                program = root / shlex.split(value)[0].lstrip("/")
                program.parent.mkdir(parents=True, exist_ok=True)
                program.write_text("#!/bin/sh\n")
                program.chmod(0o755)
    return root


def test_systemd_analyze_verifies_every_unit(tmp_path):
    if shutil.which("systemd-analyze") is None or not Path("/usr/lib/systemd/system").is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("systemd-analyze is missing in CI (.ci/run installs it)")
        pytest.skip("systemd-analyze is not installed")
    root = _root_tree(tmp_path)
    units = sorted(p.name for p in SYSTEMD.iterdir())
    assert {"kiosk.service", "kiosk-compositor.service", "kiosk-updater.service", "kiosk-updater.timer"} <= set(units)
    for unit in units:
        done = subprocess.run(["systemd-analyze", "verify", f"--root={root}", unit], capture_output=True, text=True)
        complaints = [line for line in (done.stdout + done.stderr).splitlines()
                      if not any(f"Unknown key '{key}'" in line or f"Unknown key name '{key}'" in line
                                 for key in NEWER_KEYS)]
        assert done.returncode == 0 and not complaints, f"{unit}: {complaints}"
