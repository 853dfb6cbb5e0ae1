"""A release bundle: one uncompressed tar of the kiosk wheel and every wheel it depends on, plus `bundle.json`
naming the version; a terminal installs it with `pip install --no-index` (wheels are compressed already)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from kiosk.updates.releases import isolated_pip_env

MANIFEST = "bundle.json"
PROJECT = "kiosk"


class BundleError(Exception):
    """Wheels that do not make a release, with the reason."""


def _wheel_name(path: Path) -> tuple[str, str]:
    parts = path.name[:-4].split("-")
    if not path.name.endswith(".whl") or len(parts) < 5:
        raise BundleError(f"{path}: not a wheel file (name-version-…-platform.whl)")
    return parts[0].lower().replace("_", "-"), parts[1]


def build_bundle(wheels: list[Path], version: str, project: str = PROJECT, check: bool = True) -> bytes:
    """The bundle's bytes; with `check`, pip resolves `project==version` from these wheels alone (nothing from an
    index), so a bundle missing a dependency is refused here rather than on a terminal."""
    files = sorted({w.absolute() for w in wheels})
    names = {_wheel_name(w) for w in files}
    if (project, version) not in names:
        raise BundleError(f"no {project} wheel of version {version} among {[w.name for w in files]}")
    if check:
        with tempfile.TemporaryDirectory() as scratch:
            for wheel in files:
                (Path(scratch) / wheel.name).symlink_to(wheel)
            done = subprocess.run(
                [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--no-index", "--ignore-installed",
                 "--find-links", scratch, f"{project}=={version}"], capture_output=True, text=True,
                env=isolated_pip_env())
            if done.returncode != 0:
                raise BundleError(f"the wheels do not install on their own: {done.stderr.strip()[-600:]}")
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        manifest = json.dumps({"project": project, "version": version,
                               "wheels": [w.name for w in files]}, indent=2).encode()
        _add(tar, MANIFEST, manifest)
        for wheel in files:
            _add(tar, f"wheels/{wheel.name}", wheel.read_bytes())
    return out.getvalue()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 0  # reproducible: same wheels, same bytes
    tar.addfile(info, io.BytesIO(data))


def release_target(version: str) -> str:
    """The TUF target path of a release bundle."""
    return f"releases/{PROJECT}-{version}.tar"


def channel_target(channel: str) -> str:
    """The TUF target path of a channel's pointer (which release the channel runs)."""
    return f"channels/{channel}.json"
