"""The demo catalog's logos and icons: drawn by tools/make_demo_art.py, committed, small, and found by the tiles."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from kiosk_ui import driven_ui
from PIL import Image

from kiosk.catalog import load_catalog
from kiosk.config import DEMO_DIR
from kiosk.screens.grid import Grid
from kiosk.screens.widgets import Group

ROOT = Path(__file__).resolve().parents[2]
CATALOG = load_catalog(DEMO_DIR / "catalog.toml")
ART = [c.icon for c in CATALOG.categories] + [p.logo for p in CATALOG.providers.values()]


@pytest.mark.parametrize("name", ART)
def test_every_logo_and_icon_the_demo_catalog_names_is_a_small_square_png(name: str) -> None:
    path = DEMO_DIR / name
    assert path.is_file(), f"{name} is missing: run tools/make_demo_art.py"
    assert path.stat().st_size < 15_000
    with Image.open(path) as image:
        assert (image.format, image.size) == ("PNG", (256, 256))


def test_the_generator_draws_every_catalog_image(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(ROOT / "tools" / "make_demo_art.py"), "--out", str(tmp_path)], check=True,
                   capture_output=True)
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.png")) == sorted(ART)


def _icons(widgets: Group) -> dict[str, object]:
    grid = next(w for w in widgets.children if isinstance(w, Grid))
    return {t.tile.id: t.tile.icon for t in grid.children}


def test_tiles_show_the_catalogs_images_relative_to_its_folder(tmp_path: Path) -> None:
    with driven_ui(tmp_path) as kiosk:
        kiosk.tap("start")
        assert _icons(kiosk.ui.widgets)["category:mobile"] == DEMO_DIR / "icons" / "mobile.png"
        kiosk.tap("category:mobile")
        icons = _icons(kiosk.ui.widgets)
        assert icons["provider:beeline"] == DEMO_DIR / "logos" / "beeline.png"
        assert all(kiosk.ui.painter.image(icon, (96, 96)) is not None for icon in icons.values() if icon)
