"""Translations: complete, matching catalogs read at run time; plural forms; safe placeholder filling."""

from __future__ import annotations

import logging
import shutil
import string
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file

from kiosk.screens.i18n import (
    LOCALE_DIR,
    PROBLEMS,
    Translator,
    available_languages,
    catalog_path,
    read_catalog,
    translations,
)

SCREENS = Path(__file__).resolve().parents[2] / "kiosk" / "screens"


def _ids(lang: str) -> set[str | tuple[str, ...]]:
    return {m.id for m in read_catalog(lang) if m.id}


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.fixture
def locale_copy() -> Iterator[Path]:
    """A private copy of the catalogs to break, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="kiosk-locale-") as temp:
        shutil.copytree(LOCALE_DIR, Path(temp) / "locale")
        yield Path(temp) / "locale"


def test_russian_and_english_catalogs_exist() -> None:
    assert {"ru", "en"} <= set(available_languages())


def test_every_russian_msgid_has_a_translation() -> None:
    catalog = read_catalog("ru")
    assert catalog.num_plurals == 3
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert len(strings) == (3 if message.pluralizable else 1), message.id
        assert all(s.strip() for s in strings), message.id
        assert not message.fuzzy, message.id


def test_russian_and_english_catalogs_have_the_same_keys() -> None:
    assert _ids("ru") == _ids("en")


def test_translations_keep_every_placeholder_of_the_msgid() -> None:
    for lang in ("ru", "en"):
        for message in read_catalog(lang):
            if not message.id:
                continue
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            wanted = set().union(*(_fields(i) for i in ids))
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            for text in strings:
                assert _fields(text) == wanted, (lang, message.id, text)


def test_every_text_the_widgets_use_is_in_the_catalog() -> None:
    used = {message for path in SCREENS.glob("*.py")
            for _, message, _, _ in extract_from_file("python", str(path), keywords={"Msg": None, "N_": None})}
    assert used, "no marked texts found"
    assert used <= _ids("ru"), used - _ids("ru")


def test_the_screens_texts_are_written_up_front() -> None:
    ids = _ids("ru")
    for msgid in ("Touch the screen to pay", "Choose a service", "Search by name", "Checking the number…",
                  "Check the payment details", "Payee", "Fee", "Payment agent", "Support phone", "Inserted",
                  "To be credited", "Maximum", "Pay", "Processing the payment…", "Payment accepted",
                  "Your money is safe: the payment will be delivered later",
                  "Payment not completed: keep the receipt and call support {phone}",
                  "Temporarily out of service", "Returning to the start in {seconds} s", "Device status", "Cassette",
                  "Encashment", "Waiting operations", "Needs attention", "Test print", "Test validator", "Gateways",
                  "Reprint last receipt", "Restart"):
        assert msgid in ids, msgid


def test_every_validation_problem_has_a_text_in_each_language() -> None:
    assert set(PROBLEMS) == {"too_short", "too_long", "wrong_format", "bad_checksum"}
    ru, en = translations("ru"), translations("en")
    for key in PROBLEMS:
        assert ru.problem(key) != en.problem(key)
    assert ru.problem("too_short") == "Номер слишком короткий"


def test_values_are_filled_in() -> None:
    ru = translations("ru")
    assert ru.gettext("Returning to the start in {seconds} s", seconds=7) == "Возврат в начало через 7\u00a0с"
    assert ru("Terminal {terminal}", terminal="10001") == "Терминал № 10001"
    assert translations("en")("Pay") == "Pay"


@pytest.mark.parametrize(("n", "text"), [(1, "1 купюра"), (2, "2 купюры"), (4, "4 купюры"), (5, "5 купюр"),
                                         (11, "11 купюр"), (21, "21 купюра"), (22, "22 купюры"), (112, "112 купюр")])
def test_russian_has_three_plural_forms(n: int, text: str) -> None:
    assert translations("ru").ngettext("{count} banknote", "{count} banknotes", n) == text


def test_english_plural() -> None:
    en = translations("en")
    assert en.ngettext("{count} operation waiting", "{count} operations waiting", 1) == "1 operation waiting"
    assert en.ngettext("{count} operation waiting", "{count} operations waiting", 3) == "3 operations waiting"


def test_translations_are_read_once_and_shared() -> None:
    assert translations("ru") is translations("ru")
    assert translations("ru") is not translations("en")


def test_language_without_a_catalog_shows_english(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert Translator("de").gettext("Touch the screen to pay") == "Touch the screen to pay"
    assert "'de'" in caplog.text


def test_catalog_texts_pick_the_language_and_fall_back_to_english() -> None:
    assert translations("ru").pick({"ru": "ЖКХ", "en": "Utilities"}) == "ЖКХ"
    assert Translator("de").pick({"ru": "ЖКХ", "en": "Utilities"}) == "Utilities"


def test_broken_placeholder_in_a_translation_shows_the_source_text(locale_copy: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    po = catalog_path("ru", locale_copy)
    po.write_text(po.read_text(encoding="utf-8").replace("Поддержка: {phone}", "Поддержка: {телефон}"),
                  encoding="utf-8")
    with caplog.at_level(logging.ERROR):
        text = Translator("ru", locale_copy).gettext("Support: {phone}", phone="8 800")
    assert text == "Support: 8 800"
    assert "bad placeholders" in caplog.text


def test_unreadable_catalog_does_not_stop_the_kiosk(locale_copy: Path, caplog: pytest.LogCaptureFixture) -> None:
    catalog_path("ru", locale_copy).write_bytes(b'msgid "Pay"\nmsgstr "\xff\xfe broken')
    with caplog.at_level(logging.ERROR):
        assert Translator("ru", locale_copy).gettext("Pay") in ("Pay", "Оплатить")


def test_fees_are_written_with_the_russian_decimal_comma() -> None:
    from kiosk.catalog import load_catalog
    from kiosk.config import DEMO_DIR

    energo = load_catalog(DEMO_DIR / "catalog.toml").providers["energo"]
    assert energo.fee.describe("ru").startswith("1,5\u00a0%, мин. 15,00")
    assert energo.fee.describe("en").startswith("1.5\u00a0%, min RUB 15.00")
