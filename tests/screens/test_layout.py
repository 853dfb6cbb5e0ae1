"""The layout check over every screen × theme × language × display size (see layout_check.py for the rules).

KNOWN lists the combinations that still fail, each with its problems printed by the test: a ratchet, not a
pass. A combination that starts to pass must leave the list (the test says so), and no new one may join it.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import pytest

from kiosk.screens.screenshots import SHOTS, terminal_in, walk
from kiosk.screens.theme import THEMES_DIR, read_theme, theme_names
from kiosk.screens.ui import KioskUI
from tests.screens.layout_check import SIZES, check_all_sizes

THEMES = {name: read_theme(THEMES_DIR / name) for name in theme_names(THEMES_DIR)}
#: (moment, size, theme) that do not fit yet, in either language: none now. Where large text on a small display
#: cannot hold a screen at once, the screen pages it (done, failed, the service menu) or moves the secondary part
#: behind a button (confirmation's legal details); the check itself is unchanged
KNOWN: set[tuple[str, str, str]] = set()


@functools.cache
def layout_problems(lang: str, sizes: tuple[tuple[int, int], ...] = SIZES) -> dict[str, tuple[str, ...]]:
    """Walk every screen once in lang; at each moment, check its layout at every size in every theme."""
    found: dict[str, tuple[str, ...]] = {}
    with tempfile.TemporaryDirectory(prefix="kiosk-layout-") as temp, terminal_in(Path(temp)) as (terminal, _):
        ui = KioskUI(terminal, size=(1280, 1024), lang=lang, clock=lambda: 0.0)

        def shot(name: str) -> None:
            found[name] = tuple(check_all_sizes(ui, THEMES, sizes))

        walk(ui, terminal, shot)
    return found


def where(problem: str) -> tuple[str, str]:
    """(size, theme) of a problem line."""
    size, theme = problem.split(":", 1)[0].split(" ")
    return size, theme


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["ru", "en"])
def test_every_screen_fits_every_display_theme_and_language(lang: str) -> None:
    found = layout_problems(lang)
    assert sorted(found) == sorted(SHOTS)
    new = [f"{name}: {p}" for name, problems in found.items() for p in problems
           if (name, *where(p)) not in KNOWN]
    assert not new, "\n".join(new)


@pytest.mark.slow
def test_the_list_of_known_misfits_is_current() -> None:
    failing = {(name, *where(p)) for lang in ("ru", "en") for name, problems in layout_problems(lang).items()
               for p in problems}
    fixed = sorted(KNOWN - failing)
    assert not fixed, f"these fit now; take them off KNOWN: {fixed}"


def test_the_reference_size_fits_in_every_theme() -> None:
    found = layout_problems("ru", ((1280, 1024), (1080, 1920)))
    assert not [p for problems in found.values() for p in problems], "\n".join(
        f"{name}: {p}" for name, problems in found.items() for p in problems)


def test_wrapping_never_splits_a_phone_number_an_amount_or_a_word(painter) -> None:  # noqa: ANN001
    font = painter.font("base")
    text = "Поддержка: +7 (916) 555-44-33, к зачислению 1 234,50 ₽, терминал № 10001"
    # a line too narrow for the whole phone number: the old wrap broke it at its spaces ("+7 (916) 555-44- / 33")
    lines = painter.wrap(text, "base", font.size("Поддержка: +7 (916)")[0])
    plain = [line.replace("\u00a0", " ") for line in lines]
    for token in ("+7 (916) 555-44-33,", "1 234,50 ₽,", "№ 10001"):
        assert any(token in line for line in plain), plain
    # a word wider than the line stays whole (the layout check reports the overflow); it was cut mid-word
    assert painter.wrap("терминала", "base", font.size("терми")[0]) == ["терминала"]


def test_the_check_reports_what_does_not_fit(painter) -> None:  # noqa: ANN001
    from kiosk.screens.widgets import Button, Group, Label
    from tests.screens.layout_check import problems

    crowded = Group([Label((0, 0, 200, 40), "Назовите в поддержке номер терминала 10001", "base"),
                     Button((100, 20, 120, 60), "OK", "ok"), Label((10, 30, 300, 40), "+7 (916) 555-44-33", 12)])
    found = "\n".join(problems(crowded, painter, (800, 600), 96))
    assert "runs out of its box" in found and "overlaps the 'ok' button" in found
    assert "under the theme's minimum" in found and "is (120, 60), under 57 px" not in found
    assert "'ok' button is (120, 60)" not in found
    assert not problems(Group([Label((0, 0, 700, 100), "Готово", "base")]), painter, (800, 600), 96)


def test_a_window_too_big_for_the_display_shrinks_with_its_shape_kept() -> None:
    from kiosk.screens.layout import fit_window

    assert fit_window((1280, 1024), (1366, 768)) == (864, 691)  # 90 % of 768 high, 5:4 kept
    assert fit_window((1280, 1024), (1920, 1080)) == (1215, 972)
    assert fit_window((1024, 768), (3840, 2160)) == (1024, 768)  # never blown up
    assert fit_window((1080, 1920), (1920, 1080)) == (546, 972)
