"""The frame every payer screen shares: a header (logo, title, language), a body, a footer (countdown, buttons)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pygame

from kiosk.screens.base import LANG, LANGUAGE_NAMES, MORE_TIME, Screen
from kiosk.screens.panels import Panel
from kiosk.screens.text import Msg, Painter, TextLike
from kiosk.screens.widgets import Button, Group, Label, Picture, Widget, fit_size
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
    x = rect.x + gap
    logo_w = min(4 * (m - gap // 2), rect.width // 5) if painter.theme.logo is not None else 0
    right = rect.right - gap
    language = language and len(screen.ctx.terminal.config.languages) > 1
    if language:
        other = screen.ctx.other_language()
        name = LANGUAGE_NAMES.get(other, other)
        width = button_width(painter, name, m)
        right -= width + gap
    title_x = x + (logo_w + gap if logo_w else 0)
    # a long title on a narrow display takes a third line rather than run out of the header
    resolved = painter.resolve(title)
    probe = pygame.Rect(title_x, 0, right - title_x, m)
    px = fit_size(painter, resolved, "title", probe, True, 2)
    lines = len(painter.wrap(resolved, px, probe.width, True))
    height = max(m + gap, painter.font(px, True).get_linesize() * lines + gap // 2)
    widgets: list[Widget] = [Panel((rect.x, rect.y, rect.width, height), "surface")]
    if logo_w:
        widgets.append(Picture((x, rect.y + gap // 4, logo_w, m + gap // 2), painter.theme.logo))
    if language:
        widgets.append(Button((right + gap, rect.y + gap // 2, width, m), name, LANG, "secondary"))
    title_rect = pygame.Rect(title_x, rect.y + gap // 4, right - title_x, height - gap // 2)
    widgets.append(Label(title_rect, title, "title", bold=True, valign="middle", max_lines=3))
    return widgets, height


def footer(screen: Screen, view: SessionView, painter: Painter, rect: pygame.Rect, buttons: Sequence[Nav],
           countdown_text: TextLike | None = None) -> tuple[list[Widget], int]:
    """The footer's widgets and its top edge: the countdown at the left, the buttons at the right."""
    gap, m = painter.theme.spacing, screen.ctx.min_px
    top = rect.bottom - gap - m
    widgets: list[Widget] = []
    x = rect.right - gap
    widths = [button_width(painter, nav.label, m) for nav in buttons]
    room = rect.width - 3 * gap - m - gap * len(buttons)  # the countdown's ring keeps its place at the left
    if sum(widths) > room and buttons:
        # a narrow (portrait) display: the buttons share the row and their labels shrink to fit
        widths = [max(screen.ctx.finger_px or m, room // len(buttons))] * len(buttons)
    for nav, width in zip(reversed(buttons), reversed(widths), strict=True):
        x -= width
        widgets.append(Button((x, top, width, m), nav.label, nav.action, nav.style, nav.enabled))
        x -= gap
    room = x - rect.x - 2 * gap
    # words squeezed into a sliver would run out of the footer: then the ring and its number say it alone
    words = Msg("Returning to the start in {seconds} s") if countdown_text is None else countdown_text
    sample = painter.resolve(Msg(words.msgid, **{**words.values, "seconds": 888}) if isinstance(words, Msg) else words)
    area = pygame.Rect(0, 0, room - m - 2 * gap, m)
    fits = room >= 3 * m and painter.font(fit_size(painter, sample, "base", area, False)).get_linesize() * len(
        painter.wrap(sample, fit_size(painter, sample, "base", area, False), area.width)) <= m
    ring = pygame.Rect(rect.x + gap, top, room if fits else m, m)
    countdown = screen.countdown_widget(view, ring, countdown_text)
    if countdown is not None:
        widgets.insert(0, countdown)
    return widgets, top - gap


class MoreTimePrompt(Group):
    """'Do you need more time?' and its answer, over the bottom of the body just above the countdown.

    It is drawn over the screen rather than making room for itself: fifteen seconds before a timeout is no
    time to reflow a keypad or a table under the payer's finger. A press that lands on it goes to it alone.
    """

    covers = True

    def __init__(self, rect: pygame.Rect, question: TextLike, text: pygame.Rect, button: Button) -> None:
        super().__init__([button])
        self.rect, self.question, self.text_rect = pygame.Rect(rect), question, text

    def draw(self, surface: pygame.Surface, painter: Painter) -> None:
        """Draw the panel, the question and the button."""
        surface.fill(painter.colours.background, self.rect)  # what it covers must not show at its round corners
        Panel(self.rect, "surface", "accent").draw(surface, painter)
        Label(self.text_rect, self.question, "base", "text", bold=True, valign="middle", max_lines=2).draw(
            surface, painter)
        super().draw(surface, painter)


def more_time_prompt(screen: Screen, view: SessionView, painter: Painter, rect: pygame.Rect,
                     under: Sequence[Widget] = ()) -> Widget | None:
    """The offer of more time, if the screen's countdown (in the standard footer) is nearly out.

    `under` is what the screen drew. The offer goes beside a button it would otherwise hide (the cash
    screen's Pay) when there is room for it there, with the question above the answer if need be; and a
    short widget (a warning banner) it would cut through is covered whole, so no stray edge shows above it.
    """
    if screen.countdown is None or not screen.offering_more_time:
        return None
    gap, m = painter.theme.spacing, screen.ctx.min_px
    question, answer = Msg("Do you need more time?"), Msg("Yes, continue")
    words, button_w = painter.resolve(question), button_width(painter, answer, m)
    bottom = screen.countdown.rect.top - gap
    # as wide as the body: whatever it covers is covered whole, not peeking out at one end
    panel = pygame.Rect(rect.x + gap, bottom - m - gap, rect.width - 2 * gap, m + gap)
    blocked = sorted((r.left, r.right) for w in under for r in w.targets() if r.colliderect(panel))
    if blocked:
        spans, left = [], panel.left
        for start, end in [*blocked, (panel.right + gap, panel.right + gap)]:
            spans.append((left, start - gap))
            left = max(left, end + gap)
        start, end = max(spans, key=lambda span: span[1] - span[0])
        if end - start >= button_w + 2 * gap:
            panel.left, panel.width = start, end - start
    stacked = painter.font("base", True).size(words)[0] > panel.width - button_w - 3 * gap
    if stacked:
        lines = min(2, len(painter.wrap(words, "base", panel.width - 2 * gap, bold=True)))
        panel.height = lines * painter.font("base", True).get_linesize() + m + 2 * gap
        panel.bottom = bottom
    for widget in under:
        cut = widget.rect.colliderect(panel) and widget.rect.top < panel.top
        if cut and panel.bottom - widget.rect.top <= panel.height + m + gap:
            panel.top = min(panel.top, widget.rect.top)
    panel.height = bottom - panel.top
    button = pygame.Rect(panel.right - gap // 2 - button_w, 0, button_w, m)
    if stacked:
        button.bottom = panel.bottom - gap // 2
        text = pygame.Rect(panel.x + gap, panel.y, panel.width - 2 * gap, button.top - panel.y)
    else:
        button.centery = panel.centery
        text = pygame.Rect(panel.x + gap, panel.y, button.x - panel.x - 2 * gap, panel.height)
    return MoreTimePrompt(panel, question, text, Button(button, answer, MORE_TIME, "primary"))


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
