"""Theme packs: validation that names file, key and expectation; contrast; fallback; switching at run time."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from kiosk.errors import ConfigError
from kiosk.schema import load_toml
from kiosk.screens.theme import (
    BUILTIN_THEME,
    MIN_TEXT_CONTRAST,
    SHAPE_PAIRS,
    TEXT_PAIRS,
    THEMES_DIR,
    ThemeManager,
    contrast_ratio,
    load_theme,
    read_theme,
    theme_names,
)

BUNDLED = ("default", "dark", "high-contrast")


def _raw_colours(name: str) -> dict[str, tuple[int, int, int]]:
    # straight from the file, so the contrast tests do not lean on the loader's own checks
    data = load_toml(THEMES_DIR / name / "manifest.toml", "theme manifest")["colours"]
    return {key: tuple(int(value[i:i + 2], 16) for i in (1, 3, 5)) for key, value in data.items()}


def _edit(folder: Path, old: str, new: str) -> None:
    manifest = folder / "manifest.toml"
    text = manifest.read_text(encoding="utf-8")
    assert re.search(old, text, flags=re.M), old
    manifest.write_text(re.sub(old, new, text, count=1, flags=re.M), encoding="utf-8")


def test_bundled_themes_are_all_there_and_load_strictly() -> None:
    assert set(BUNDLED) <= set(theme_names(THEMES_DIR))
    for name in BUNDLED:
        theme = read_theme(THEMES_DIR / name)
        assert theme.id == name and theme.logo is not None and theme.logo.is_file()
        assert theme.ads and all(ad.is_file() and ad.stat().st_size < 64_000 for ad in theme.ads)
        assert theme.regular_font.is_file() and theme.bold_font.is_file()


def test_contrast_ratio_matches_wcag_reference_values() -> None:
    assert contrast_ratio((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
    assert contrast_ratio((255, 255, 255), (0, 0, 0)) == pytest.approx(21.0)
    assert contrast_ratio((90, 90, 90), (90, 90, 90)) == pytest.approx(1.0)
    # #777777 on white is the classic "just fails AA" grey
    assert contrast_ratio((0x77, 0x77, 0x77), (255, 255, 255)) == pytest.approx(4.48, abs=0.01)


@pytest.mark.parametrize("name", BUNDLED)
def test_every_text_and_background_pair_is_at_least_4_5_to_1(name: str) -> None:
    colours = _raw_colours(name)
    for fore, back in TEXT_PAIRS:
        assert contrast_ratio(colours[fore], colours[back]) >= 4.5, (name, fore, back)
    for fore, back in SHAPE_PAIRS:
        assert contrast_ratio(colours[fore], colours[back]) >= 3.0, (name, fore, back)


def test_every_text_pair_of_high_contrast_reaches_7_to_1() -> None:
    colours = _raw_colours("high-contrast")
    for fore, back in TEXT_PAIRS:
        assert contrast_ratio(colours[fore], colours[back]) >= 7.0, (fore, back)


def test_high_contrast_has_larger_text_and_targets_than_default() -> None:
    default, high = read_theme(THEMES_DIR / "default"), read_theme(THEMES_DIR / "high-contrast")
    for size in ("base", "title", "button", "numbers"):
        assert getattr(high.sizes, size) > getattr(default.sizes, size)
    assert high.target_mm > default.target_mm >= 15


def test_builtin_last_resort_theme_is_readable_too() -> None:
    for fore, back in TEXT_PAIRS:
        ratio = contrast_ratio(getattr(BUILTIN_THEME.colours, fore), getattr(BUILTIN_THEME.colours, back))
        assert ratio >= MIN_TEXT_CONTRAST, (fore, back)
    assert BUILTIN_THEME.regular_font.is_file() and BUILTIN_THEME.bold_font.is_file()


@pytest.mark.parametrize(("old", "new", "key", "expected"), [
    (r'^text = ".*"', 'text = "blue"', "colours.text", "expected a colour like"),
    (r'^muted_text = ".*"', 'muted_text = "#D0D0D0"', "colours.muted_text", "contrast"),
    (r'^pressed = ".*"', 'pressed = "#0B57D0"', "colours.pressed", "a press would not show"),
    (r'^bold = ".*"\n', "", "fonts.bold", "required key is missing"),
    (r'^regular = ".*"', 'regular = "Nope.ttf"', "fonts.regular", "not found"),
    (r'^ads = .*', 'ads = ["ad-mobile.png", "missing.png"]', "ads[1]", "not found"),
    (r'^logo = ".*"', 'logo = "../../escape.png"', "logo", "inside the theme folder"),
    (r'^logo = ".*"', 'logo = "manifest.toml"', "logo", "PNG or JPEG"),
    (r"^base = \d+", "base = 12", "sizes.base", "expected at least 24"),
    (r"^version = \d+", "version = 2", "version", "expected 1"),
    (r'^density = "\w+"', 'density = "huge"', "density", "one of"),
    (r"^\[colours\]", "[colors]", "colors", "unknown key"),
])
def test_invalid_manifest_error_names_file_key_and_expectation(themes_copy: Path, old: str, new: str, key: str,
                                                               expected: str) -> None:
    _edit(themes_copy / "default", old, new)
    with pytest.raises(ConfigError) as caught:
        read_theme(themes_copy / "default")
    assert caught.value.file.endswith("default/manifest.toml")
    assert caught.value.key == key
    assert expected in caught.value.problem


def test_a_font_file_that_is_not_a_font_is_refused(themes_copy: Path) -> None:
    (themes_copy / "dark" / "Broken.ttf").write_text("not a font")
    _edit(themes_copy / "dark", r'^regular = ".*"', 'regular = "Broken.ttf"')
    with pytest.raises(ConfigError, match="not a TrueType or OpenType font"):
        read_theme(themes_copy / "dark")


def test_missing_theme_falls_back_to_default_with_a_logged_error(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="kiosk.screens.theme"):
        theme = load_theme(THEMES_DIR, "no-such-theme")
    assert theme.id == "default"
    assert "no-such-theme" in caplog.text and "theme manifest file not found" in caplog.text


def test_broken_theme_falls_back_to_default(themes_copy: Path, caplog: pytest.LogCaptureFixture) -> None:
    _edit(themes_copy / "dark", r'^accent = ".*"', 'accent = "#111418"')
    with caplog.at_level(logging.ERROR):
        theme = load_theme(themes_copy, "dark")
    assert theme.id == "default"
    assert "colours.accent" in caplog.text


def test_theme_name_cannot_leave_the_themes_folder(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        assert load_theme(THEMES_DIR, "../themes/dark").id == "default"
    assert "expected a theme folder name" in caplog.text


def test_builtin_theme_when_even_default_is_broken(themes_copy: Path) -> None:
    (themes_copy / "default" / "manifest.toml").write_text("version = [", encoding="utf-8")
    assert load_theme(themes_copy, "missing") is BUILTIN_THEME


def test_switch_at_run_time_tells_every_listener() -> None:
    manager = ThemeManager(THEMES_DIR)
    seen: list[str] = []
    manager.subscribe(lambda theme: seen.append(theme.id))
    assert manager.switch("high-contrast")
    assert manager.current.id == "high-contrast" and seen == ["high-contrast"]
    assert manager.switch("dark") and seen == ["high-contrast", "dark"]


def test_switch_to_a_broken_theme_keeps_the_working_one(themes_copy: Path, caplog: pytest.LogCaptureFixture) -> None:
    manager = ThemeManager(themes_copy, "dark")
    seen: list[str] = []
    manager.subscribe(lambda theme: seen.append(theme.id))
    _edit(themes_copy / "high-contrast", r"^base = \d+", "base = 2")
    with caplog.at_level(logging.ERROR):
        assert not manager.switch("high-contrast")
    assert manager.current.id == "dark" and seen == []
    assert "sizes.base" in caplog.text


def test_failing_listener_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    manager = ThemeManager(THEMES_DIR)
    seen: list[str] = []

    def broken(theme: object) -> None:
        raise RuntimeError("screen bug")

    manager.subscribe(broken)
    unsubscribe = manager.subscribe(lambda theme: seen.append(theme.id))
    with caplog.at_level(logging.ERROR):
        assert manager.switch("dark")
    assert seen == ["dark"] and "screen bug" in caplog.text
    unsubscribe()
    manager.switch("default")
    assert seen == ["dark"]
