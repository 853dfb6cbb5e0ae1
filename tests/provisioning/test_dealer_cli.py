"""`kiosk-dealer` from the command line: init, dealer/user/terminal add, revoke, list, crl, clear errors."""

from __future__ import annotations

import io
import json
import stat
import sys

import pytest
from cryptography import x509

from provisioning.cli import main
from provisioning.settings import Settings, SettingsError


def _run(capsys, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    old = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        code = main(list(argv))
    finally:
        sys.stdin = old
    out, err = capsys.readouterr()
    return code, out, err


def test_init_to_terminal_code_revoke_and_crl(tmp_path, capsys, db_url):
    state = str(tmp_path / "state")
    code, out, _ = _run(capsys, "--state", state, "--db", db_url, "init")
    assert code == 0 and "CA fingerprint: SHA256:" in out
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    code, _, err = _run(capsys, "--state", state, "init")
    assert code == 2 and "has a CA already" in err
    assert _run(capsys, "--state", state, "dealer", "add", "acme", "--name", "Acme")[0] == 0
    code, _, err = _run(capsys, "--state", state, "user", "add", "--dealer", "acme", "--email", "a@acme.test",
                        "--role", "admin", "--password-stdin", stdin="short\n")
    assert code == 2 and "password: at least 10 characters" in err
    assert _run(capsys, "--state", state, "user", "add", "--dealer", "acme", "--email", "a@acme.test", "--role",
                "admin", "--password-stdin", stdin="long enough password\n")[0] == 0
    code, out, _ = _run(capsys, "--state", state, "terminal", "add", "--dealer", "acme", "--number", "10001",
                        "--address", "Tverskaya 7", "--group", "centre")
    assert code == 0 and "one-time enrollment code" in out and "kiosk enroll --dealer" in out
    code, _, err = _run(capsys, "--state", state, "terminal", "add", "--dealer", "acme", "--number", "10001")
    assert code == 2 and "terminal 10001 exists already" in err
    code, _, err = _run(capsys, "--state", state, "terminal", "add", "--dealer", "acme", "--number", "2",
                        "--timezone", "Mars/Olympus")
    assert code == 2 and "unknown time zone 'Mars/Olympus'" in err
    assert _run(capsys, "--state", state, "terminal", "revoke", "--dealer", "acme", "--number", "10001")[0] == 0
    code, out, _ = _run(capsys, "--state", state, "terminal", "list", "--dealer", "acme")
    assert code == 0 and out.startswith("10001\trevoked")
    code, out, _ = _run(capsys, "--state", state, "crl")
    assert code == 0 and len(x509.load_pem_x509_crl(out.encode())) == 0  # revoked before it held a certificate
    code, _, err = _run(capsys, "--state", state, "terminal", "list", "--dealer", "nobody")
    assert code == 2 and "no dealer 'nobody'" in err


def test_settings_errors_name_the_file_and_key(tmp_path):
    with pytest.raises(SettingsError, match="service.json: not found; run `kiosk-dealer init`"):
        Settings.load(tmp_path)
    (tmp_path / "service.json").write_text(json.dumps({"db_url": "sqlite://", "colour": "red"}))
    with pytest.raises(SettingsError, match=r"service.json: unknown key\(s\) \['colour'\]"):
        Settings.load(tmp_path)
