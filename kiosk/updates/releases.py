"""Releases side by side: `releases/<version>/` each with its own virtual environment, a `current` link switched
atomically (a new link renamed over the old), a pending switch that must be confirmed healthy before a deadline,
else the previous release comes back and the failed version is marked bad for good.

A power cut at any moment leaves `current` naming a complete release: a release folder counts only once its
environment is installed and its marker written and synced last; the link is replaced by one rename."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from kiosk.errors import KioskError
from kiosk.offline_queue.files import write_atomically

MARKER = "release.json"  # written last into a release folder: the folder is complete
HEALTH_DEADLINE_S = 300  # the new release must confirm itself healthy within this
MAX_STARTS = 3  # starts of an unconfirmed release before it is given up (a crash loop at start-up)
FACTORY = "factory"  # the release the install script put in place: the last resort, never removed
Checkpoint = Callable[[str], None]


class UpdateError(KioskError):
    """An update step that failed, with the reason (the service is told)."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _no_checkpoint(step: str) -> None:
    """Production: nothing; tests kill the process at a named step to prove every step is power-cut safe."""


@dataclass
class UpdateState:
    """What `state.json` holds: a switch waiting for its health confirmation, versions given up, events to report."""

    pending: dict[str, Any] | None = None
    bad: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


def isolated_pip_env() -> dict[str, str]:
    """This environment without pip's configuration: only the bundle's wheels, no index or extra wheel folders."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PIP_")} | {"PIP_CONFIG_FILE": os.devnull}


def _order(version: str) -> tuple[int, Any]:
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)  # the factory release and hand-made names sort first


def report_healthy(root: Path, version: str, checks: list[str]) -> None:
    """What a started release writes once it is healthy (its journal reconciled, devices opened, READY sent, first
    heartbeat tried): one file, so any release, whatever code it carries, can say it; the guard confirms it."""
    (root / "health").mkdir(parents=True, exist_ok=True)
    write_atomically(root / "health" / version, json.dumps({"version": version, "checks": checks}).encode())


class Releases:
    """The update folder of a terminal (e.g. /var/lib/kiosk/updates)."""

    def __init__(self, root: Path, checkpoint: Checkpoint = _no_checkpoint, clock: Callable[[], float] = time.time,
                 deadline_s: float = HEALTH_DEADLINE_S, max_starts: int = MAX_STARTS) -> None:
        self.root = root
        self.releases = root / "releases"
        self.current_link = root / "current"
        self.state_file = root / "state.json"
        self.checkpoint, self.clock, self.deadline_s, self.max_starts = checkpoint, clock, deadline_s, max_starts

    # -- state -----------------------------------------------------------------------------------------------------

    def state(self) -> UpdateState:
        """The stored state (empty when none)."""
        try:
            return UpdateState(**json.loads(self.state_file.read_text()))
        except FileNotFoundError:
            return UpdateState()
        except (ValueError, TypeError) as exc:
            raise UpdateError(f"{self.state_file}: unreadable update state: {exc}") from exc

    def _save(self, state: UpdateState) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        write_atomically(self.state_file, json.dumps(state.__dict__, indent=2).encode())

    def _event(self, state: UpdateState, step: str, version: str, detail: str = "") -> None:
        state.events.append({"at": self.clock(), "step": step, "version": version, "detail": detail})
        del state.events[:-50]  # a terminal that cannot reach the service keeps the latest steps only

    def take_events(self) -> list[dict[str, Any]]:
        """Steps not yet reported (removed once taken: the caller reports them)."""
        state = self.state()
        events, state.events = state.events, []
        if events:
            self._save(state)
        return events

    def current(self) -> str | None:
        """The version `current` names (None before the first release)."""
        try:
            return Path(os.readlink(self.current_link)).name
        except FileNotFoundError:
            return None

    def complete(self, version: str) -> bool:
        """Whether a release folder is fully installed."""
        return (self.releases / version / MARKER).is_file()

    def installed(self) -> list[str]:
        """Complete releases on disk."""
        if not self.releases.is_dir():
            return []
        return sorted((p.name for p in self.releases.iterdir() if self.complete(p.name)), key=_order)

    # -- install ---------------------------------------------------------------------------------------------------

    def install(self, bundle: Path, version: str, python: str = sys.executable) -> Path:
        """Unpack a verified bundle into `releases/<version>/` and install its wheels into a new virtual
        environment there with `pip --no-index` (nothing from any index). The folder is built in place (scripts
        name their interpreter by its path) and counts only once its marker is written and synced last."""
        final = self.releases / version
        if version in self.state().bad:
            raise UpdateError(f"release {version} failed its health check before: not installed again")
        if self.complete(version):
            return final
        if version == self.current():
            raise UpdateError(f"release {version} is current but incomplete: not rebuilt under the running kiosk")
        self.releases.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(final, ignore_errors=True)  # what a power cut left of an earlier attempt
        try:
            self._unpack(bundle, final, version)
            self.checkpoint("unpacked")
            self._run([python, "-m", "venv", "--without-pip", str(final / "venv")], "creating the environment")
            self.checkpoint("venv")
            manifest = json.loads((final / "bundle.json").read_text())
            self._run([python, "-m", "pip", "--python", str(final / "venv" / "bin" / "python"), "install",
                       "--quiet", "--no-index", "--no-cache-dir", "--disable-pip-version-check",
                       "--find-links", str(final / "wheels"), f"{manifest['project']}=={version}"],
                      "installing the wheels")
            self.checkpoint("pip")
            shutil.rmtree(final / "wheels")  # installed: the bundle's copy is not needed twice on disk
            write_atomically(final / MARKER, json.dumps({"version": version, "installed_at": self.clock()}).encode())
            _fsync_dir(final)
            _fsync_dir(self.releases)
            self.checkpoint("marker")
        except BaseException:
            shutil.rmtree(final, ignore_errors=True)
            raise
        return final

    def _unpack(self, bundle: Path, work: Path, version: str) -> None:
        try:
            with tarfile.open(bundle) as tar:
                tar.extractall(work, filter="data")  # no links out, no absolute paths, no devices
        except (tarfile.TarError, OSError) as exc:
            raise UpdateError(f"bundle {bundle.name}: cannot unpack: {exc}") from exc
        manifest = json.loads((work / "bundle.json").read_text())
        if manifest.get("version") != version:
            raise UpdateError(f"bundle says version {manifest.get('version')!r}, the signed target {version!r}")

    def _run(self, command: list[str], what: str) -> None:
        done = subprocess.run(command, capture_output=True, text=True, env=isolated_pip_env())
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip()[-400:]
            full = "no space left on device" in tail.lower() or "errno 28" in tail.lower()
            raise UpdateError(f"{what} failed{' (disk full)' if full else ''}: {tail}")

    def remove_leftovers(self) -> list[str]:
        """Unfinished install folders (a power cut mid-install) and stray temporary links are removed."""
        removed = []
        current = self.current()
        if self.releases.is_dir():
            for path in self.releases.iterdir():
                if path.name != current and not self.complete(path.name):
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(path.name)
        for link in self.root.glob(".current-*"):
            link.unlink(missing_ok=True)
            removed.append(link.name)
        return removed

    # -- switch, confirm, roll back --------------------------------------------------------------------------------

    def _point_current(self, version: str) -> None:
        temporary = self.root / f".current-{os.getpid()}"
        temporary.unlink(missing_ok=True)
        os.symlink(Path("releases") / version, temporary)
        self.checkpoint("link-made")
        os.replace(temporary, self.current_link)  # atomic: the old link or the new, never neither
        _fsync_dir(self.root)

    def switch(self, version: str) -> None:
        """Make a complete release current; it must confirm itself healthy before the deadline."""
        state = self.state()
        if version in state.bad:
            raise UpdateError(f"release {version} failed its health check before")
        if not self.complete(version):
            raise UpdateError(f"release {version} is not completely installed")
        previous = self.current()
        (self.root / "health" / version).unlink(missing_ok=True)  # only a report from this start counts
        state.pending = {"version": version, "previous": previous, "deadline": self.clock() + self.deadline_s,
                         "starts": 0}
        self._event(state, "switched", version, f"from {previous}")
        self._save(state)  # first: a power cut after the rename finds the pending check
        self.checkpoint("pending-saved")
        self._point_current(version)
        self.checkpoint("switched")

    def confirm(self, version: str, detail: str = "") -> bool:
        """The running release says it is healthy; True if that ended a pending switch."""
        state = self.state()
        if not state.pending or state.pending["version"] != version or self.current() != version:
            return False
        state.pending = None
        self._event(state, "healthy", version, detail)
        self._save(state)
        return True

    def rollback(self, reason: str) -> str | None:
        """Bring the previous release back and mark the pending one bad; returns the version now current."""
        state = self.state()
        if not state.pending:
            return self.current()
        failed, previous = state.pending["version"], state.pending.get("previous")
        if failed not in state.bad:
            state.bad.append(failed)
        state.pending = None
        if previous and self.complete(previous):
            self._point_current(previous)
        self._event(state, "rolled_back", failed, f"{reason}; back to {previous}")
        self._save(state)
        if self.current() != failed:
            shutil.rmtree(self.releases / failed, ignore_errors=True)  # never used again: its space back
        return self.current()

    def guard(self, starting: bool = False) -> str:
        """Before every start (systemd ExecStartPre, `starting`: counts the start) and from the updater's timer:
        clean up, confirm a release that reported healthy, roll back one that crashed at start-up too often or
        missed its deadline. Returns what it did."""
        self.remove_leftovers()
        state = self.state()
        current = self.current()
        if current is not None and not self.complete(current):
            # Cannot happen through switch(); a hand-made link or a damaged disk: fall back to a complete one.
            fallback = state.pending.get("previous") if state.pending else None
            choices = [v for v in [fallback, *reversed(self.installed())] if v and v not in state.bad]
            if choices and self.complete(choices[0]):
                self._point_current(choices[0])
                return f"current named an incomplete release {current}: back to {choices[0]}"
        if not state.pending:
            return "nothing pending"
        version = state.pending["version"]
        if current != version:
            state.pending = None  # the switch never happened (power cut before the rename)
            self._save(state)
            return f"switch to {version} never happened"
        if (self.root / "health" / version).is_file():
            self.confirm(version, (self.root / "health" / version).read_text())
            return f"{version} confirmed healthy"
        if self.clock() > state.pending["deadline"]:
            return f"rolled back to {self.rollback('not healthy within the deadline')}"
        if not starting:
            return f"{version}: awaiting its health check"
        state.pending["starts"] += 1
        if state.pending["starts"] > self.max_starts:
            self._save(state)
            return f"rolled back to {self.rollback(f'started {self.max_starts} times without becoming healthy')}"
        self._save(state)
        return f"{version}: start {state.pending['starts']} of {self.max_starts} awaiting its health check"

    def prune(self, keep: int = 1) -> list[str]:
        """Remove old releases beyond the newest `keep` besides the current, the previous and the factory one
        (a release's environment is a few hundred MB)."""
        state = self.state()
        protect = {self.current(), FACTORY, state.pending.get("previous") if state.pending else None}
        candidates = [v for v in self.installed() if v not in protect]
        removed = candidates[:-keep] if keep else candidates
        for version in removed:
            shutil.rmtree(self.releases / version, ignore_errors=True)
        return removed
