"""`kiosk run --config C`: production starts full screen on the configured devices and stops cleanly on SIGTERM."""

import os
import signal
import subprocess
import sys
import time

from kiosk.emulators.payer_process import write_config


def test_kiosk_run_starts_and_stops_on_sigterm(tmp_path):
    config = write_config(tmp_path, gateway_mode="ok")
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy")
    process = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "run", "--config", str(config)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "journal.sqlite").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # into the event loop
        assert process.poll() is None, process.stdout.read()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()


def test_demo_without_a_display_renders_the_screens_instead(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}
    result = subprocess.run([sys.executable, "-m", "kiosk.cli", "demo", "--state-dir", str(tmp_path)],
                            capture_output=True, text=True, env=env, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "no display here" in result.stdout
    assert len(list((tmp_path / "screenshots").glob("*.png"))) >= 100


def _demo_error(*args: str) -> str:
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy")
    result = subprocess.run([sys.executable, "-m", "kiosk.cli", "demo", *args], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stderr.strip().splitlines()[-1]


def test_bad_theme_language_or_size_is_refused_with_what_would_do(tmp_path):
    shots = ["--screenshots", str(tmp_path)]
    assert "no theme 'nosuch'; expected one of dark, default, high-contrast" in _demo_error("--theme", "nosuch", *shots)
    assert "no language 'de' on this terminal; expected one of ru, en" in _demo_error("--lang", "de", *shots)
    assert "expected a size like 1366x768" in _demo_error("--size", "abc", *shots)
    assert "expected a size from 640x480" in _demo_error("--size", "10x10", *shots)
    assert not list(tmp_path.glob("*.png"))  # nothing written under a wrong name
