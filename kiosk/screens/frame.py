"""The frame every payer screen shares: a header (logo, title, language), a body, a footer (countdown, buttons)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pygame

from kiosk.screens.base import LANG, LANGUAGE_NAMES, Screen
from kiosk.screens.panels import Panel
from kiosk.screens.text import Painter, TextLike
from kiosk.screens.widgets import Button, Label, Picture, Widget, fit_size
from kiosk.session import SessionView


@dataclass(frozen=True, slots=True)
class Nav:
    """A footer button: its label, the action it returns, and whether it is the main way on."""

    label: TextLike
    action: str
    style: str = "secondary"
    enabled: bool = True


def button_width(painter: Painter, label: TextLike, min_px: int, size: str = "button") -> int:
    """A button wide enough for its label on one line (and never narrower than two finger widths)."""
    text = painter.resolve(label)
    return max(2 * min_px, painter.font(size, True).size(text)[0] + 2 * painter.theme.spacing + 8)


def header(screen: Screen, painter: Painter, rect: pygame.Rect, title: TextLike,
           language: bool = True) -> tuple[list[Widget], int]:
    """The header's widgets and its height: the dealer's logo, the title and the language switch."""
    gap, m = painter.theme.spacing, screen.ctx.min_px
    height = m + gap
    widgets: list[Widget] = [Panel((rect.x, rect.y, rect.width, height), "surface")]
    x = rect.x + gap
    if painter.theme.logo is not None:
        logo_w = min(4 * (m - gap // 2), rect.width // 5)
        widgets.append(Picture((x, rect.y + gap // 4, logo_w, height - gap // 2), painter.theme.logo))
        x += logo_w + gap
    right = rect.right - gap
    if language and len(screen.ctx.terminal.config.languages) > 1:
        other = screen.ctx.other_language()
        name = LANGUAGE_NAMES.get(other, other)
        width = button_width(painter, name, m)
        widgets.append(Button((right - width, rect.y + gap // 2, width, m), name, LANG, "secondary"))
        right -= width + gap
    title_rect = pygame.Rect(x, rect.y + gap // 4, right - x, height - gap // 2)
    widgets.append(Label(title_rect, title, "title", bold=True, valign="middle", max_lines=2))
    return widgets, height


def footer(screen: Screen, view: SessionView, painter: Painter, rect: pygame.Rect, buttons: Sequence[Nav],
           countdown_text: TextLike | None = None) -> tuple[list[Widget], int]:
    """The footer's widgets and its top edge: the countdown at the left, the buttons at the right."""
    gap, m = painter.theme.spacing, screen.ctx.min_px
    top = rect.bottom - gap - m
    widgets: list[Widget] = []
    x = rect.right - gap
    for nav in reversed(buttons):
        width = button_width(painter, nav.label, m)
        x -= width
        widgets.append(Button((x, top, width, m), nav.label, nav.action, nav.style, nav.enabled))
        x -= gap
    room = x - rect.x - 2 * gap
    # words squeezed into a sliver would break inside words: then the ring and its number say it alone
    ring = pygame.Rect(rect.x + gap, top, room if room >= 4 * m else m, m)
    countdown = screen.countdown_widget(view, ring, countdown_text)
    if countdown is not None:
        widgets.insert(0, countdown)
    return widgets, top - gap


def standard(screen: Screen, view: SessionView, painter: Painter, rect: pygame.Rect, title: TextLike,
             buttons: Sequence[Nav] = (), countdown_text: TextLike | None = None,
             language: bool = True) -> tuple[list[Widget], pygame.Rect]:
    """Background, header and footer; returns their widgets and the body rectangle between them."""
    gap = painter.theme.spacing
    top_widgets, head_h = header(screen, painter, rect, title, language)
    bottom_widgets, bottom = footer(screen, view, painter, rect, buttons, countdown_text)
    body = pygame.Rect(rect.x + gap, rect.y + head_h + gap, rect.width - 2 * gap, bottom - rect.y - head_h - gap)
    return top_widgets + bottom_widgets, body


def heading(painter: Painter, rect: pygame.Rect, text: TextLike, size: str = "title",
            colour: str = "text") -> tuple[Label, pygame.Rect]:
    """A bold line (or two) at the top of rect; returns it and what is left of rect below it."""
    resolved = painter.resolve(text)
    px = fit_size(painter, resolved, size, rect, True, 2)
    lines = len(painter.wrap(resolved, px, rect.width, True))
    height = painter.font(px, True).get_linesize() * min(2, max(1, lines))
    label = Label((rect.x, rect.y, rect.width, height), text, size, colour, bold=True, max_lines=2)
    gap = painter.theme.spacing
    return label, pygame.Rect(rect.x, rect.y + height + gap, rect.width, rect.height - height - gap)


def take_top(rect: pygame.Rect, height: int, gap: int) -> tuple[pygame.Rect, pygame.Rect]:
    """Split rect into a strip of height at the top and the rest below a gap."""
    height = max(0, min(height, rect.height))
    top = pygame.Rect(rect.x, rect.y, rect.width, height)
    return top, pygame.Rect(rect.x, rect.y + height + gap, rect.width, max(0, rect.height - height - gap))
