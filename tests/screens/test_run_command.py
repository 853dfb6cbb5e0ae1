"""`kiosk run --config C`: production starts on the configured devices and stops cleanly on SIGTERM."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from kiosk.emulators.payer_process import write_config

DLE_EOT = b"\x10\x04"
PRINTER_OK = b"\x12"  # a DLE EOT status byte with every fault bit clear


class StatusOnlyPrinter:
    """A network ESC/POS printer on a free loopback port that answers status queries and keeps what it got."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.received = bytearray()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="status-printer", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(0.2)
                while not self._stop.is_set():
                    try:
                        data = conn.recv(64)
                    except TimeoutError:
                        continue
                    if not data:
                        break
                    self.received += data
                    conn.sendall(PRINTER_OK * data.count(DLE_EOT))

    def close(self) -> None:
        """Stop serving and free the port."""
        self._stop.set()
        self._thread.join(timeout=5)
        self.server.close()


@pytest.fixture
def printer():
    """The terminal's configured receipt printer."""
    device = StatusOnlyPrinter()
    yield device
    device.close()


@pytest.fixture
def validator():
    """A CCNET bill validator emulator on a pseudo-terminal, answering commands on stdin."""
    process = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "emulate", "validator", "--protocol", "ccnet"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    port = process.stdout.readline().strip().removeprefix("PORT=")
    yield process, port
    process.stdin.write("quit\n")
    process.stdin.close()
    try:
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()


def validator_status(process) -> dict:
    """The emulator's own account of what the host has done with it."""
    process.stdin.write("status\n")
    process.stdin.flush()
    answer = process.stdout.readline()
    assert answer.startswith("ok "), answer
    return json.loads(answer[3:])


def configure_devices(config_path, validator_port: str, printer_port: int) -> None:
    """The demo configuration, but with a CCNET validator on a pty and a network printer."""
    text = config_path.read_text(encoding="utf-8")
    lines = text.split("\n")
    start = lines.index("[devices.validator]")
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("[") and "devices" not in lines[i])
    devices = ["[devices.validator]", 'driver = "ccnet"', f'port = "{validator_port}"', "",
               "[devices.printer]", 'link = "network"', 'host = "127.0.0.1"', f"port = {printer_port}", ""]
    config_path.write_text("\n".join(lines[:start] + devices + lines[end:]), encoding="utf-8")


@contextlib.contextmanager
def kiosk_run(config):
    """`kiosk run --config` as systemd starts it, on a dummy display; killed if a test leaves it running."""
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy")
    process = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "run", "--config", str(config)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()


@pytest.mark.slow
def test_kiosk_run_starts_on_the_configured_devices_and_stops_on_sigterm(tmp_path, validator, printer):
    emulator, tty = validator
    config = write_config(tmp_path, gateway_mode="ok")
    configure_devices(config, tty, printer.port)
    assert validator_status(emulator)["phase"] == "power_up"
    with kiosk_run(config) as process:
        deadline = time.monotonic() + 30
        # The configured validator was reset and is polled (disabled until a payer confirms), and the
        # configured printer is asked for its status by the terminal's housekeeping.
        while time.monotonic() < deadline and (validator_status(emulator)["phase"] != "disabled"
                                               or DLE_EOT not in printer.received):
            assert process.poll() is None, process.stdout.read()
            time.sleep(0.2)
        assert validator_status(emulator)["phase"] == "disabled"
        assert DLE_EOT in printer.received
        assert process.poll() is None, process.stdout.read()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0


@pytest.mark.slow
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


def test_sigterm_while_the_terminal_is_still_starting_stops_it(tmp_path):
    # systemd may stop the kiosk at any moment; a stop before the screen loop existed used to be ignored.
    config = write_config(tmp_path, gateway_mode="ok")
    with kiosk_run(config) as process:
        deadline = time.monotonic() + 30
        while not (tmp_path / "journal.sqlite").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        process.send_signal(signal.SIGTERM)  # the journal exists: the terminal is starting, no screen yet
        assert process.wait(timeout=20) == 0
