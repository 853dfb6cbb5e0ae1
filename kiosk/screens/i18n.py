"""Translations: gettext catalogs (.po) read with Babel at run time, no build step."""

from __future__ import annotations

import gettext
import io
import logging
import threading
from collections.abc import Mapping
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

log = logging.getLogger(__name__)

DOMAIN = "kiosk"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "data" / "locale"
#: the language the msgids are written in; a missing translation shows this text
SOURCE_LANGUAGE = "en"


def N_(msgid: str) -> str:
    """Mark a msgid for extraction without translating it yet (pybabel extract -k N_)."""
    return msgid


#: what each kiosk.catalog.InputField.problem() key says to the payer
PROBLEMS: Mapping[str, str] = {
    "too_short": N_("The number is too short"),
    "too_long": N_("The number is too long"),
    "wrong_format": N_("The number is in the wrong format"),
    "bad_checksum": N_("There is a mistake in the number: check the digits"),
}


def catalog_path(lang: str, locale_dir: Path = LOCALE_DIR) -> Path:
    """Where the .po catalog of a language lives."""
    return Path(locale_dir) / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(lang: str, locale_dir: Path = LOCALE_DIR) -> Catalog:
    """The parsed .po catalog of a language (raises OSError or a Babel error if unreadable)."""
    with catalog_path(lang, locale_dir).open("rb") as handle:
        return read_po(handle, locale=lang, domain=DOMAIN)


def available_languages(locale_dir: Path = LOCALE_DIR) -> list[str]:
    """Languages that have a catalog, sorted."""
    base = Path(locale_dir)
    return sorted(p.name for p in base.iterdir() if catalog_path(p.name, base).is_file()) if base.is_dir() else []


def _compile(lang: str, locale_dir: Path) -> gettext.NullTranslations:
    try:
        catalog = read_catalog(lang, locale_dir)
    except FileNotFoundError:
        if lang != SOURCE_LANGUAGE:
            log.warning("no %s catalog for language %r; showing %s texts", DOMAIN, lang, SOURCE_LANGUAGE)
        return gettext.NullTranslations()
    except Exception:
        # a broken catalog pushed to the terminal must not stop it taking payments
        log.exception("cannot read the %r catalog; showing %s texts", lang, SOURCE_LANGUAGE)
        return gettext.NullTranslations()
    # compiling to .mo in memory lets the standard library do plural forms exactly as gettext does
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


class Translator:
    """The texts of one language; placeholders like {amount} are filled from keyword values."""

    def __init__(self, lang: str, locale_dir: Path = LOCALE_DIR) -> None:
        self.lang = lang
        self._tr = _compile(lang, Path(locale_dir))

    def gettext(self, msgid: str, **values: object) -> str:
        """The translation of msgid, with values filled in."""
        return self._fill(self._tr.gettext(msgid), msgid, values)

    __call__ = gettext

    def ngettext(self, singular: str, plural: str, n: int, **values: object) -> str:
        """The plural form for n (Russian has three), with values and n (as {count} unless given) filled in."""
        values.setdefault("count", n)
        return self._fill(self._tr.ngettext(singular, plural, n), singular if n == 1 else plural, values)

    def problem(self, key: str) -> str:
        """What an input validation problem key ('too_short' …) says to the payer."""
        msgid = PROBLEMS.get(key)
        if msgid is None:
            log.error("no text for validation problem %r", key)
            return self.gettext(PROBLEMS["wrong_format"])
        return self.gettext(msgid)

    def pick(self, texts: Mapping[str, str]) -> str:
        """One language out of a catalog's {ru = …, en = …} table, falling back to the source language."""
        for lang in (self.lang, SOURCE_LANGUAGE):
            if texts.get(lang):
                return texts[lang]
        return next(iter(texts.values()), "")

    def _fill(self, text: str, msgid: str, values: Mapping[str, object]) -> str:
        if not values:
            return text
        try:
            return text.format(**values)
        except (KeyError, IndexError, ValueError):
            # a translator broke a placeholder: show the source text rather than crash or show braces
            log.error("translation of %r into %r has bad placeholders: %r", msgid, self.lang, text)
            try:
                return msgid.format(**values)
            except (KeyError, IndexError, ValueError):
                return msgid


_cache: dict[tuple[str, Path], Translator] = {}
_cache_lock = threading.Lock()


def translations(lang: str, locale_dir: Path = LOCALE_DIR) -> Translator:
    """The Translator of a language, read once and then shared."""
    key = (lang, Path(locale_dir))
    with _cache_lock:
        if key not in _cache:
            _cache[key] = Translator(lang, key[1])
        return _cache[key]


def clear_cache() -> None:
    """Forget loaded catalogs, so an updated catalog pushed to the terminal is read again."""
    with _cache_lock:
        _cache.clear()
