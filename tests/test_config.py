"""Terminal configuration: the demo loads; every bad input names the file, the key and what was expected."""

import pytest

from kiosk.config import DEMO_CONFIG, load_config
from kiosk.errors import ConfigError
from kiosk.money import Money


def test_demo_configuration_loads():
    config = load_config(DEMO_CONFIG)
    assert config.terminal == "10001"
    assert config.timezone.key == "Europe/Moscow"
    assert config.max_operation == Money.major(15000)
    assert config.offline_max_total == Money.major(50000)
    assert set(config.gateways) == {"main", "backup"}
    assert config.denominations[0] == 1000 and config.denominations[-1] == 500000


def _write(tmp_path, text):
    path = tmp_path / "terminal.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _demo_with(tmp_path, old, new):
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    assert old in text, old
    return _write(tmp_path, text.replace(old, new))


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nowhere.toml: terminal configuration file not found"):
        load_config(tmp_path / "nowhere.toml")


def test_corrupt_toml_is_named(tmp_path):
    path = _write(tmp_path, "version = 1\n[terminal\nnumber = ")
    with pytest.raises(ConfigError, match="terminal.toml: not valid TOML"):
        load_config(path)


@pytest.mark.parametrize("old, new, key, expected", [
    ('max_operation = 15000', 'max_operation = 15000.5', "limits.max_operation", "floats cannot hold money"),
    ('max_operation = 15000', 'max_operation = "-5"', "limits.max_operation", "positive amount"),
    ('max_operation = 15000', 'max_operation = "lots"', "limits.max_operation", "not an amount"),
    ('number = "10001"', 'number = 10001', "terminal.number", "expected a string"),
    ('number = "10001"', 'number = "01x"', "terminal.number", "1 to 10 digits"),
    ('timezone = "Europe/Moscow"', 'timezone = "Mars/Olympus"', "terminal.timezone", "IANA time zone"),
    ('inn = "7752601811"', 'inn = "12"', "agent.inn", "10 or 12 digits"),
    ('driver = "virtual"', 'drivr = "virtual"', "devices.validator.driver", "required key is missing"),
    ('min_operation = 10', 'min_operation = 10\nmax_operaton = 5', "limits.max_operaton", "unknown key"),
    ('denominations = [10, 50', 'denominations = [0, 50', "terminal.denominations.0", "positive amount"),
    ('max_operation = 15000', 'max_operation = 5', "limits.max_operation", "must not be below min_operation"),
    ('max_operation = 15000', 'max_operation = 100000000000000000000000000', "limits.max_operation", "at most"),
    ('max_operation = 15000', 'max_operation = "1e26"', "limits.max_operation", "not an amount"),
])
def test_bad_values_name_file_key_and_expectation(tmp_path, old, new, key, expected):
    path = _demo_with(tmp_path, old, new)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message and key in message and expected in message, message


def test_toml_nested_thousands_deep_is_a_named_error_not_a_crash(tmp_path):
    path = _write(tmp_path, "x = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match="terminal.toml: nested too deeply"):
        load_config(path)


def test_newer_config_version_is_refused(tmp_path):
    path = _demo_with(tmp_path, "version = 1", "version = 2")
    with pytest.raises(ConfigError, match="version: expected 1"):
        load_config(path)


def test_relative_paths_are_relative_to_the_file(tmp_path):
    path = _demo_with(tmp_path, 'path = "~/.local/state/kiosk/demo/journal.sqlite"', 'path = "var/j.sqlite"')
    assert load_config(path).journal_path == tmp_path / "var" / "j.sqlite"
