"""The terminal's TUF client: root pinned at enrollment, `tuf.ngclient.Updater` for every piece of metadata, the
channel pointers and bundles as verified targets; bundles download resumably into a `.part` file that is bounded
by the signed length and checked against the signed hashes before it is used."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version
from tuf.api.exceptions import DownloadError, LengthOrHashMismatchError, RepositoryError
from tuf.api.metadata import TargetFile
from tuf.ngclient import Updater, UpdaterConfig

from kiosk.errors import KioskError
from kiosk.updates.fetch import RangeFetcher

POINTER_MAX = 4096


class UpdateRefused(KioskError):
    """Update metadata or a target that the terminal refuses (the TUF check that failed is in the message)."""


@dataclass(frozen=True)
class Offer:
    """A release the terminal's channels offer: version and its verified target description."""

    version: str
    target: TargetFile


def version_key(version: str) -> Version:
    """Versions compare as PEP 440 versions; anything else is refused."""
    try:
        return Version(version)
    except InvalidVersion as exc:
        raise UpdateRefused(f"release version {version!r} is not a version number") from exc


def pin_root(folder: Path, root: bytes) -> None:
    """Trust this root from now on (enrollment); a later root must be signed by it (TUF root rotation)."""
    from tuf.api.metadata import Metadata

    Metadata.from_bytes(root)  # a well-formed root, or nothing is written
    (folder / "metadata").mkdir(parents=True, exist_ok=True)
    from kiosk.offline_queue.files import write_atomically

    write_atomically(folder / "metadata" / "root.json", root)


class UpdateClient:
    """One terminal's view of the update repository at `base_url` (`…/metadata/`, `…/targets/`)."""

    def __init__(self, folder: Path, base_url: str, fetcher: RangeFetcher) -> None:
        self.folder, self.fetcher = folder, fetcher
        self.metadata_url = base_url.rstrip("/") + "/metadata/"
        self.targets_url = base_url.rstrip("/") + "/targets/"
        self.downloads = folder / "downloads"
        if not (folder / "metadata" / "root.json").is_file():
            raise UpdateRefused(f"{folder}: no pinned update root (it is pinned at enrollment)")
        self._updater = self._new_updater()

    def _new_updater(self) -> Updater:
        return Updater(str(self.folder / "metadata"), self.metadata_url, str(self.downloads), self.targets_url,
                       fetcher=self.fetcher, config=UpdaterConfig(), bootstrap=None)

    def refresh(self) -> None:
        """Top-level metadata: newer root(s), timestamp, snapshot, targets — each verified, none older or expired
        (an ngclient Updater refreshes once: each refresh starts from the metadata trusted on disk)."""
        self._updater = self._new_updater()
        try:
            self._updater.refresh()
        except (RepositoryError, DownloadError) as exc:
            raise UpdateRefused(f"update metadata refused: {type(exc).__name__}: {exc}") from exc

    def _target(self, path: str) -> TargetFile:
        try:
            info = self._updater.get_targetinfo(path)
        except (RepositoryError, DownloadError) as exc:
            raise UpdateRefused(f"{path}: {type(exc).__name__}: {exc}") from exc
        if info is None:
            raise UpdateRefused(f"{path}: not a signed target")
        return info

    def offer(self, channels: list[str]) -> Offer | None:
        """The newest release any of the channels points at (None when they point at none)."""
        best: Offer | None = None
        for channel in channels:
            try:
                info = self._target(f"channels/{channel}.json")
            except UpdateRefused as exc:
                if "not a signed target" in str(exc):
                    continue
                raise
            if info.length > POINTER_MAX:
                raise UpdateRefused(f"channel pointer {channel} is {info.length} bytes")
            pointer = json.loads(self._download_small(info))
            release = self._target(pointer["target"])
            custom = release.custom
            if custom.get("kind") != "release" or custom.get("version") != pointer["version"]:
                raise UpdateRefused(f"{pointer['target']}: signed as {custom}, the channel says {pointer['version']}")
            if best is None or version_key(pointer["version"]) > version_key(best.version):
                best = Offer(pointer["version"], release)
        return best

    def fetch_target(self, path: str) -> Path:
        """Any signed target (a theme pack `themes/<dealer>/<name>`, signed by the dealer's delegated role),
        downloaded resumably and verified; call refresh() first."""
        return self.download(self._target(path))

    def _download_small(self, info: TargetFile) -> bytes:
        try:
            path = self._updater.find_cached_target(info) or self._updater.download_target(info)
        except (RepositoryError, DownloadError) as exc:
            raise UpdateRefused(f"{info.path}: {type(exc).__name__}: {exc}") from exc
        return Path(path).read_bytes()

    def download(self, info: TargetFile, progress: object = None) -> Path:
        """A bundle on disk, verified against its signed length and hashes; an interrupted download resumes from
        its `.part` file; data beyond the signed length is refused (an endless response ends there)."""
        digest = info.hashes["sha256"]
        self.downloads.mkdir(parents=True, exist_ok=True)
        final = self.downloads / f"{digest}.{Path(info.path).name}"
        if final.is_file():
            if self._verified(info, final):
                return final
            final.unlink()
        part = final.with_name(final.name + ".part")
        have = part.stat().st_size if part.exists() else 0
        if have > info.length:
            part.unlink()
            have = 0
        folder, _, name = info.path.rpartition("/")
        url = f"{self.targets_url}{folder + '/' if folder else ''}{digest}.{name}"
        try:
            with open(part, "ab") as out:
                for chunk in self.fetcher.fetch_from(url, have):
                    have += len(chunk)
                    if have > info.length:
                        raise UpdateRefused(f"{info.path}: more data than the signed {info.length} bytes")
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except DownloadError as exc:
            raise UpdateRefused(f"{info.path}: download interrupted at {have} of {info.length} bytes "
                                f"(resumes next time): {exc}") from exc
        except UpdateRefused:
            part.unlink(missing_ok=True)
            raise
        if not self._verified(info, part):
            part.unlink()
            raise UpdateRefused(f"{info.path}: the data does not match the signed length and hash (tampered)")
        os.replace(part, final)
        return final

    @staticmethod
    def _verified(info: TargetFile, path: Path) -> bool:
        try:
            with open(path, "rb") as data:
                info.verify_length_and_hashes(data)
        except LengthOrHashMismatchError:
            return False
        return True
