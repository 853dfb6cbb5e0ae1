"""Reading validated data documents: every error names the file, the key and what was expected."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kiosk.errors import ConfigError
from kiosk.money import Money, MoneyError

_MISSING = object()


# The largest amount any document may name: 100 million roubles. Far above what a terminal takes, and far
# below where kopecks would stop fitting the 64-bit integers SQLite and the gateways store.
MAX_AMOUNT_MINOR = 100_000_000 * 100


def load_toml(path: str | Path, what: str) -> dict[str, Any]:
    """Read a TOML file, turning a missing file or a syntax error into a ConfigError."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(str(path), "", f"{what} file not found") from None
    except IsADirectoryError:
        raise ConfigError(str(path), "", f"expected a {what} file, found a directory") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "", f"not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), "", f"not UTF-8 text: {exc}") from exc
    except RecursionError:
        # tomllib recurses once per nesting level; a hostile file must get an error, not a crash
        raise ConfigError(str(path), "", "nested too deeply to be a " + what + " (arrays or tables "
                          "inside each other thousands of levels deep)") from None


def _type_name(value: Any) -> str:
    return {bool: "boolean", int: "integer", float: "float", str: "string", list: "array", dict: "table"}.get(
        type(value), type(value).__name__
    )


class Doc:
    """A table inside a document, remembering where it came from for error messages."""

    def __init__(self, file: str | Path, data: Any, path: str = "") -> None:
        self.file, self.path = str(file), path
        if not isinstance(data, dict):
            raise self.error("", f"expected a table, got {_type_name(data)}")
        self.data: dict[str, Any] = data

    def key(self, name: str) -> str:
        """The dotted key path of name inside this table."""
        return f"{self.path}.{name}" if self.path else name

    def error(self, name: str, problem: str) -> ConfigError:
        """A ConfigError for key name of this table."""
        return ConfigError(self.file, self.key(name) if name else self.path, problem)

    def has(self, name: str) -> bool:
        """Whether the key is present."""
        return name in self.data

    def _get(self, name: str, default: Any) -> Any:
        if name in self.data:
            return self.data[name]
        if default is _MISSING:
            raise self.error(name, "required key is missing")
        return default

    def string(self, name: str, default: Any = _MISSING, pattern: str | None = None, what: str = "") -> str:
        """A string, optionally matching a regular expression."""
        value = self._get(name, default)
        if not isinstance(value, str):
            raise self.error(name, f"expected a string, got {_type_name(value)} {value!r}")
        if pattern is not None and not re.fullmatch(pattern, value):
            raise self.error(name, f"expected {what or 'a value matching ' + pattern}, got {value!r}")
        return value

    def integer(self, name: str, default: Any = _MISSING, minimum: int | None = None, maximum: int | None = None) -> int:
        """An integer within bounds."""
        value = self._get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(name, f"expected an integer, got {_type_name(value)} {value!r}")
        if minimum is not None and value < minimum:
            raise self.error(name, f"expected at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise self.error(name, f"expected at most {maximum}, got {value}")
        return value

    def boolean(self, name: str, default: Any = _MISSING) -> bool:
        """A boolean."""
        value = self._get(name, default)
        if not isinstance(value, bool):
            raise self.error(name, f"expected true or false, got {_type_name(value)} {value!r}")
        return value

    def money(self, name: str, currency: str, default: Any = _MISSING, allow_zero: bool = True) -> Money:
        """An amount: a whole number of major units (150) or a decimal string ("150.50"); never a float."""
        value = self._get(name, default)
        if isinstance(value, Money):
            return value
        if isinstance(value, float):
            raise self.error(name, f'expected an amount as an integer or a quoted decimal like "{value:.2f}", '
                                   f"got float {value!r} (floats cannot hold money exactly)")
        try:
            if isinstance(value, int) and not isinstance(value, bool):
                amount = Money.major(value, currency)
            elif isinstance(value, str):
                amount = Money.parse(value, currency)
            else:
                raise self.error(name, f"expected an amount, got {_type_name(value)} {value!r}")
        except MoneyError as exc:
            raise self.error(name, str(exc)) from exc
        if amount.minor < 0 or (amount.minor == 0 and not allow_zero):
            raise self.error(name, f"expected a positive amount, got {amount.decimal_text()}")
        if amount.minor > MAX_AMOUNT_MINOR:
            raise self.error(name, f"expected at most {MAX_AMOUNT_MINOR // 100:,} in major units, got "
                                   f"{amount.decimal_text()} (no terminal takes that much; a typo?)")
        return amount

    def table(self, name: str, default: Any = _MISSING) -> Doc:
        """A nested table."""
        value = self._get(name, {} if default is _MISSING else default)
        if name not in self.data and default is _MISSING:
            raise self.error(name, "required table is missing")
        return Doc(self.file, value, self.key(name))

    def tables(self, name: str, required: bool = True) -> Iterator[Doc]:
        """An array of tables, each with its index in the key path."""
        value = self._get(name, _MISSING if required else [])
        if not isinstance(value, list):
            raise self.error(name, f"expected an array of tables, got {_type_name(value)}")
        for index, item in enumerate(value):
            yield Doc(self.file, item, f"{self.key(name)}[{index}]")

    def strings(self, name: str, default: Any = _MISSING) -> list[str]:
        """An array of strings."""
        value = self._get(name, default)
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.error(name, f"expected an array of strings, got {value!r}")
        return list(value)

    def texts(self, name: str, languages: tuple[str, ...] = ("ru", "en"), default: Any = _MISSING) -> dict[str, str]:
        """A translated text: a table with one string per language ({ ru = "…", en = "…" })."""
        value = self._get(name, default)
        if isinstance(value, str):
            return {lang: value for lang in languages}
        if not isinstance(value, dict):
            raise self.error(name, f"expected a table of texts by language, got {_type_name(value)}")
        missing = [lang for lang in languages if not isinstance(value.get(lang), str) or not value.get(lang)]
        if missing:
            raise self.error(name, f"expected a text for each language {languages}, missing {missing}")
        return {lang: value[lang] for lang in value}

    def unknown_keys(self, allowed: set[str]) -> None:
        """Reject keys nobody reads: a typo in a limit must not silently leave the default in force."""
        extra = sorted(set(self.data) - allowed)
        if extra:
            raise self.error(extra[0], f"unknown key; expected one of {sorted(allowed)}")
