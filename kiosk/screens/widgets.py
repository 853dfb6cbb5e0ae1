"""Widgets drawn from the theme: buttons, labels, the masked text field, keypads, countdown, tile grid, slideshow.

Widgets hold no theme and no language: they draw with whatever Painter they are given, so a theme or
language switch is one new Painter. They never wait or poll: `touch()` answers a Touch at once, `tick(now)`
moves time on, and `wake_at()` tells the loop when they next change by themselves so it can sleep till then.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

import pygame

from kiosk.screens.layout import protect
from kiosk.screens.text import Msg, Painter, TextLike
from kiosk.screens.touch import CANCEL, DOWN, MOVE, UP, Touch

#: a press stays visible at least this long, so a quick tap still shows on the next frame
FEEDBACK_SECONDS = 0.12
BACKSPACE, CLEAR, SPACE, LAYOUT = "backspace", "clear", "space", "layout"
RectLike = pygame.Rect | tuple[int, int, int, int]


class LayoutError(ValueError):
    """Widgets do not fit where they were put without going under the minimum touch target."""


class Widget:
    """A rectangle that draws itself with a Painter and may answer touches."""

    #: drawn over other widgets: a press landing on it is not given to what it covers
    covers = False

    def __init__(self, rect: RectLike) -> None:
        self.rect = pygame.Rect(rect)
        self.visible = True
        self.dirty = True

    def draw(self, surface: pygame.Surface, painter: Painter) -> None:
        """Draw onto surface."""
        self.dirty = False

    def touch(self, touch: Touch) -> str | None:
        """Answer a touch; returns the action (a button's id, a key) when the touch activates something."""
        return None

    def tick(self, now: float) -> None:
        """Move the widget's own clock on; sets dirty when its look changes."""

    def wake_at(self) -> float | None:
        """The monotonic time of the next change the widget makes by itself, if any."""
        return None

    def targets(self) -> list[pygame.Rect]:
        """The rectangles a finger can activate (checked against the minimum target size)."""
        return []


class Group(Widget):
    """Widgets drawn in order and given every touch; the first action wins."""

    def __init__(self, children: Sequence[Widget] = ()) -> None:
        super().__init__((0, 0, 0, 0))
        self.children = list(children)

    def draw(self, surface: pygame.Surface, painter: Painter) -> None:
        """Draw the visible children."""
        for child in self.children:
            if child.visible:
                child.draw(surface, painter)
        self.dirty = False

    def touch(self, touch: Touch) -> str | None:
        """Give the touch to every visible child (each tracks its own press), except what a press is covered from."""
        children = [c for c in self.children if c.visible]
        if touch.kind == DOWN:
            # a press on a widget drawn over others (a prompt) is for it and what is drawn after it alone;
            # the buttons it covers never see the press, so they cannot act on its release either
            for index in range(len(children) - 1, -1, -1):
                if children[index].covers and children[index].rect.collidepoint(touch.pos):
                    children = children[index:]
                    break
        action = None
        for child in children:
            action = child.touch(touch) or action
        return action

    def tick(self, now: float) -> None:
        """Tick every child."""
        for child in self.children:
            child.tick(now)

    def wake_at(self) -> float | None:
        """The earliest wake-up of any visible child."""
        times = [t for c in self.children if c.visible and (t := c.wake_at()) is not None]
        return min(times, default=None)

    def targets(self) -> list[pygame.Rect]:
        """Targets of the visible children."""
        return [r for c in self.children if c.visible for r in c.targets()]

    def wait_ms(self, now: float, longest: float = 1.0) -> int:
        """How long the loop may sleep in pygame.event.wait() before a child changes by itself (1 ms at least)."""
        wake = self.wake_at()
        seconds = longest if wake is None else min(longest, wake - now)
        return max(1, math.ceil(seconds * 1000))

    @property
    def changed(self) -> bool:
        """Whether anything needs drawing again."""
        return self.dirty or any(c.dirty for c in self.children)


def blit_lines(surface: pygame.Surface, painter: Painter, lines: list[str], rect: pygame.Rect, size: str | int,
               colour: tuple[int, int, int], bold: bool, align: str, valign: str, owner: object = None,
               source: str | None = None) -> None:
    """Draw wrapped lines in rect, aligned; the painter's recorder learns where each went and from what text."""
    height = painter.font(size, bold).get_linesize()
    y = rect.y if valign == "top" else rect.centery - height * len(lines) // 2
    font, boxes = painter.font(size, bold), []
    for line in lines:
        width = font.size(line)[0]
        x = {"left": rect.x, "center": rect.centerx - width // 2, "right": rect.right - width}[align]
        boxes.append(painter.put(surface, line, size, colour, bold, (x, y)))
        y += height
    painter.note(" ".join(lines) if source is None else source, lines, boxes, rect, size, owner)


def fit_lines(painter: Painter, text: str, size: str | int, rect: pygame.Rect, bold: bool = False,
              max_lines: int = 0) -> list[str]:
    """text wrapped to rect. Lines that do not fit are still all drawn: the layout check reports them."""
    return painter.wrap(text, size, rect.width, bold)


def fit_size(painter: Painter, text: str, size: str | int, area: pygame.Rect, bold: bool = True,
             max_lines: int = 0) -> int:
    """The largest size, from size down to the theme's minimum, at which text fits area without breaking words."""
    start = painter.px(size)
    floor = min(start, painter.theme.sizes.minimum)
    words = re.split(r"[ \n]+", protect(text))
    for px in range(start, floor - 1, -1 if start - floor < 8 else -2):
        font = painter.font(px, bold)
        # the last line needs only the glyphs' height, not the space under it
        room = (area.height - font.get_height()) // font.get_linesize() + 1 if area.height >= font.get_height() else 0
        room = min(room, max_lines) if max_lines else room
        if (all(font.size(word)[0] <= area.width for word in words)
                and len(painter.wrap(text, px, area.width, bold)) <= room):
            return px
    return floor


def text_fits(painter: Painter, text: str, size: str | int, area: pygame.Rect, bold: bool = True) -> bool:
    """Whether text fits area whole at some size from size down to the theme's minimum."""
    px = fit_size(painter, text, size, area, bold)
    font = painter.font(px, bold)
    lines = painter.wrap(text, px, area.width, bold)
    return (all(font.size(line)[0] <= area.width for line in lines)
            and (len(lines) - 1) * font.get_linesize() + font.get_height() <= area.height)


class Label(Widget):
    """Word-wrapped text in a theme colour role ('text', 'muted_text', 'danger' …)."""

    def __init__(self, rect: RectLike, text: TextLike, size: str | int = "base", colour: str = "text", bold: bool = False,
                 align: str = "left", valign: str = "top", max_lines: int = 0, shrink: bool = True) -> None:
        super().__init__(rect)
        self.shrink = shrink  # smaller text (down to near the base size) before cutting any off
        self.text, self.size, self.colour, self.bold = text, size, colour, bold
        self.align, self.valign, self.max_lines = align, valign, max_lines

    def set_text(self, text: TextLike) -> None:
        """Show other text."""
        if text != self.text:
            self.text, self.dirty = text, True

    def draw(self, surface: pygame.Surface, painter: Painter) -> None:
        """Draw the wrapped lines."""
        text = painter.resolve(self.text)
        size = fit_size(painter, text, self.size, self.rect, self.bold, self.max_lines) if self.shrink else self.size
        lines = fit_lines(painter, text, size, self.rect, self.bold, self.max_lines)
        blit_lines(surface, painter, lines, self.rect, size, getattr(painter.colours, self.colour), self.bold,
                   self.align, self.valign, self, text)
        self.dirty = False


class Picture(Widget):
    """An image (a logo, an icon) scaled to fit and centred; nothing if it cannot be read."""

    def __init__(self, rect: RectLike, path: str | Path | None) -> None:
        super().__init__(rect)
        self.path = path

    def draw(self, surface: pygame.Surface, painter: Painter) -> None:
        """Draw the image."""
        image = painter.image(self.path, self.rect.size)
        if image is not None:
            surface.blit(image, image.get_rect(center=self.rect.center))
        self.dirty = False


class Button(Widget):
    """A touch target that activates on release inside it; the press shows on the next frame."""

    def __init__(self, rect: RectLike, label: TextLike, action: str, style: str = "primary", enabled: bool = True,
                 size: str | int = "button") -> None:
        super().__init__(rect)
        self.label, self.action, self.style, self.size = label, action, style, size
        self._enabled = enabled
        self.held = False  # a finger is on the button now
        self._tracking = False
        self._feedback_until = 0.0
        self.flashing = False  # the press is still shown after a quick release

    @property
    def enabled(self) -> bool:
        """Whether the button answers touches."""
        return self._enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        if value != self._enabled:
            self._enabled, self.dirty = value, True
            self._release()

    @property
    def pressed(self) -> bool:
        """Whether the button is drawn pressed."""
        return self.held or self.flashing

    def touch(self, touch: Touch) -> str | None:
        """Track a press that started on this button; activate on release inside it."""
        if not self._enabled:
            return None
        inside = self.rect.collidepoint(touch.pos)
        if touch.kind == DOWN and inside:
            self._tracking, self.held, self.dirty = True, True, True
            self.flashing, self._feedback_until = True, touch.time + FEEDBACK_SECONDS
        elif touch.kind == MOVE and self._tracking and inside != self.held:
            # sliding off the button takes the press back, as people expect from phones
            self.held, self.flashing, self.dirty = inside, inside and self.flashing, True
        elif touch.kind == UP and self._tracking:
            activated = inside
            self._tracking = self.held = False
            self.flashing = activated and touch.time < self._feedback_until
            self.dirty = True
            return self.action if activated else None
        elif touch.kind == CANCEL and self._tracking:
            self._release()
        return None

    def _release(self) -> None:
        self._tracking = self.held = self.flashing = False
        self.dirty = True

    def tick(self, now: float) -> None:
        """End the after-release feedback when its time is up."""
        if self.flashing and not self.held and now >= self._feedback_until:
            self.flashing, self.dirty = False, True

    def wake_at(self) -> float | None:
        """When the after-release feedback ends."""
        return self._feedback_until if self.flashing and not self.held else None

    def targets(self) -> list[pygame.Rect]:
        """The button itself."""
        return [self.rect] if self._enabled else []

    def colours(self, painter: Painter) -> tuple[tuple, tuple, tuple | None]:
        """(fill, text, border) for the current state."""
        c = painter.colours
        if not self._enabled:
            return c.surface, c.muted_text, c.muted_text
        if self.pressed:
            return c.pressed, c.accent_text, c.focus
        if self.style == "secondary":
            return c.surface, c.text, c.accent
        return c.accent, c.accent_text, None

    def draw(self, surface: pygame.Surface, painter: Painter) -> None:
        """Draw the face and its label."""
        fill, ink, border = self.colours(painter)
        radius = max(6, self.rect.height // 8)
        face = self.rect.inflate(-4, -4).move(0, 2) if self.pressed else self.rect
        pygame.draw.rect(surface, fill, face, border_radius=radius)
        if border is not None:
            width = 2 if not self._enabled else max(3, painter.theme.spacing // 3)
            pygame.draw.rect(surface, border, face, width=width, border_radius=radius)
        self.draw_content(surface, painter, face.inflate(-painter.theme.spacing, -painter.theme.spacing // 2), ink)
        self.dirty = False

    def draw_content(self, surface: pygame.Surface, painter: Painter, area: pygame.Rect, ink: tuple) -> None:
        """Draw the label inside area (subclasses add icons)."""
        text = painter.resolve(self.label)
        # a long label gets somewhat smaller text rather than broken words
        size = fit_size(painter, text, self.size, area)
        lines = fit_lines(painter, text, size, area, bold=True, max_lines=2)
        blit_lines(surface, painter, lines, area, size, ink, True, "center", "middle", self, text)


class Countdown(Widget):
    """A ring emptying as the seconds run out, with the seconds inside and an optional line of text."""

    def __init__(self, rect: RectLike, deadline: float, total: float, text: TextLike | None = None) -> None:
        super().__init__(rect)
        self.text = Msg("Returning to the start in {seconds} s") if text is None else text
        self.restart(deadline, total)

    def restart(self, deadline: float, total: float) -> None:
        """Count down afresh (the payer touched the screen)."""
        self.deadline, self.total = deadline, max(total, 1e-9)
        self.seconds = math.ceil(total)
        self.dirty = True

    def tick(self, now: float) -> None:
        """Update the whole seconds left."""
        seconds = max(0, math.ceil(self.deadline - now))
        if seconds != self.seconds:
            self.seconds, self.dirty = seconds, True

    def wake_at(self) -> float | None:
        """When the shown second next changes."""
        return self.deadline - (self.seconds - 1) if self.seconds > 0 else None

    @property
    def expired(self) -> bool:
        """Whether the time is up."""
        return self.seconds == 0

    def draw(self, surface: pygame.Surface, painter: Painter) -> None:
        """Draw the ring, the number and the text."""
        c = painter.colours
        side = self.rect.height
        ring = pygame.Rect(self.rect.x, self.rect.y, side, side)
        thickness = max(4, side // 9)
        pygame.draw.circle(surface, c.surface, ring.center, side // 2)
        pygame.draw.circle(surface, c.muted_text, ring.center, side // 2, width=2)
        share = min(1.0, self.seconds / self.total)
        colour = c.danger if self.seconds <= 5 else c.accent
        if share > 0:
            pygame.draw.polygon(surface, colour, arc_points(ring.center, side // 2 - 1, side // 2 - thickness, share))
        text, px = str(self.seconds), max(painter.theme.sizes.minimum, side * 4 // 10)
        font = painter.font(px, True)
        at = (ring.centerx - font.size(text)[0] // 2, ring.centery - font.get_height() // 2)
        painter.note(text, [text], [painter.put(surface, text, px, c.text, True, at)], ring, px, self)
        if self.text and self.rect.width > side * 2:
            words = Msg(self.text.msgid, **{**self.text.values, "seconds": self.seconds}) \
                if isinstance(self.text, Msg) else self.text
            area = pygame.Rect(ring.right + painter.theme.spacing, self.rect.y, self.rect.right - ring.right, side)
            Label(area.inflate(-painter.theme.spacing, 0), words, colour="text", valign="middle").draw(surface, painter)
        self.dirty = False


def arc_points(centre: tuple[int, int], outer: int, inner: int, share: float) -> list[tuple[float, float]]:
    """A filled ring segment from twelve o'clock clockwise; pygame's own arc leaves gaps when thick."""
    steps = max(2, int(90 * share))
    angles = [-math.pi / 2 + 2 * math.pi * share * i / steps for i in range(steps + 1)]
    cx, cy = centre
    outside = [(cx + outer * math.cos(a), cy + outer * math.sin(a)) for a in angles]
    inside = [(cx + inner * math.cos(a), cy + inner * math.sin(a)) for a in reversed(angles)]
    return outside + inside


class Slideshow(Widget):
    """The attract screen's ads, one every `seconds`; any press on it returns the action."""

    def __init__(self, rect: RectLike, images: Sequence[str | Path], seconds: float, start: float, action: str = "start") -> None:
        super().__init__(rect)
        self.images, self.seconds, self.start, self.action = list(images), seconds, start, action
        self.index, self._now = 0, start
        self._down = False

    def tick(self, now: float) -> None:
        """Show the image due now."""
        if self.images:
            index = int((now - self.start) // self.seconds) % len(self.images)
            if index != self.index:
                self.index, self.dirty = index, True
            self._now = now

    def wake_at(self) -> float | None:
        """When the next image is due."""
        if len(self.images) < 2:
            return None
        return self.start + (math.floor((self._now - self.start) / self.seconds) + 1) * self.seconds

    def touch(self, touch: Touch) -> str | None:
        """A press anywhere on the slideshow."""
        inside = self.rect.collidepoint(touch.pos)
        if touch.kind == DOWN:
            self._down = inside
        elif touch.kind == UP and self._down:
            self._down = False
            return self.action if inside else None
        elif touch.kind == CANCEL:
            self._down = False
        return None

    def targets(self) -> list[pygame.Rect]:
        """The whole slideshow is one target."""
        return [self.rect]

    def draw(self, surface: pygame.Surface, painter: Painter) -> None:
        """Draw the current image letterboxed on the background."""
        surface.fill(painter.colours.background, self.rect)
        if self.images:
            image = painter.image(self.images[self.index], self.rect.size)
            if image is not None:
                surface.blit(image, image.get_rect(center=self.rect.center))
        self.dirty = False

