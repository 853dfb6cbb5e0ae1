"""Every screen × theme × language compared with committed golden images, within a tolerance.

The screens render at the demo's configured 1280×1024 (the real layout) and are compared at a quarter of
the width, which keeps the goldens small and forgives anti-aliasing; three other displays (800×600,
1920×1080, portrait 1080×1920) have goldens of their own in one theme and language each. After a deliberate change of look,
regenerate them with `KIOSK_UPDATE_GOLDENS=1 pytest tests/screens/test_screenshots.py` and look at them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pygame
import pytest
from PIL import Image, ImageChops

from kiosk.screens.screenshots import SHOTS, listed_shots, render_theme_language

GOLDEN = Path(__file__).parent / "golden"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
README_SHOTS = listed_shots(DOCS) or []
SIZE = (320, 256)
PIXEL_TOLERANCE = 48  # a channel may differ this much (font hinting, smoothing) and still count as the same
MAX_DIFFERENT = 0.005  # the share of pixels allowed to differ by more: a moved button or a new word is more
UPDATE = os.environ.get("KIOSK_UPDATE_GOLDENS") == "1"


def small(surface: pygame.Surface, size: tuple[int, int] = SIZE) -> Image.Image:
    """The screen as a small RGB image, averaged down (deterministic, unlike scaling with filters)."""
    image = Image.frombytes("RGB", surface.get_size(), pygame.image.tobytes(surface, "RGB"))
    return image.resize(size, Image.Resampling.BOX)


def small_file(path: Path) -> Image.Image:
    """A saved full-size screenshot, averaged down like small()."""
    with Image.open(path) as image:
        return image.convert("RGB").resize(SIZE, Image.Resampling.BOX)


def different_share(first: Image.Image, second: Image.Image) -> float:
    """The share of pixels whose largest channel difference passes the tolerance."""
    diff = ImageChops.difference(first, second).convert("RGB")
    worst = ImageChops.lighter(ImageChops.lighter(*diff.split()[:2]), diff.split()[2])
    over = worst.point(lambda v: 255 if v > PIXEL_TOLERANCE else 0)
    return over.histogram()[255] / (first.width * first.height)


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["ru", "en"])
@pytest.mark.parametrize("theme", ["default", "dark", "high-contrast"])
def test_screens_match_the_golden_images(theme: str, lang: str, tmp_path: Path) -> None:
    rendered: dict[str, Image.Image] = {}
    render_theme_language(tmp_path, theme, lang, keep=lambda name, surface: rendered.update({name: small(surface)}))
    assert sorted(rendered) == sorted(SHOTS)
    failures = compare_goldens(rendered, f"{theme}-{lang}", tmp_path)
    # the README's pictures (docs/screenshots, listed in its shots.txt) must be what the code renders now
    for name, image in rendered.items():
        picture = DOCS / f"{name}-{theme}-{lang}.png"
        if picture.name in README_SHOTS:
            share = different_share(image, small_file(picture))
            if share > MAX_DIFFERENT:
                failures.append(f"docs/screenshots/{picture.name} is stale ({share:.2%} of pixels differ): "
                                "run ./dev demo --screenshots docs/screenshots and look at the pictures")
    assert not failures, "\n".join(failures)


def compare_goldens(rendered: dict[str, Image.Image], suffix: str, tmp_path: Path) -> list[str]:
    """Each rendered moment against golden/<moment>-<suffix>.png (rewritten instead with KIOSK_UPDATE_GOLDENS=1)."""
    failures = []
    for name, image in rendered.items():
        golden = GOLDEN / f"{name}-{suffix}.png"
        if UPDATE:
            GOLDEN.mkdir(exist_ok=True)
            # a 256-colour palette keeps the files small; screens have few colours besides text edges
            image.quantize(256, dither=Image.Dither.NONE).save(golden, optimize=True)
            continue
        assert golden.is_file(), f"no golden image {golden.name}; see this module's docstring"
        share = different_share(image, Image.open(golden).convert("RGB"))
        if share > MAX_DIFFERENT:
            image.save(tmp_path / f"actual-{golden.name}")
            failures.append(f"{golden.name}: {share:.2%} of pixels differ (actual in {tmp_path})")
    return failures


#: other displays the layout scales to, each in one theme and language (a quarter of the size, shape kept)
OTHER_SIZES = [((800, 600), "dark", "ru"), ((1920, 1080), "default", "ru"), ((1080, 1920), "high-contrast", "en")]


@pytest.mark.slow
@pytest.mark.parametrize(("size", "theme", "lang"), OTHER_SIZES)
def test_other_display_sizes_match_their_golden_images(size: tuple[int, int], theme: str, lang: str,
                                                       tmp_path: Path) -> None:
    quarter = (size[0] // 4, size[1] // 4)
    rendered: dict[str, Image.Image] = {}
    render_theme_language(tmp_path, theme, lang, size,
                          keep=lambda name, surface: rendered.update({name: small(surface, quarter)}))
    assert sorted(rendered) == sorted(SHOTS)
    failures = compare_goldens(rendered, f"{theme}-{lang}-{size[0]}x{size[1]}", tmp_path)
    assert not failures, "\n".join(failures)


def test_every_readme_picture_is_listed_rendered_and_shown() -> None:
    readme = (DOCS.parents[1] / "README.md").read_text(encoding="utf-8")
    # the kiosk's own screens (the dealer portal's pictures are the portal's tests' business)
    shown = {name for name in re.findall(r"docs/screenshots/([\w.-]+\.png)", readme) if name.split("-")[0] in SHOTS}
    assert shown == set(README_SHOTS), "the README shows exactly the pictures docs/screenshots/shots.txt lists"
    for name in README_SHOTS:
        shot, rest = name.split("-", 1)
        assert shot in SHOTS and (DOCS / name).is_file(), name
        assert rest.removesuffix(".png").rsplit("-", 1)[0] in ("default", "dark", "high-contrast"), name


def test_a_changed_screen_is_caught() -> None:
    base = Image.new("RGB", SIZE, (240, 240, 240))
    moved = base.copy()
    moved.paste((11, 87, 208), (10, 200, 110, 240))  # a button of about a tenth of the width appeared
    assert different_share(base, base) == 0
    assert different_share(base, moved) > MAX_DIFFERENT
