"""The provider catalog: the demo, input fields, and clear errors for broken entries."""

import pytest

from kiosk.catalog import inn_ok, load_catalog, luhn_ok
from kiosk.config import DEMO_DIR
from kiosk.errors import ConfigError

DEMO_CATALOG = DEMO_DIR / "catalog.toml"


def test_demo_catalog_has_enough_providers_in_both_languages():
    catalog = load_catalog(DEMO_CATALOG, gateways={"main", "backup"})
    assert len(catalog.providers) >= 12
    assert {c.id for c in catalog.categories} >= {"mobile", "utilities", "internet", "other"}
    for provider in catalog.providers.values():
        assert provider.name["ru"] and provider.name["en"]
        assert inn_ok(provider.inn), provider.id
        assert provider.routes
        for field in provider.fields:
            assert field.label["ru"] and field.label["en"]
    assert all(catalog.in_category(c.id) for c in catalog.categories)


def test_account_fields_check_length_pattern_and_checksum():
    catalog = load_catalog(DEMO_CATALOG)
    phone = catalog.provider("mts").account_field
    assert phone.problem("9123456789") == ""
    assert phone.problem("912345678") == "too_short"
    assert phone.problem("8123456789") == "wrong_format"
    assert phone.masked("9123456789") == "+7 (912) 345-67-89"
    assert phone.masked("912") == "+7 (912"
    card = catalog.provider("loan").account_field
    assert card.problem("4276380012345679") == ""  # valid Luhn
    assert card.problem("4276380012345671") == "bad_checksum"


def test_luhn_and_inn():
    assert luhn_ok("79927398713") and not luhn_ok("79927398710")
    assert inn_ok("7707049388") and not inn_ok("7707049389")
    assert not inn_ok("abc")


def _catalog_with(tmp_path, old, new):
    text = DEMO_CATALOG.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "catalog.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize("old, new, key, expected", [
    ('regex = "9[0-9]{9}"', 'regex = "9[0-9{9}"', "providers[0].fields[0].regex", "not a valid regular expression"),
    ('category = "mobile"', 'category = "food"', "providers[0].category", "unknown category"),
    ('min = 10', 'min = 10.0', "providers[0].min", "floats cannot hold money"),
    ('fee = { kind = "none" }', 'fee = { kind = "percent", percent = "abc" }', "providers[0].fee.percent",
     "percent as a quoted decimal"),
    ('fee = { kind = "none" }', 'fee = { kind = "fixed", amount = 10 }', "providers[0].fee",
     "takes all of the minimum payment"),
    ('fee = { kind = "none" }', 'fee = { kind = "percent", percent = "1", min = 5, max = 1 }', "providers[0].fee.max",
     "must not be below min"),
    ('gateway = "main"', 'gateway = "nowhere"', "providers[0].routes[0].gateway", "no gateway named 'nowhere'"),
])
def test_broken_entries_are_named(tmp_path, old, new, key, expected):
    path = _catalog_with(tmp_path, old, new)
    with pytest.raises(ConfigError) as info:
        load_catalog(path, gateways={"main", "backup"})
    message = str(info.value)
    assert str(path) in message and key in message and expected in message, message


def test_tiers_that_lower_the_fee_are_refused(tmp_path):
    falling = ('fee = { kind = "tiered", tiers = [ { upto = 1000, fee = { kind = "fixed", amount = 50 } }, '
               '{ fee = { kind = "percent", percent = "1" } } ] }')
    path = _catalog_with(tmp_path, 'fee = { kind = "none" }', falling)
    with pytest.raises(ConfigError, match="the fee would fall from 50.00 to 10.00"):
        load_catalog(path)
