"""Shared fixtures for the screen tests: headless pygame, painters, and throw-away theme folders."""

from __future__ import annotations

import os

os.environ["SDL_VIDEODRIVER"] = "dummy"  # before pygame initialises anything: no window, no display needed

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pygame
import pytest

from kiosk.screens.i18n import translations
from kiosk.screens.text import Painter
from kiosk.screens.theme import THEMES_DIR, read_theme


@pytest.fixture(scope="session")
def headless() -> Iterator[None]:
    """pygame's display and font modules on the dummy video driver."""
    pygame.display.init()
    pygame.font.init()
    yield
    pygame.quit()


@pytest.fixture
def painter(headless: None) -> Painter:
    """The default theme in Russian."""
    return Painter(read_theme(THEMES_DIR / "default"), translations("ru"))


@pytest.fixture
def themes_copy() -> Iterator[Path]:
    """A private copy of the bundled themes to break, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="kiosk-themes-") as temp:
        target = Path(temp) / "themes"
        shutil.copytree(THEMES_DIR, target)
        yield target
