"""Releases side by side: installed with pip --no-index into their own environment, switched atomically, confirmed
healthy or rolled back (a crash at start-up, a release that never reports healthy), bad versions never retried,
a full disk, and SIGKILL at every step of install and switch — the terminal always starts on a complete release."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kiosk.updates.releases import Releases, UpdateError, report_healthy
from tests.updates.helpers import fake_bundle

STEPS = ["unpacked", "venv", "pip", "marker", "pending-saved", "link-made", "switched"]


def _bundle(tmp_path: Path, version: str, behaviour: str = "healthy") -> Path:
    path = tmp_path / f"kiosk-{version}-{behaviour}.tar"
    if not path.exists():
        path.write_bytes(fake_bundle(tmp_path, version, behaviour))
    return path


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """An update folder with release 1.0.0 installed, current and confirmed (copied for each test)."""
    root = tmp_path_factory.mktemp("base") / "updates"
    releases = Releases(root)
    releases.install(_bundle(root.parent, "1.0.0"), "1.0.0")
    releases.switch("1.0.0")
    report_healthy(root, "1.0.0", ["test"])
    releases.guard()
    releases.take_events()
    return root


def _run_supervised(releases: Releases, seconds: float) -> list[str]:
    """What systemd does for the kiosk unit: the guard before each start, restart on exit (Restart=always), the
    updater's timer running the guard; until the pending switch is settled or `seconds` pass."""
    log = []
    deadline = time.monotonic() + seconds
    env = {**os.environ, "KIOSK_UPDATES_ROOT": str(releases.root)}
    while time.monotonic() < deadline:
        log.append(releases.guard(starting=True))  # ExecStartPre
        process = subprocess.Popen([str(releases.current_link / "venv" / "bin" / "kiosk"), "run"], env=env)
        try:
            while process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
                log.append(releases.guard())  # the updater timer
                if releases.state().pending is None:
                    return log
                if "rolled back" in log[-1]:
                    break  # the timer's guard restarts the kiosk on the release it brought back
        finally:
            process.kill()
            process.wait()
        if releases.state().pending is None:
            return log
    return log


def test_a_release_installs_side_by_side_with_its_own_environment(base):
    releases = Releases(base)
    path = releases.install(_bundle(base.parent, "1.1.0"), "1.1.0")
    try:
        done = subprocess.run([str(path / "venv" / "bin" / "python"), "-I", "-c",
                               "import kiosk, kiosk_fake_dep; print(kiosk.__version__, kiosk_fake_dep.VALUE)"],
                              capture_output=True, text=True, check=True)
        assert done.stdout.split() == ["1.1.0", "42"]
        assert releases.current() == "1.0.0" and releases.installed() == ["1.0.0", "1.1.0"]
        assert not (path / "wheels").exists()  # installed once, not kept twice
    finally:
        shutil.rmtree(path)


def test_a_healthy_release_is_confirmed_after_the_switch(base):
    releases = Releases(base)
    releases.install(_bundle(base.parent, "1.2.0"), "1.2.0")
    try:
        releases.switch("1.2.0")
        log = _run_supervised(releases, 20)
        assert releases.current() == "1.2.0" and releases.state().pending is None, log
        assert [e["step"] for e in releases.take_events()] == ["switched", "healthy"]
    finally:
        _restore(releases, "1.0.0", "1.2.0")


def _restore(releases: Releases, good: str, remove: str) -> None:
    state = releases.state()
    state.pending = None
    state.bad = [v for v in state.bad if v != remove]
    releases._save(state)
    releases._point_current(good)
    shutil.rmtree(releases.releases / remove, ignore_errors=True)
    (releases.root / "health" / remove).unlink(missing_ok=True)
    releases.take_events()


@pytest.mark.parametrize("behaviour,why", [("crash", "without becoming healthy"),
                                           ("hang", "not healthy within the deadline")])
def test_a_release_that_never_becomes_healthy_is_rolled_back_and_never_retried(base, behaviour, why):
    releases = Releases(base, deadline_s=1.5)
    version = "2.0.0" if behaviour == "crash" else "2.1.0"
    bundle = _bundle(base.parent, version, behaviour)
    releases.install(bundle, version)
    try:
        releases.switch(version)
        started = time.monotonic()
        log = _run_supervised(releases, 20)
        assert releases.current() == "1.0.0", log
        assert version in releases.state().bad
        events = releases.take_events()
        assert events[-1]["step"] == "rolled_back" and why in events[-1]["detail"]
        print(f"rolled back from a {behaviour} release in {time.monotonic() - started:.2f} s")
        with pytest.raises(UpdateError, match="failed its health check before"):
            releases.install(bundle, version)
        with pytest.raises(UpdateError, match="failed its health check before"):
            releases.switch(version)
    finally:
        _restore(releases, "1.0.0", version)


def test_a_full_disk_during_install_leaves_no_partial_release(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)]).returncode != 0:
        pytest.skip("this machine refuses to mount a tmpfs")
    try:
        bundle = _bundle(tmp_path, "1.3.0")
        releases = Releases(mount / "updates")
        filler = mount / "filler"
        free = shutil.disk_usage(mount).free
        filler.write_bytes(b"\0" * (free - 8 * 1024))
        with pytest.raises(UpdateError, match="(disk full|No space left)"):
            releases.install(bundle, "1.3.0")
        assert not (releases.releases / "1.3.0").exists() and releases.installed() == []
        filler.unlink()
        releases.install(bundle, "1.3.0")
        assert releases.installed() == ["1.3.0"]
    finally:
        subprocess.run(["umount", "-l", str(mount)])


KILLER = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from kiosk.updates.releases import Releases
    root, bundle, version, step = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
    def checkpoint(name):
        if name == step:
            os.kill(os.getpid(), signal.SIGKILL)
    releases = Releases(root, checkpoint=checkpoint)
    releases.install(bundle, version)
    releases.switch(version)
""")


def test_sigkill_at_every_step_of_install_and_switch_leaves_a_complete_current_release(base):
    bundle = _bundle(base.parent, "3.0.0")
    releases = Releases(base)
    for step in STEPS:
        if step == "pending-saved":  # the switch's steps: the release is installed once, completely
            releases.install(bundle, "3.0.0")
        done = subprocess.run([sys.executable, "-c", KILLER, str(base), str(bundle), "3.0.0", step],
                              cwd=Path(__file__).resolve().parents[2])
        assert done.returncode == -signal.SIGKILL, step
        releases.guard(starting=True)  # what the next start of the kiosk runs first
        current = releases.current()
        assert current in ("1.0.0", "3.0.0") and releases.complete(current), step
        assert not list(base.glob(".current-*")), step
        assert all(releases.complete(p.name) for p in releases.releases.iterdir()), step
        if step == "switched":
            assert current == "3.0.0" and releases.state().pending["version"] == "3.0.0"
        else:
            assert current == "1.0.0" and releases.state().pending is None, step
        if step in ("unpacked", "venv", "pip"):
            assert not (releases.releases / "3.0.0").exists(), step  # the unfinished folder is gone
        state = releases.state()
        state.pending = None
        releases._save(state)
        releases._point_current("1.0.0")
        if STEPS.index(step) < STEPS.index("pending-saved"):
            shutil.rmtree(releases.releases / "3.0.0", ignore_errors=True)
    _restore(releases, "1.0.0", "3.0.0")
