"""The version an update is compared with: a release folder's name, else the installed package's version (the
factory release is named `factory`, not a version, and must not stop updates)."""

from __future__ import annotations

import importlib.metadata

from kiosk.updates.agent import running_version
from kiosk.updates.releases import MARKER, Releases


def _release(releases: Releases, name: str) -> None:
    (releases.releases / name).mkdir(parents=True)
    (releases.releases / name / MARKER).write_text("{}")
    releases._point_current(name)


def test_a_versioned_release_is_its_folder_name(tmp_path):
    releases = Releases(tmp_path / "updates")
    _release(releases, "2.3.1")
    assert running_version(releases) == "2.3.1"


def test_the_factory_release_is_the_installed_package_version(tmp_path):
    releases = Releases(tmp_path / "updates")
    _release(releases, "factory")
    assert running_version(releases) == importlib.metadata.version("kiosk")
