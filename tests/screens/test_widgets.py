"""Widgets and touch input, headless: one press counts once, targets are finger-sized, presses show."""

from __future__ import annotations

import os

os.environ["SDL_VIDEODRIVER"] = "dummy"  # set before pygame initialises: the tests need no screen

import re

import pygame
import pytest

from kiosk.catalog import InputField
from kiosk.config import DEMO_DIR
from kiosk.screens.entry import Keypad, TextField
from kiosk.screens.grid import Grid, Tile, TileButton
from kiosk.screens.i18n import translations
from kiosk.screens.text import Msg, Painter
from kiosk.screens.theme import THEMES_DIR, read_theme
from kiosk.screens.touch import CANCEL, DOWN, UP, Touch, TouchInput, min_target_px, too_small
from kiosk.screens.widgets import BACKSPACE, CLEAR, Button, Countdown, Group, Label, LayoutError, Slideshow

SCREEN = (1280, 1024)
PHONE = InputField("account", {"ru": "Номер телефона", "en": "Phone number"}, re.compile(r"9\d{9}"),
                   mask="+7 (___) ___-__-__", min_length=10, max_length=10)


def finger(kind: int, pos: tuple[int, int], finger_id: int = 0) -> pygame.event.Event:
    """A FINGER event at a window pixel, given as SDL does: normalised 0…1."""
    return pygame.event.Event(kind, x=pos[0] / SCREEN[0], y=pos[1] / SCREEN[1], finger_id=finger_id, touch_id=1,
                              dx=0.0, dy=0.0, pressure=1.0)


def mouse(kind: int, pos: tuple[int, int], touch: bool) -> pygame.event.Event:
    """A mouse button event; touch=True is SDL's copy of a finger event."""
    return pygame.event.Event(kind, pos=pos, button=1, touch=touch)


def press(events: list[tuple[float, pygame.event.Event]], target: Group | Button, source: TouchInput) -> list[str]:
    """Feed timed events through the touch input to a widget; the actions it returned."""
    actions = []
    for when, event in events:
        for touch in source.feed(event, now=when):
            action = target.touch(touch)
            if action:
                actions.append(action)
    return actions


def tap_by_finger_as_sdl_reports_it(pos: tuple[int, int], start: float) -> list[tuple[float, pygame.event.Event]]:
    return [(start, finger(pygame.FINGERDOWN, pos)), (start, mouse(pygame.MOUSEBUTTONDOWN, pos, True)),
            (start + 0.08, finger(pygame.FINGERUP, pos)), (start + 0.08, mouse(pygame.MOUSEBUTTONUP, pos, True))]


@pytest.fixture
def button() -> Button:
    return Button((100, 100, 300, 120), Msg("Pay"), "pay")


# -- touch input ---------------------------------------------------------------------------------------------

def test_finger_tap_with_sdl_mouse_copy_presses_once(button: Button) -> None:
    assert press(tap_by_finger_as_sdl_reports_it((250, 160), 1.0), button, TouchInput(SCREEN)) == ["pay"]


def test_unflagged_mouse_emulation_of_a_touch_is_not_a_second_press(button: Button) -> None:
    # some X touch drivers emulate the mouse without SDL's flag, a little later and a pixel off
    events = [(1.0, finger(pygame.FINGERDOWN, (250, 160))), (1.05, finger(pygame.FINGERUP, (250, 160))),
              (1.2, mouse(pygame.MOUSEBUTTONDOWN, (251, 161), False)), (1.25, mouse(pygame.MOUSEBUTTONUP, (251, 161), False))]
    assert press(events, button, TouchInput(SCREEN)) == ["pay"]


def test_finger_copy_of_a_mouse_click_is_not_a_second_press(button: Button) -> None:
    pos = (250, 160)
    copy = pygame.event.Event(pygame.FINGERDOWN, x=pos[0] / SCREEN[0], y=pos[1] / SCREEN[1], finger_id=0, touch_id=-1)
    events = [(1.0, mouse(pygame.MOUSEBUTTONDOWN, pos, False)), (1.0, copy),
              (1.1, mouse(pygame.MOUSEBUTTONUP, pos, False))]
    assert press(events, button, TouchInput(SCREEN)) == ["pay"]


def test_mouse_alone_presses(button: Button) -> None:
    events = [(1.0, mouse(pygame.MOUSEBUTTONDOWN, (250, 160), False)), (1.1, mouse(pygame.MOUSEBUTTONUP, (250, 160), False))]
    assert press(events, button, TouchInput(SCREEN)) == ["pay"]


def test_other_mouse_buttons_and_wheel_are_not_presses(button: Button) -> None:
    source = TouchInput(SCREEN)
    wheel = pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(250, 160), button=4, touch=False)
    assert source.feed(wheel, now=1.0) == []


def test_bounce_within_150_ms_is_dropped(button: Button) -> None:
    pos = (250, 160)
    events = [(1.0, finger(pygame.FINGERDOWN, pos)), (1.03, finger(pygame.FINGERUP, pos)),
              (1.09, finger(pygame.FINGERDOWN, pos)), (1.12, finger(pygame.FINGERUP, pos))]
    assert press(events, button, TouchInput(SCREEN)) == ["pay"]


def test_two_deliberate_taps_count_twice(button: Button) -> None:
    events = tap_by_finger_as_sdl_reports_it((250, 160), 1.0) + tap_by_finger_as_sdl_reports_it((250, 160), 1.4)
    assert press(events, button, TouchInput(SCREEN)) == ["pay", "pay"]


def test_second_finger_while_the_first_is_down_is_ignored() -> None:
    one, two = Button((0, 0, 200, 200), "1", "one"), Button((600, 0, 200, 200), "2", "two")
    events = [(1.0, finger(pygame.FINGERDOWN, (100, 100), 0)), (1.3, finger(pygame.FINGERDOWN, (700, 100), 1)),
              (1.4, finger(pygame.FINGERUP, (700, 100), 1)), (1.5, finger(pygame.FINGERUP, (100, 100), 0))]
    assert press(events, Group([one, two]), TouchInput(SCREEN)) == ["one"]


def test_finger_coordinates_are_scaled_to_the_window() -> None:
    source = TouchInput((800, 600))
    down = pygame.event.Event(pygame.FINGERDOWN, x=0.5, y=1.0, finger_id=0, touch_id=1)
    assert source.feed(down, now=0.0) == [Touch(DOWN, (400, 599), 0.0)]


def test_lost_focus_cancels_the_press_without_activating(button: Button) -> None:
    source = TouchInput(SCREEN)
    events = [(1.0, finger(pygame.FINGERDOWN, (250, 160))), (1.1, pygame.event.Event(pygame.WINDOWFOCUSLOST)),
              (1.2, finger(pygame.FINGERUP, (250, 160)))]
    assert press(events, button, source) == []
    assert not button.held


def test_missed_up_is_cancelled_before_the_next_press(button: Button) -> None:
    source = TouchInput(SCREEN)
    source.feed(mouse(pygame.MOUSEBUTTONDOWN, (10, 10), False), now=1.0)
    kinds = [t.kind for t in source.feed(mouse(pygame.MOUSEBUTTONDOWN, (250, 160), False), now=2.0)]
    assert kinds == [CANCEL, DOWN]


def test_sliding_off_the_button_takes_the_press_back(button: Button) -> None:
    events = [(1.0, finger(pygame.FINGERDOWN, (250, 160))), (1.1, finger(pygame.FINGERMOTION, (700, 700))),
              (1.2, finger(pygame.FINGERUP, (700, 700)))]
    assert press(events, button, TouchInput(SCREEN)) == []


def test_disabled_button_does_not_activate(button: Button) -> None:
    button.enabled = False
    assert press(tap_by_finger_as_sdl_reports_it((250, 160), 1.0), button, TouchInput(SCREEN)) == []


# -- target sizes ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("dpi", "px"), [(96, 57), (160, 95)])
def test_min_target_is_15_mm(dpi: int, px: int) -> None:
    assert min_target_px(dpi) == px
    assert px / dpi * 25.4 >= 15.0
    assert min_target_px(dpi, 10) == px  # nobody may ask for less than 15 mm


@pytest.mark.parametrize(("dpi", "screen"), [(96, (1280, 1024)), (160, (1920, 1080))])
@pytest.mark.parametrize("kind", ["digits", "ru", "en"])
def test_keypads_keep_every_key_at_least_15_mm(dpi: int, screen: tuple[int, int], kind: str) -> None:
    min_px, gap = min_target_px(dpi), 12
    width = screen[0] // 2 if kind == "digits" else screen[0] - 40
    pad = Keypad((20, screen[1] // 3, width, screen[1] * 2 // 3 - 20), min_px, gap, kind)
    assert pad.targets() and too_small(pad.targets(), min_px) == []


def test_keypad_too_small_for_fingers_is_refused() -> None:
    with pytest.raises(LayoutError, match="at least 57 px"):
        Keypad((0, 0, 400, 200), min_target_px(96), 10, "ru")


@pytest.mark.parametrize("dpi", [96, 160])
def test_grid_tiles_are_finger_sized_and_paged(dpi: int) -> None:
    min_px = min_target_px(dpi)
    tiles = [Tile(f"p{i}", f"Provider {i}") for i in range(30)]
    grid = Grid((20, 200, 1240, 700), tiles, min_px, 12)
    assert too_small(grid.targets(), min_px) == []
    assert grid.pages * grid.per_page >= 30 and grid.pages > 1
    grid.show(grid.pages - 1)
    assert [t.action for t in grid.children] == [t.id for t in tiles[(grid.pages - 1) * grid.per_page:]]


def test_grid_with_few_tiles_makes_them_big() -> None:
    grid = Grid((0, 0, 1200, 700), [Tile(c, c) for c in "abcd"], min_target_px(96), 12)
    assert (grid.columns, grid.rows) == (2, 2)
    assert all(r.width > 500 for r in grid.targets())


def test_touching_a_tile_returns_its_id() -> None:
    grid = Grid((0, 0, 1200, 700), [Tile("mobile", "Mobile"), Tile("net", "Net", enabled=False)], 57, 12)
    source = TouchInput(SCREEN)
    assert press(tap_by_finger_as_sdl_reports_it(grid.children[0].rect.center, 1.0), grid, source) == ["mobile"]
    assert press(tap_by_finger_as_sdl_reports_it(grid.children[1].rect.center, 2.0), grid, source) == []


# -- text field and keypad --------------------------------------------------------------------------------------

def test_mask_fills_as_digits_are_typed() -> None:
    field = TextField((0, 0, 600, 200), PHONE)
    typed, rest = field.display()
    assert typed + rest == PHONE.mask and "_" not in typed
    for key in "912":
        field.press(key)
    assert field.display() == ("+7 (912", ") ___-__-__")
    for key in "3456789":
        field.press(key)
    assert field.display() == ("+7 (912) 345-67-89", "")
    assert not field.press("0")  # max_length reached
    field.press(BACKSPACE)
    assert field.value == "912345678" and field.display()[1] == "_"
    field.press(CLEAR)
    assert field.value == ""


def test_digit_field_ignores_letters_and_validation_shows_the_problem(painter: Painter) -> None:
    field = TextField((0, 0, 600, 260), PHONE)
    assert not field.press("Ж")
    field.press("9")
    assert field.validate() == "too_short"
    surface = pygame.Surface(SCREEN)
    field.draw(surface, painter)
    assert field.press("1") and field.problem == ""  # typing again clears the complaint


def test_keypad_keys_feed_the_field() -> None:
    pad, field = Keypad((0, 300, 600, 600), 57, 12), TextField((0, 0, 600, 200), PHONE)
    source = TouchInput(SCREEN)
    keys = {b.action: b.rect.center for b in pad.children}
    for i, key in enumerate("9123"):
        for action in press(tap_by_finger_as_sdl_reports_it(keys[key], 1.0 + i), pad, source):
            field.press(action)
    assert field.value == "9123"


def test_text_keyboard_switches_between_russian_and_english() -> None:
    pad = Keypad((0, 300, 1240, 600), 57, 10, "ru")
    assert "Ж" in {b.action for b in pad.children}
    layout = next(b for b in pad.children if b.action == "layout")
    assert press(tap_by_finger_as_sdl_reports_it(layout.rect.center, 1.0), pad, TouchInput(SCREEN)) == []
    assert pad.kind == "en" and "Q" in {b.action for b in pad.children}


# -- drawing ----------------------------------------------------------------------------------------------------

def _face(surface: pygame.Surface, button: Button) -> tuple[int, int, int]:
    # a point inside the face, clear of the border and of the centred label
    return tuple(surface.get_at((button.rect.x + 14, button.rect.centery)))[:3]


def test_press_shows_on_the_next_frame(painter: Painter, button: Button) -> None:
    surface = pygame.Surface(SCREEN)
    button.draw(surface, painter)
    assert _face(surface, button) == painter.colours.accent
    button.touch(Touch(DOWN, (250, 160), 1.0))
    assert button.dirty
    button.draw(surface, painter)
    assert _face(surface, button) == painter.colours.pressed


def test_quick_tap_still_shows_then_clears(painter: Painter, button: Button) -> None:
    surface = pygame.Surface(SCREEN)
    button.touch(Touch(DOWN, (250, 160), 1.0))
    assert button.touch(Touch(UP, (250, 160), 1.02)) == "pay"
    button.tick(1.03)
    button.draw(surface, painter)
    assert _face(surface, button) == painter.colours.pressed
    assert button.wake_at() is not None and button.wake_at() > 1.03
    button.tick(button.wake_at())
    button.draw(surface, painter)
    assert _face(surface, button) == painter.colours.accent and button.wake_at() is None


def test_disabled_button_looks_disabled(painter: Painter, button: Button) -> None:
    surface = pygame.Surface(SCREEN)
    button.enabled = False
    button.draw(surface, painter)
    assert _face(surface, button) == painter.colours.surface


def test_theme_switch_is_a_new_painter(headless: None, button: Button) -> None:
    surface = pygame.Surface(SCREEN)
    dark = Painter(read_theme(THEMES_DIR / "dark"), translations("en"))
    button.draw(surface, dark)
    assert _face(surface, button) == dark.colours.accent


def test_label_wraps_inside_its_width_and_keeps_no_break_spaces(painter: Painter) -> None:
    text = painter.resolve(Msg("Returning to the start in {seconds} s", seconds=10))
    lines = painter.wrap(text, "base", 330)
    assert len(lines) > 1 and all(painter.font("base").size(line)[0] <= 330 for line in lines)
    assert any(line.endswith("10\u00a0с") for line in lines)
    Label((0, 0, 330, 200), text).draw(pygame.Surface(SCREEN), painter)


def test_rendered_text_is_cached(painter: Painter) -> None:
    first = painter.text("Оплатить", "button", painter.colours.text, True)
    assert painter.text("Оплатить", "button", painter.colours.text, True) is first


def test_countdown_wakes_once_a_second_and_expires(painter: Painter) -> None:
    countdown = Countdown((0, 0, 600, 100), deadline=100.0, total=30)
    countdown.tick(71.5)
    assert countdown.seconds == 29 and countdown.wake_at() == 72.0
    countdown.draw(pygame.Surface(SCREEN), painter)
    countdown.tick(72.0)
    assert countdown.seconds == 28 and countdown.dirty
    countdown.tick(100.0)
    assert countdown.expired and countdown.wake_at() is None


def test_slideshow_turns_pages_on_time_and_a_touch_starts(painter: Painter) -> None:
    show = Slideshow((0, 0, 1280, 1024), painter.theme.ads, seconds=8, start=0.0)
    show.tick(7.9)
    assert show.index == 0 and show.wake_at() == 8.0
    show.tick(8.0)
    assert show.index == 1 and show.dirty
    show.draw(pygame.Surface(SCREEN), painter)
    assert press(tap_by_finger_as_sdl_reports_it((640, 500), 9.0), show, TouchInput(SCREEN)) == ["start"]


def test_group_sleeps_until_the_earliest_widget_needs_it(painter: Painter) -> None:
    group = Group([Button((0, 0, 100, 100), "x", "x"), Countdown((0, 200, 400, 100), deadline=50.0, total=10)])
    group.tick(45.2)
    assert group.wake_at() == 46.0
    surface = pygame.Surface(SCREEN)
    group.draw(surface, painter)
    assert not group.changed
    assert group.wait_ms(45.2) == 800
    assert Group([Label((0, 0, 10, 10), "idle")]).wait_ms(45.2, longest=2.0) == 2000  # nothing moves: sleep long


def test_tile_icons_fade_when_the_tile_is_unavailable_and_a_badge_replaces_a_missing_icon(painter: Painter) -> None:
    logo = DEMO_DIR / "logos" / "mts.png"
    looks = []
    for tile in (Tile("a", "MTS", logo), Tile("b", "MTS", logo, enabled=False, note="Unavailable now")):
        surface = pygame.Surface((400, 300))
        button = TileButton((0, 0, 400, 300), tile)
        button.draw(surface, painter)
        icon = pygame.Rect(0, 0, 1, 1)
        icon.center = (200, 80)
        looks.append(surface.get_at(icon.center)[:3])
    assert looks[0][0] > 200 and looks[0][1] < 40  # MTS red
    assert looks[1][1] > 120  # faded towards the tile's face
    surface = pygame.Surface((400, 300))
    TileButton((0, 0, 400, 300), Tile("c", "Pay by phone number", badge="+7")).draw(surface, painter)
    assert surface.get_at((200, 110))[:3] != painter.colours.surface  # the badge, not an empty face


def test_only_what_changed_is_redrawn_when_it_is_small(painter: Painter) -> None:
    from kiosk.screens.ui import dirty_area

    ok, cancel = Button((10, 10, 100, 60), "OK", "ok"), Button((200, 10, 100, 60), "No", "no")
    group = Group([ok, cancel])
    group.draw(pygame.Surface(SCREEN), painter)
    assert dirty_area(group) is None  # nothing changed
    ok.touch(Touch("down", (50, 40), 1.0))
    assert dirty_area(group) == ok.rect
    cancel.enabled = False
    assert dirty_area(group) == ok.rect.union(cancel.rect)
    group.dirty = True  # a group without a rect of its own changed: everything is drawn again
    assert dirty_area(group) is None
