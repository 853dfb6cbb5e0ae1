"""The layout check: lay a screen out for a display and theme, record every text's box, and list what is wrong.

Nothing is blitted: the widgets draw onto a 1×1 surface with a recording painter that only measures text
(pictures are skipped), so one check costs a layout and a few hundred font measurements.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pygame

from kiosk.screens.layout import NBSP, TextBlock, TextRecord, tokens
from kiosk.screens.touch import MIN_TARGET_MM, min_target_px
from kiosk.screens.ui import KioskUI
from kiosk.screens.widgets import Button, Group, Widget

SIZES = ((800, 600), (1024, 768), (1280, 1024), (1366, 768), (1920, 1080), (1080, 1920), (3840, 2160))
ELLIPSIS = "…"


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace(NBSP, " ")).strip()


@dataclass
class Drawn:
    """What one top-level widget drew: its text blocks and its controls, in drawing order."""

    widget: Widget
    blocks: list[TextBlock]
    controls: list[Button]


def controls_in(widget: Widget) -> list[Button]:
    """Every visible button inside widget."""
    if not widget.visible:
        return []
    if isinstance(widget, Group):
        return [b for child in widget.children for b in controls_in(child)]
    return [widget] if isinstance(widget, Button) else []


def record(widgets: Group, painter) -> list[Drawn]:  # noqa: ANN001 - a Painter
    """Draw widgets measuring only, top-level widget by widget."""
    surface = pygame.Surface((1, 1))
    painter.recorder = TextRecord(blit=False)
    drawn = []
    try:
        for child in widgets.children:
            if not child.visible:
                continue
            start = len(painter.recorder.blocks)
            child.draw(surface, painter)
            drawn.append(Drawn(child, painter.recorder.blocks[start:], controls_in(child)))
    finally:
        painter.recorder = None
    return drawn


def problems(widgets: Group, painter, size: tuple[int, int], dpi: float) -> list[str]:  # noqa: ANN001
    """Everything wrong with a laid-out screen, one line each (empty when the layout is sound)."""
    drawn = record(widgets, painter)
    screen = pygame.Rect((0, 0), size)
    minimum = painter.theme.sizes.minimum
    finger = min_target_px(dpi, MIN_TARGET_MM)
    out: list[str] = []
    # what a widget drawn later with `covers` hides is not on screen
    visible: list[tuple[TextBlock, list[pygame.Rect]]] = []
    controls: list[Button] = []
    for index, item in enumerate(drawn):
        covers = [d.widget.rect for d in drawn[index + 1:] if d.widget.covers]
        for block in item.blocks:
            boxes = [b for b in block.boxes if not any(c.contains(b) for c in covers)]
            if boxes:
                visible.append((block, boxes))
        controls += [c for c in item.controls if not any(r.contains(c.rect) for r in covers)]
    for block, boxes in visible:
        name = repr(_plain(block.source))[:70]
        if block.px < minimum:
            out.append(f"{name}: {block.px} px text, under the theme's minimum {minimum} px")
        if not screen.contains(block.region):
            out.append(f"{name}: its box {tuple(block.region)} is off the {size} screen")
        for line, box in zip(block.lines, block.boxes, strict=True):
            if box in boxes and not block.region.inflate(2, 2).contains(box):
                out.append(f"{name}: line {line!r} {tuple(box)} runs out of its box {tuple(block.region)}")
        shown = _plain(" ".join(block.lines))
        if shown != _plain(block.source):
            out.append(f"{name}: drawn as {block.lines!r} (cut, split inside a word or ellipsized)")
        if ELLIPSIS in shown and ELLIPSIS not in block.source:
            out.append(f"{name}: ellipsized")
        for token in tokens(block.source):
            if not any(token in _plain(line) for line in block.lines):
                out.append(f"{name}: {token!r} is split across lines {block.lines!r}")
    for i, (first, first_boxes) in enumerate(visible):
        for second, second_boxes in visible[i + 1:]:
            if any(a.colliderect(b) for a in first_boxes for b in second_boxes):
                out.append(f"{_plain(first.source)[:40]!r} overlaps {_plain(second.source)[:40]!r}")
        for control in controls:
            if id(control) != first.owner and any(control.rect.colliderect(b) for b in first_boxes):
                out.append(f"{_plain(first.source)[:40]!r} overlaps the {control.action!r} button")
    for i, control in enumerate(controls):
        if not screen.contains(control.rect):
            out.append(f"the {control.action!r} button {tuple(control.rect)} is off the {size} screen")
        if control.enabled and min(control.rect.size) < finger:
            out.append(f"the {control.action!r} button is {control.rect.size}, under {finger} px ({MIN_TARGET_MM} mm)")
        for other in controls[i + 1:]:
            if control.rect.colliderect(other.rect):
                out.append(f"the {control.action!r} and {other.action!r} buttons overlap")
    return out


def check_all_sizes(ui: KioskUI, themes: dict, sizes=SIZES) -> list[str]:  # noqa: ANN001
    """The current screen at every size in every theme given ({name: Theme}); problems prefixed by where."""
    out = []
    for theme_name, theme in themes.items():
        for size in sizes:
            try:
                widgets, painter, _ = ui.layout_at(size, theme)
            except Exception as exc:  # noqa: BLE001 - a layout that cannot be built is a finding, not a crash
                out.append(f"{size[0]}×{size[1]} {theme_name}: cannot be laid out: {exc}")
                continue
            out += [f"{size[0]}×{size[1]} {theme_name}: {p}"
                    for p in problems(widgets, painter, size, ui.terminal.config.screen.dpi)]
    return out
