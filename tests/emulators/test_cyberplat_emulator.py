"""The CyberPlat emulator as a process with the vendor's test keys, and the terminal's adapter against it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kiosk.gateways.base import Approved, Payable, Route
from kiosk.gateways.cyberplat import CyberplatGateway
from kiosk.money import Money
from tests.gateways.support import make_request

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "gateways" / "data" / "cyberplat"
EMULATOR = [sys.executable, "-m", "kiosk.emulators.processing.cli", "gateway", "--protocol", "cyberplat",
            "--port", "0"]


def centre_keys(tmp_path: Path) -> Path:
    """The centre's directory: the vendor's secret.key (serial 17033) and the ring with the dealer's key."""
    directory = tmp_path / "centre"
    directory.mkdir()
    for name in ("secret.key", "pubkeys.key"):
        shutil.copy(VECTORS / name, directory / name)
    return directory


@contextmanager
def emulator_process(*arguments: str, env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """The emulator started with arguments; yields it and its port, and never leaves it running."""
    proc = subprocess.Popen([*EMULATOR, *arguments], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=env)
    try:
        yield proc, int(proc.stdout.readline().strip().removeprefix("PORT="))  # type: ignore[union-attr]
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def test_adapter_checks_pays_and_confirms_against_the_emulator_process_with_vendor_keys(tmp_path):
    password_source = {"CP_KEY_PASSWORD": "1111111111", "PATH": "/usr/bin:/bin"}
    with emulator_process("--keys", str(centre_keys(tmp_path)), "--key-password-env", "CP_KEY_PASSWORD",
                          "--state-file", str(tmp_path / "state.json"), env=password_source) as (proc, port):
        gw = CyberplatGateway("cp", {
            "url": f"http://127.0.0.1:{port}/cgi-bin", "sd": "17031", "ap": "17032", "op": "17034",
            "secret_key": str(VECTORS / "secret.key"), "secret_key_password": "1111111111",
            "public_keys": str(VECTORS / "pubkeys.key"), "server_key_serial": 17033,
            "status_interval_seconds": 0, "timeout": 10})
        try:
            checked = gw.check(Route("cp", "mts"), "9161234567", Money(100_00), {})
            assert isinstance(checked, Payable) and checked.details["OPNAME"] == "MTS"
            request = make_request(code="mts")
            paid = gw.pay(request)
            assert isinstance(paid, Approved) and len(paid.external_id) == 13
            assert gw.status(request) == paid
        finally:
            gw.close()
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("status\nquit\n")
        proc.stdin.flush()
        assert "bookings=1" in proc.stdout.readline()
        assert proc.wait(timeout=10) == 0


def refused_start(*arguments: str) -> str:
    """Start the emulator expecting it to refuse (exit 2); what it said on stderr."""
    result = subprocess.run([*EMULATOR, *arguments], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            stdin=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 2, result
    return result.stderr


def test_emulator_refuses_to_start_with_a_wrong_password_and_says_why(tmp_path):
    said = refused_start("--keys", str(centre_keys(tmp_path)), "--key-password", "0000000000")
    assert "secret.key: wrong password" in said and "0000000000" not in said


def test_emulator_refuses_a_keys_directory_without_key_files(tmp_path):
    assert f"{tmp_path}: no secret.key" in refused_start("--keys", str(tmp_path))


def test_emulator_names_an_unset_password_variable(tmp_path):
    said = refused_start("--keys", str(centre_keys(tmp_path)), "--key-password-env", "CP_NOT_SET")
    assert "CP_NOT_SET (--key-password-env) is not set" in said
