"""Every screen in every theme: finger-sized targets at the configured DPI, on screen, with a countdown when
the state times out, and with every table row readable (nothing left off)."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import pygame
import pytest
from kiosk_ui import UiClock

from kiosk.screens.base import SessionCountdown
from kiosk.screens.screenshots import SHOTS, terminal_in, walk
from kiosk.screens.touch import min_target_px
from kiosk.screens.ui import KioskUI
from kiosk.screens.widgets import Countdown, Group, Widget
from kiosk.session_model import TIMEOUTS

SIZES = [(1280, 1024), (1920, 1080)]
CASES = [(theme, size, "ru") for theme in ("default", "dark", "high-contrast") for size in SIZES]
CASES += [(theme, (1280, 1024), "en") for theme in ("default", "dark", "high-contrast")]


def _widgets(widget: Widget) -> list[Widget]:
    out = [widget]
    if isinstance(widget, Group):
        for child in widget.children:
            if child.visible:
                out += _widgets(child)
    return out


def _check(ui: KioskUI, name: str, problems: list[str]) -> None:
    dpi = ui.terminal.config.screen.dpi
    floor = max(min_target_px(dpi), ui.ctx.min_px)
    screen = pygame.Rect((0, 0), ui.size)
    for rect in ui.widgets.targets():
        if rect.width < floor or rect.height < floor:
            problems.append(f"{name}: target {rect} is under {floor} px (15 mm at {dpi} dpi)")
    for widget in _widgets(ui.widgets)[1:]:
        if widget.rect.width and not screen.contains(widget.rect):
            problems.append(f"{name}: {type(widget).__name__} {widget.rect} is off the screen")
    state = ui.terminal.view().state
    widgets = _widgets(ui.widgets)
    if state in TIMEOUTS and not any(isinstance(w, SessionCountdown) for w in widgets):
        problems.append(f"{name}: state {state} times out but shows no countdown")
    if name == "service_pin" and not any(isinstance(w, Countdown) for w in widgets):
        problems.append(f"{name}: the PIN pad closes by itself but shows no countdown")


@pytest.mark.parametrize(("theme", "size", "lang"), CASES)
def test_every_screen_is_finger_sized_on_screen_and_counts_down(theme: str, size: tuple[int, int], lang: str,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    problems: list[str] = []
    seen: list[str] = []
    caplog.set_level(logging.WARNING, logger="kiosk.screens")
    with tempfile.TemporaryDirectory() as temp, terminal_in(Path(temp)) as (terminal, _clock):
        ui = KioskUI(terminal, size=size, theme=theme, lang=lang, clock=UiClock())

        def shot(name: str) -> None:
            seen.append(name)
            ui.draw(force=True)
            _check(ui, name, problems)

        walk(ui, terminal, shot)
    assert seen == list(SHOTS)
    assert not problems, "\n".join(problems)
    # a table that cannot show all its rows, or a screen that cannot lay itself out, logs it
    assert not [r.getMessage() for r in caplog.records if r.name.startswith("kiosk.screens")]


def test_targets_follow_the_configured_dpi(tmp_path: Path) -> None:
    with terminal_in(tmp_path) as (terminal, _clock):
        ui = KioskUI(terminal, theme="default", clock=UiClock())
        assert ui.ctx.min_px >= min_target_px(terminal.config.screen.dpi, 15.0)
        ui.themes.switch("high-contrast")  # the large density asks for 20 mm
        assert ui.ctx.min_px == min_target_px(terminal.config.screen.dpi, 20.0)
