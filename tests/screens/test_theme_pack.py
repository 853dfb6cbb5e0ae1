"""Theme packs: every rule refuses a pack that breaks it, with a message naming the file; good packs install
whole, once, under a name that changes with their content."""

from __future__ import annotations

import io
import os
import stat
import tempfile
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from kiosk.screens.theme import FONTS_DIR, THEMES_DIR, read_theme
from kiosk.screens.theme_pack import (
    MAX_FILE_BYTES,
    MAX_FILES,
    MAX_IMAGE_SIDE,
    MAX_PACK_BYTES,
    ThemePackError,
    check_pack,
    install_pack,
    pack_folder,
)

DEFAULT = THEMES_DIR / "default"


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def zipped(files: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED,
           extra: list[zipfile.ZipInfo] | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
        for info in extra or []:
            archive.writestr(info, b"target")
    return out.getvalue()


def png(width: int = 4, height: int = 4, kind: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 20, 30)).save(out, kind)
    return out.getvalue()


def refused(data: bytes, *words: str) -> str:
    with pytest.raises(ThemePackError) as caught:
        check_pack(data)
    message = str(caught.value)
    for word in words:
        assert word in message, message
    return message


def test_the_bundled_themes_pass_as_packs() -> None:
    for folder in sorted(p for p in THEMES_DIR.iterdir() if p.is_dir()):
        pack = check_pack(pack_folder(folder))
        assert pack.name == read_theme(folder).name
        assert set(pack.files) == set(files_of(folder))


def test_a_pack_with_its_own_fonts_passes() -> None:
    files = files_of(DEFAULT)
    files["Brand.ttf"] = (FONTS_DIR / "DejaVuSansMono.ttf").read_bytes()
    files["manifest.toml"] = files["manifest.toml"].replace(b'regular = "DejaVuSans.ttf"', b'regular = "Brand.ttf"')
    assert "Brand.ttf" in check_pack(zipped(files)).files


def test_a_pack_too_large_or_not_a_zip_is_refused() -> None:
    refused(b"\0" * (MAX_PACK_BYTES + 1), "bytes", str(MAX_PACK_BYTES))
    refused(b"PK\x03\x04 not really", "not a zip")


def test_too_many_files_are_refused() -> None:
    files = files_of(DEFAULT) | {f"ad-{n}.png": png() for n in range(MAX_FILES)}
    refused(zipped(files), "entries", str(MAX_FILES))


@pytest.mark.parametrize("name", ["../evil.png", "/etc/evil.png", "sub/logo.png", "sub\\logo.png", "c:evil.png",
                                  ".hidden.png", "a..b.png"])
def test_paths_that_could_leave_the_folder_are_refused(name: str) -> None:
    refused(zipped(files_of(DEFAULT) | {name: png()}), repr(name))


def test_a_folder_entry_is_refused() -> None:
    refused(zipped(files_of(DEFAULT), extra=[zipfile.ZipInfo("fonts/")]), "folders are not allowed")


def test_a_symbolic_link_is_refused() -> None:
    link = zipfile.ZipInfo("logo2.png")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    refused(zipped(files_of(DEFAULT), extra=[link]), "'logo2.png'", "symbolic link")


@pytest.mark.parametrize("name", ["run.sh", "manifest.json", "logo.gif", "font.woff"])
def test_files_of_other_kinds_are_refused(name: str) -> None:
    refused(zipped(files_of(DEFAULT) | {name: b"x"}), repr(name), "only manifest.toml")


def test_a_zip_bomb_is_refused_by_its_ratio_and_its_size() -> None:
    bomb = zipped(files_of(DEFAULT) | {"ad-bomb.png": b"\0" * (2 * 1024 * 1024)})
    refused(bomb, "'ad-bomb.png'", "expands", "zip bomb")
    huge = zipped(files_of(DEFAULT) | {"ad-huge.png": b"\0" * (MAX_FILE_BYTES + 1)}, zipfile.ZIP_STORED)
    refused(huge, "'ad-huge.png'", str(MAX_FILE_BYTES))


def test_a_directory_that_lies_about_a_size_is_caught_on_reading() -> None:
    data = bytearray(zipped(files_of(DEFAULT), zipfile.ZIP_STORED))
    # the central directory's uncompressed size of logo.png, made smaller than the data it stands for
    index = data.rindex(b"logo.png") - 46 + 24
    real = int.from_bytes(data[index:index + 4], "little")
    data[index:index + 4] = (real - 10).to_bytes(4, "little")
    refused(bytes(data), "logo.png")


def test_a_pack_without_a_manifest_is_refused() -> None:
    files = files_of(DEFAULT)
    del files["manifest.toml"]
    refused(zipped(files), "no manifest.toml")


def test_pictures_must_be_what_their_names_say() -> None:
    refused(zipped(files_of(DEFAULT) | {"logo.png": b"\x89PNG\r\n\x1a\n broken"}), "'logo.png'", "not a readable image")
    refused(zipped(files_of(DEFAULT) | {"logo.png": png(kind="JPEG")}), "'logo.png'", "JPEG inside")


def test_a_picture_too_large_to_decode_safely_is_refused() -> None:
    big = png(MAX_IMAGE_SIDE + 1, 2)
    refused(zipped(files_of(DEFAULT) | {"logo.png": big}), "'logo.png'", str(MAX_IMAGE_SIDE))


def test_a_font_that_does_not_load_is_refused() -> None:
    refused(zipped(files_of(DEFAULT) | {"Brand.ttf": b"\x00\x01\x00\x00 not a font"}), "'Brand.ttf'", "font")


@pytest.mark.parametrize(("old", "new", "words"), [
    (b'text = "#111827"', b'text = "#EEEEEE"', ("colours.text", "contrast")),
    (b"version = 1", b"version = 7", ("version", "expected 1")),
    (b'logo = "logo.png"', b'logo = "missing.png"', ("missing.png", "not found")),
    (b"base = 28", b"base = 8", ("sizes.base",)),
])
def test_the_manifest_is_checked_by_the_terminals_own_reader(old: bytes, new: bytes, words: tuple[str, ...]) -> None:
    files = files_of(DEFAULT)
    assert old in files["manifest.toml"]
    files["manifest.toml"] = files["manifest.toml"].replace(old, new)
    message = refused(zipped(files), *words)
    assert "kiosk-theme-check" not in message  # the temporary folder is no part of what the dealer reads


def test_install_is_whole_once_and_by_content(tmp_path: Path) -> None:
    pack = check_pack(pack_folder(DEFAULT))
    name = install_pack(pack, tmp_path, "brand")
    assert name.startswith("brand-") and read_theme(tmp_path / name).name == pack.name
    assert install_pack(pack, tmp_path, "brand") == name  # again: nothing changes
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temporary folder left behind
    other = check_pack(pack_folder(THEMES_DIR / "dark"))
    assert install_pack(other, tmp_path, "brand") != name  # a new upload never overwrites a folder in use
    with pytest.raises(ThemePackError, match="not a theme id"):
        install_pack(pack, tmp_path, "../up")


def test_two_installs_of_one_pack_at_once_both_succeed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the background sync and a `sync_now` command race: the other installer's rename lands first
    pack = check_pack(pack_folder(DEFAULT))
    name = install_pack(pack, tmp_path / "other", "brand")
    real_mkdtemp = tempfile.mkdtemp

    def other_wins(**kwargs: str) -> str:
        os.rename(tmp_path / "other" / name, tmp_path / name)  # after this installer's check, before its rename
        return real_mkdtemp(**kwargs)

    monkeypatch.setattr(tempfile, "mkdtemp", other_wins)
    assert install_pack(pack, tmp_path, "brand") == name
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, "other"])  # no temporary folder left
    assert read_theme(tmp_path / name).name == pack.name
