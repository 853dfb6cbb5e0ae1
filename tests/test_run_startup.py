"""`kiosk run` start-up failures: one clear line, an out-of-service screen, an exit status systemd acts on."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk import startup
from kiosk.emulators.payer_process import write_config
from kiosk.ui_main import run_main

UNIT = Path(__file__).resolve().parent.parent / "systemd" / "kiosk.service"


def kiosk_run(config: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}
    return subprocess.run([sys.executable, "-m", "kiosk.cli", "run", "--config", str(config)], capture_output=True,
                          text=True, timeout=120, env=env)


@pytest.mark.parametrize("text, expected", [
    ("version = 1\n[terminal\n", "not valid TOML"),
    ("x = " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
    ("version = 1\n", "terminal"),
])
def test_a_broken_configuration_is_one_line_and_exit_78(tmp_path, text, expected):
    config = tmp_path / "terminal.toml"
    config.write_text(text)
    result = kiosk_run(config)
    assert result.returncode == startup.EXIT_CONFIG == 78
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("kiosk run: error:")]
    assert len(errors) == 1 and expected in errors[0] and str(config) in errors[0]


def test_a_missing_validator_port_is_one_line_and_a_restartable_status(tmp_path):
    config = write_config(tmp_path, gateway_mode="ok")
    text = config.read_text().replace('driver = "virtual"', f'driver = "ccnet"\nport = "{tmp_path}/ttyNONE"')
    text = "\n".join(line for line in text.splitlines() if not line.startswith("cassette ="))
    config.write_text(text)
    result = kiosk_run(config)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == startup.EXIT_UNAVAILABLE
    assert "ttyNONE" in [line for line in result.stderr.splitlines() if "kiosk run: error:" in line][0]


def test_a_full_disk_is_one_line_and_a_restartable_status(tmp_path, monkeypatch, capsys):
    config = write_config(tmp_path, gateway_mode="ok")
    import sqlite3

    from kiosk.offline_queue import journal

    def full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(journal.sqlite3, "connect", full)
    monkeypatch.delenv("SDL_VIDEODRIVER", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert run_main(["--config", str(config)], hold=0) == startup.EXIT_IOERR
    err = capsys.readouterr().err
    assert err.count("kiosk run: error:") == 1 and "disk is full" in err and "journal.sqlite" in err


def test_the_out_of_service_screen_names_the_terminal_and_the_reason(monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    import pygame

    pygame.display.init()
    pygame.font.init()
    try:
        surface = pygame.Surface((800, 600))
        drawn = startup.render(surface, startup.screen_lines("journal.sqlite: database or disk is full", "10001"))
        assert any("10001" in line for line in drawn) and any("disk is full" in line for line in drawn)
        assert "Out of service" in drawn
    finally:
        pygame.quit()
    # the whole path with a (dummy) display: shown, held briefly, status returned
    assert startup.fail(OSError("no space left"), "10001", display=True, hold=0.2) == startup.EXIT_IOERR


def test_the_unit_does_not_restart_a_configuration_error_and_backs_off_the_rest():
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(UNIT)
    service = parser["Service"]
    assert str(startup.EXIT_CONFIG) in service["RestartPreventExitStatus"].split()
    assert service["Restart"] == "always"
    assert int(service["RestartSteps"]) > 0 and service["RestartMaxDelaySec"]
