"""Large text on a small display: what does not fit at once is paged or one press away, never left out.

High contrast at 800×600 cannot hold the confirmation's legal details beside the table, the failed screen's
three messages beside its table, or the service menu's eleven sections; each is laid out again after a press
and every text of the screen is seen on one of its pages, with the layout check clean on each.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.screens.categories import NEXT
from kiosk.screens.confirmation import LEGAL
from kiosk.screens.screenshots import terminal_in, walk
from kiosk.screens.theme import THEMES_DIR, read_theme
from kiosk.screens.ui import KioskUI
from kiosk.screens.widgets import Button, Group, Widget
from tests.screens.layout_check import problems, record

SMALL = (800, 600)
HIGH_CONTRAST = read_theme(THEMES_DIR / "high-contrast")


def texts_and_actions(ui: KioskUI) -> tuple[set[str], set[str], list[str]]:
    """What the current screen shows at 800×600 in high contrast: its texts, its enabled actions, its problems."""
    widgets, painter, _ = ui.layout_at(SMALL, HIGH_CONTRAST)
    shown = {" ".join(block.lines).replace("\u00a0", " ") for drawn in record(widgets, painter)
             for block in drawn.blocks}

    def actions(widget: Widget) -> list[str]:
        if isinstance(widget, Group):
            return [a for child in widget.children for a in actions(child)]
        return [widget.action] if isinstance(widget, Button) and widget.enabled else []

    found = problems(widgets, painter, SMALL, ui.terminal.config.screen.dpi)
    return shown, set(actions(widgets)), found


def at_moment(name: str, check: Callable[[KioskUI], None], lang: str = "ru") -> None:
    """Walk the screens and run check at the moment called name."""
    seen = []
    with tempfile.TemporaryDirectory(prefix="kiosk-pages-") as temp, terminal_in(Path(temp)) as (terminal, _):
        ui = KioskUI(terminal, size=(1280, 1024), lang=lang, clock=lambda: 0.0)

        def shot(moment: str) -> None:
            if moment == name:
                check(ui)
                seen.append(moment)

        walk(ui, terminal, shot)
    assert seen == [name]


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_the_confirmations_legal_details_are_one_press_away_and_back(lang: str) -> None:
    def check(ui: KioskUI) -> None:
        first, actions, found = texts_and_actions(ui)
        assert not found and LEGAL in actions and "confirm" in actions
        assert not any("7752601811" in text for text in first)  # the agent's INN is not on the first view
        ui.act(LEGAL)
        legal, actions, found = texts_and_actions(ui)
        assert not found and "confirm" in actions
        assert any("7752601811" in text for text in legal) and any("8 800 000-00-00" in text for text in legal)
        ui.act(LEGAL)
        assert texts_and_actions(ui)[0] == first

    at_moment("confirmation", check, lang)


def test_the_failed_screen_shows_every_message_and_row_over_its_pages() -> None:
    def check(ui: KioskUI) -> None:
        pages, seen = [], set()
        while True:
            shown, actions, found = texts_and_actions(ui)
            assert not found, found
            pages.append(shown)
            seen |= shown
            if NEXT not in actions:
                break
            ui.act(NEXT)
        assert len(pages) > 1
        joined = " ".join(seen)
        for words in ("8 800 000-00-00", "номер терминала 10002 и номер операции", "Ваши деньги не потеряны",
                      "+7 (916) 111-22-33", "100,00 ₽"):
            assert words in joined, (words, pages)

    at_moment("failed", check)


def test_every_service_section_is_reachable_on_a_page_of_the_menu() -> None:
    def check(ui: KioskUI) -> None:
        sections: set[str] = set()
        pages = 0
        while True:
            _, actions, found = texts_and_actions(ui)
            assert not found, found
            sections |= {a for a in actions if a.startswith("section:")}
            pages += 1
            if NEXT not in actions:
                break
            ui.act(NEXT)
        assert pages > 1
        assert sections == {f"section:{key}" for key in ui.screen.sections()}  # type: ignore[union-attr]

    at_moment("service", check)
