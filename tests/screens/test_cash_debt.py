"""The cash screen of a utility bill keeps the debt's total in sight and says what the money inside leaves of it
(or pays over it), in Russian and English, in the wide layout and in the compact one of a small display."""

from __future__ import annotations

from pathlib import Path

import pytest
from kiosk_ui import Driver, driven_ui

from kiosk import events as ev
from kiosk.screens.theme import THEMES_DIR, read_theme
from kiosk.utility_demo import SAMPLE_EPD
from tests.screens.layout_check import problems, record

DEFAULT, HIGH_CONTRAST = read_theme(THEMES_DIR / "default"), read_theme(THEMES_DIR / "high-contrast")
#: the reference display (wide layout) and a small one in large text (the compact layout)
LAYOUTS = (((1280, 1024), DEFAULT), ((800, 600), HIGH_CONTRAST))


def shown(kiosk: Driver, size: tuple[int, int], theme) -> list[str]:  # noqa: ANN001 - a Theme
    """Every text block of the current screen at that size and theme, in drawing order; no layout problem."""
    widgets, painter, _ = kiosk.ui.layout_at(size, theme)
    assert not problems(widgets, painter, size, kiosk.terminal.config.screen.dpi)
    return [" ".join(block.lines).replace("\u00a0", " ") for drawn in record(widgets, painter)
            for block in drawn.blocks]


def to_cash(kiosk: Driver) -> None:
    """The sample ЕПД scanned, both meters skipped, confirmed: the cash screen."""
    for event in (ev.ScanCode(SAMPLE_EPD.read_bytes()), ev.DebtNext(), ev.SkipReading(), ev.SkipReading(),
                  ev.Confirm()):
        kiosk.terminal.post(event)
        kiosk.settle()
    assert kiosk.state == "cash_collection"


def insert(kiosk: Driver, roubles: int) -> None:
    kiosk.terminal.validator.insert(roubles * 100)
    kiosk.settle()


def after(texts: list[str], label: str) -> str:
    """The text drawn right after a label (its amount in the table)."""
    return texts[texts.index(label) + 1]


@pytest.mark.parametrize(("lang", "due", "left", "over", "amounts"), [
    ("ru", "Итого к оплате", "Остаток долга", "Сверх долга",
     ("8 234,50 ₽", "5 234,50 ₽", "1 765,50 ₽")),
    ("en", "Total due", "Debt left", "Paid over the debt", ("RUB 8,234.50", "RUB 5,234.50", "RUB 1,765.50")),
])
def test_the_debt_and_what_the_cash_leaves_of_it_stay_on_the_cash_screen(tmp_path: Path, lang, due, left, over,
                                                                          amounts) -> None:
    with driven_ui(tmp_path, lang=lang) as kiosk:
        to_cash(kiosk)
        insert(kiosk, 2000)
        insert(kiosk, 1000)
        for size, theme in LAYOUTS:
            texts = shown(kiosk, size, theme)
            assert (after(texts, due), after(texts, left)) == amounts[:2], (size, texts)
            assert over not in texts
        insert(kiosk, 5000)
        insert(kiosk, 2000)  # 10 000 ₽ for a debt of 8 234,50 ₽: the rest is paid ahead
        for size, theme in LAYOUTS:
            texts = shown(kiosk, size, theme)
            assert (after(texts, due), after(texts, over)) == (amounts[0], amounts[2]), (size, texts)
            assert left not in texts


def test_a_payment_without_a_debt_shows_no_debt_rows(tmp_path: Path) -> None:
    with driven_ui(tmp_path) as kiosk:
        for event in (ev.Touch(), ev.ChooseProvider("mts"), ev.EditAccount("9123456789"), ev.SubmitAccount(),
                      ev.Confirm()):
            kiosk.terminal.post(event)
            kiosk.settle()
        insert(kiosk, 500)
        for size, theme in LAYOUTS:
            texts = shown(kiosk, size, theme)
            assert "Итого к оплате" not in texts and "Остаток долга" not in texts and "К зачислению" in texts
