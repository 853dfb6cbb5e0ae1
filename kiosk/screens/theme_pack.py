"""Theme packs as uploaded and delivered: a zip of a manifest, images and fonts, checked before anything uses it.

The same code runs in the dealer service (on upload, before a preview is rendered) and on the terminal (on
delivery, before the pack is installed): a pack one accepts, the other accepts. A pack is untrusted input, so
the checks come before any file is written: sizes from the zip's directory are bounded, then every entry is
read with a cap (a directory may lie), names must be plain file names at the top of the pack (no folders, no
'..', no absolute paths), links and other special entries are refused, images must decode as PNG or JPEG of a
bounded size, fonts must load as TrueType/OpenType, and the manifest must pass the terminal's own theme reader
(kiosk/screens/theme.py). Installed packs are immutable folders named by their content, written under a temporary
name and renamed into place, so a crash leaves either the whole pack or none.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kiosk.errors import ConfigError
from kiosk.screens.theme import MANIFEST, Theme, read_theme

MAX_PACK_BYTES = 8 * 1024 * 1024  # the zip as uploaded or delivered
MAX_FILES = 64
MAX_FILE_BYTES = 6 * 1024 * 1024  # one file, uncompressed
MAX_TOTAL_BYTES = 24 * 1024 * 1024  # all files, uncompressed
#: uncompressed ÷ compressed for one file: fonts and pictures compress a few times at most; a bomb, thousands
MAX_RATIO = 40
MAX_IMAGE_SIDE = 4096  # pixels: a larger picture is a memory bomb on a terminal, not a kiosk advert
IMAGES = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
FONTS = (".ttf", ".otf")
#: a pack's id on the terminal and in configuration: the pattern of a theme folder name (kiosk/config.py)
PACK_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


class ThemePackError(ValueError):
    """The pack is refused; the message says which rule it broke, naming the file."""


@dataclass(frozen=True)
class ThemePack:
    """A checked pack: its files by name, its SHA-256, and the names the manifest gives it ({ru, en})."""

    files: Mapping[str, bytes]
    sha256: str
    name: Mapping[str, str]

    def folder_name(self, pack_id: str) -> str:
        """The installed folder's name: the pack's id and the start of its hash (a new upload is a new folder)."""
        return f"{pack_id}-{self.sha256[:12]}"


def check_pack(data: bytes) -> ThemePack:
    """The pack in data, checked by every rule; ThemePackError says the first rule it breaks."""
    if len(data) > MAX_PACK_BYTES:
        raise ThemePackError(f"the pack is {len(data)} bytes; at most {MAX_PACK_BYTES} are accepted")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ThemePackError(f"not a zip file: {exc}") from None
    with archive:
        entries = archive.infolist()
        if len(entries) > MAX_FILES:
            raise ThemePackError(f"the pack has {len(entries)} entries; at most {MAX_FILES} are accepted")
        for entry in entries:
            _check_entry(entry)
        total = sum(entry.file_size for entry in entries)
        if total > MAX_TOTAL_BYTES:
            raise ThemePackError(f"the files add up to {total} bytes uncompressed; at most {MAX_TOTAL_BYTES}")
        names = [entry.filename for entry in entries]
        if len(set(n.casefold() for n in names)) != len(names):
            raise ThemePackError("two entries have the same name")
        if MANIFEST not in names:
            raise ThemePackError(f"the pack has no {MANIFEST} at its top")
        files = {entry.filename: _read(archive, entry) for entry in entries}
    for name, content in files.items():
        _check_content(name, content)
    theme = _check_manifest(files)
    return ThemePack(files, hashlib.sha256(data).hexdigest(), dict(theme.name))


def _check_entry(entry: zipfile.ZipInfo) -> None:
    """The rules that need only the zip's directory: name, kind of entry, sizes, compression ratio."""
    name = entry.filename
    if entry.is_dir() or "/" in name or "\\" in name:
        raise ThemePackError(f"{name!r}: folders are not allowed; every file goes at the top of the pack")
    if name.startswith(".") or ".." in name or ":" in name or not _FILE_NAME.fullmatch(name):
        raise ThemePackError(f"{name!r}: a file name may hold only letters, digits, '.', '_' and '-'")
    mode = entry.external_attr >> 16
    if entry.create_system == 3 and stat.S_IFMT(mode) not in (0, stat.S_IFREG):
        kind = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file"
        raise ThemePackError(f"{name!r} is {kind}; only plain files are allowed")
    suffix = Path(name).suffix.lower()
    if name != MANIFEST and suffix not in IMAGES and suffix not in FONTS:
        raise ThemePackError(f"{name!r}: only {MANIFEST}, PNG/JPEG images and TTF/OTF fonts are allowed")
    if entry.file_size > MAX_FILE_BYTES:
        raise ThemePackError(f"{name!r} is {entry.file_size} bytes uncompressed; at most {MAX_FILE_BYTES}")
    if entry.file_size > MAX_RATIO * max(entry.compress_size, 1) and entry.file_size > 64 * 1024:
        raise ThemePackError(f"{name!r} expands {entry.file_size // max(entry.compress_size, 1)} times; "
                             f"at most {MAX_RATIO} (a zip bomb?)")


def _read(archive: zipfile.ZipFile, entry: zipfile.ZipInfo) -> bytes:
    """The entry's bytes, never more than its directory promised (a forged size is caught here)."""
    try:
        with archive.open(entry) as handle:
            content = handle.read(entry.file_size + 1)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError) as exc:
        raise ThemePackError(f"{entry.filename!r} cannot be read: {exc}") from None
    if len(content) != entry.file_size:
        raise ThemePackError(f"{entry.filename!r} is not the size the zip's directory says")
    return content


def _check_content(name: str, content: bytes) -> None:
    """Images decode as what their name says, within MAX_IMAGE_SIDE; fonts load."""
    suffix = Path(name).suffix.lower()
    if suffix in IMAGES:
        from PIL import Image

        try:
            with Image.open(io.BytesIO(content)) as image:
                kind, size = image.format, image.size
                image.verify()
        except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds for a broken file: all mean "refused"
            raise ThemePackError(f"{name!r} is not a readable image: {exc}") from None
        if kind != IMAGES[suffix]:
            raise ThemePackError(f"{name!r} is {kind or 'unknown'} inside, not {IMAGES[suffix]} as its name says")
        if max(size) > MAX_IMAGE_SIDE:
            raise ThemePackError(f"{name!r} is {size[0]}×{size[1]} pixels; at most {MAX_IMAGE_SIDE} a side")
    elif suffix in FONTS:
        from PIL import ImageFont

        try:
            ImageFont.truetype(io.BytesIO(content), 20)
        except Exception as exc:  # noqa: BLE001 - FreeType's refusals arrive as OSError or ValueError
            raise ThemePackError(f"{name!r} is not a TrueType or OpenType font: {exc}") from None


def _check_manifest(files: Mapping[str, bytes]) -> Theme:
    """The manifest as the terminal reads it (colours and contrast, fonts, sizes, images it names)."""
    with tempfile.TemporaryDirectory(prefix="kiosk-theme-check-") as temp:
        folder = Path(temp) / "pack"
        folder.mkdir()
        for name, content in files.items():
            (folder / name).write_bytes(content)
        try:
            return read_theme(folder)
        except ConfigError as exc:
            # the temporary folder means nothing to the dealer reading this: the pack is what they sent
            raise ThemePackError(str(exc).replace(str(folder) + os.sep, "").replace(str(folder), "the pack")) from None


def install_pack(pack: ThemePack, themes_dir: Path, pack_id: str) -> str:
    """Write the pack into themes_dir as its own folder (atomically: whole or absent); returns the folder name.

    Installing the same pack again changes nothing. The terminal's theme reader checks the folder once more.
    """
    if not PACK_ID.fullmatch(pack_id):
        raise ThemePackError(f"{pack_id!r} is not a theme id (lower-case letters, digits, '-' and '_')")
    themes_dir.mkdir(parents=True, exist_ok=True)
    name = pack.folder_name(pack_id)
    target = themes_dir / name
    if (target / MANIFEST).is_file():
        return name
    temp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=themes_dir))
    try:
        for file_name, content in pack.files.items():
            fd = os.open(temp / file_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                os.write(fd, content)
                os.fsync(fd)
            finally:
                os.close(fd)
        os.chmod(temp, 0o755)
        try:
            os.rename(temp, target)
        except OSError:
            # another installer (the poller and a sync at once) put the same content-named pack there first
            if not (target / MANIFEST).is_file():
                raise
            shutil.rmtree(temp, ignore_errors=True)
            return name
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    fd = os.open(themes_dir, os.O_RDONLY)  # the rename itself made durable
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return name


def pack_folder(folder: Path) -> bytes:
    """A theme folder as a pack (the bundled themes, for tests and for a dealer's starting point)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            if path.is_file():
                archive.write(path, path.name)
    return out.getvalue()
