"""Why a scanned code cannot be paid, as a banner over the screen the payer is on (utility bills, issue 17)."""

from __future__ import annotations

from typing import Any

import pygame

from kiosk.screens.frame import take_top
from kiosk.screens.panels import Banner, banner_fit
from kiosk.screens.text import Painter
from kiosk.screens.widgets import Widget
from kiosk.session import SessionView


def scan_banner(ctx: Any, view: SessionView, painter: Painter, body: pygame.Rect) -> tuple[list[Widget], pygame.Rect]:
    """Why a scanned code cannot be paid, in the parser's own words, above what the screen shows."""
    if view.scan_problem is None:
        return [], body
    text = view.scan_problem.text(ctx.lang)
    strip, rest = take_top(body, banner_fit(painter, text, body.width), painter.theme.spacing)
    return [Banner(strip, text, "danger")], rest
