"""tools/install-terminal.sh turns a fresh Debian 12 (debootstrap, in a chroot) into a terminal: the user without a
shell, the factory install from the wheels alone, state folders owned by the kiosk user, `current` naming the
factory release, the units enabled and accepted by systemd-analyze in that system, gettys masked.

Slow (a Debian mirror, about five minutes): kept out of `./dev test` and run by `.ci/run` as its own step; skipped where there is no root, no debootstrap or no mirror."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MIRROR = os.environ.get("KIOSK_DEBIAN_MIRROR", "http://deb.debian.org/debian")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _unavailable() -> str:
    if os.geteuid() != 0:
        return "needs root (debootstrap, chroot)"
    if shutil.which("debootstrap") is None:
        return "debootstrap is not installed (.ci/run installs it)"
    try:
        urllib.request.urlopen(f"{MIRROR}/dists/bookworm/Release", timeout=10).close()
    except OSError as exc:
        return f"the Debian mirror {MIRROR} is not reachable: {exc}"
    return ""


def _chroot(root: Path, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["chroot", str(root), *command], capture_output=True, text=True, timeout=600)


@pytest.mark.install_chroot
@pytest.mark.timeout(1800)
def test_install_script_makes_a_terminal_of_a_fresh_debian_12(tmp_path):
    problem = _unavailable()
    if problem:
        if IN_CI and "mirror" not in problem:
            pytest.fail(problem)
        pytest.skip(problem)
    root = tmp_path / "debian"
    subprocess.run(["debootstrap", "--variant=minbase", "--include=python3,python3-venv", "bookworm", str(root),
                    MIRROR], check=True, capture_output=True, timeout=1200)
    wheels = root / "tmp" / "wheels"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "-w", str(wheels), str(REPO)],
                           capture_output=True, text=True, timeout=1200)
    assert built.returncode == 0, built.stderr[-2000:]
    source = root / "tmp" / "src"
    for part in ("systemd", "udev", "polkit", "tools"):
        shutil.copytree(REPO / part, source / part)
    shutil.copy(REPO / "kiosk" / "data" / "demo" / "terminal.toml", root / "tmp" / "terminal.toml")
    shutil.copy("/etc/resolv.conf", root / "etc" / "resolv.conf")
    proc = root / "proc"
    subprocess.run(["mount", "-t", "proc", "proc", str(proc)], check=True)
    try:
        done = _chroot(root, "/bin/sh", "/tmp/src/tools/install-terminal.sh", "--wheels", "/tmp/wheels",
                       "--config", "/tmp/terminal.toml", "--source", "/tmp/src")
        assert done.returncode == 0, done.stdout + done.stderr
        again = _chroot(root, "/bin/sh", "/tmp/src/tools/install-terminal.sh", "--wheels", "/tmp/wheels",
                        "--config", "/tmp/terminal.toml", "--source", "/tmp/src")
        assert again.returncode == 0, again.stderr  # idempotent: a repair run changes nothing that works

        assert _chroot(root, "getent", "passwd", "kiosk").stdout.strip().endswith(":/var/lib/kiosk:/usr/sbin/nologin")
        groups = _chroot(root, "id", "-nG", "kiosk").stdout.split()
        assert {"dialout", "lp", "video", "input"} <= set(groups)
        status = _chroot(root, "su", "-s", "/bin/sh", "kiosk", "-c",
                         "/opt/kiosk/.venv/bin/kiosk update status --root /var/lib/kiosk/updates")
        assert '"current": "factory"' in status.stdout, status.stderr
        guard = _chroot(root, "su", "-s", "/bin/sh", "kiosk", "-c",
                        "/opt/kiosk/.venv/bin/kiosk update guard --start --root /var/lib/kiosk/updates")
        assert "nothing pending" in guard.stdout, guard.stderr
        current = _chroot(root, "/var/lib/kiosk/updates/current/venv/bin/kiosk", "--version")
        assert current.stdout.startswith("kiosk "), current.stderr
        owner = _chroot(root, "stat", "-c", "%U %a", "/var/lib/kiosk", "/etc/kiosk/terminal.toml").stdout.split("\n")
        assert owner[:2] == ["kiosk 750", "root 640"]
        wants = root / "etc" / "systemd" / "system"
        assert (wants / "graphical.target.wants" / "kiosk.service").is_symlink()
        assert (wants / "graphical.target.wants" / "kiosk-compositor.service").is_symlink()
        assert (wants / "timers.target.wants" / "kiosk-updater.timer").is_symlink()
        assert os.readlink(wants / "getty@tty2.service") == "/dev/null"
        # the remote reboot: polkitd is there to read the rule that lets user kiosk (only) reboot
        rule = root / "etc" / "polkit-1" / "rules.d" / "50-kiosk.rules"
        assert rule.read_text() == (REPO / "polkit" / "50-kiosk.rules").read_text() and (rule.stat().st_mode & 0o777) == 0o644
        assert _chroot(root, "dpkg-query", "-W", "-f", "${Status}", "polkitd").stdout == "install ok installed"
        for unit in ("kiosk.service", "kiosk-compositor.service", "kiosk-updater.service", "kiosk-updater.timer"):
            verify = subprocess.run(["systemd-analyze", "verify", f"--root={root}", unit], capture_output=True,
                                    text=True)
            complaints = [line for line in verify.stderr.splitlines()
                          if "RestartSteps" not in line and "RestartMaxDelaySec" not in line]
            assert verify.returncode == 0 and not complaints, f"{unit}: {complaints}"
    finally:
        subprocess.run(["umount", str(proc)], check=False)
        if not os.path.ismount(proc):  # never remove a tree with a file system still mounted in it
            shutil.rmtree(root, ignore_errors=True)
