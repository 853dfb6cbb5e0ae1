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
