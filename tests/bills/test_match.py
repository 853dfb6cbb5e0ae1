"""Which provider a scanned bill pays: the payee's INN, the account pattern, "payment by bank details"."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.bills.match import BillMatch, NotServed, read_bill
from kiosk.bills.refusals import Refusal
from kiosk.catalog import parse_catalog
from kiosk.errors import ConfigError

DATA = Path(__file__).parent / "data"
EPD = (DATA / "epd_utf8_pipe_trailing.qr").read_bytes()  # PayeeINN 7701123451, PersAcc 1048572
WATER = (DATA / "water_cp1251_pipe.qr").read_bytes()


def provider(pid: str, utility: dict | None, regex: str = "[0-9]{5,12}") -> dict:
    out = {"id": pid, "name": {"ru": pid, "en": pid}, "category": "utilities", "inn": "7709123453",
           "phone": "8 800 100-00-04", "min": 10, "max": 15000,
           "fields": [{"id": "account", "label": {"ru": "Счёт", "en": "Account"}, "regex": regex}],
           "routes": [{"gateway": "main", "code": "1"}]}
    if utility is not None:
        out["utility"] = utility
    return out


def catalog(*providers: dict):
    return parse_catalog({"version": 1, "categories": [{"id": "utilities", "name": {"ru": "ЖКХ", "en": "Utilities"}}],
                          "providers": list(providers)}, "catalog.toml")


def test_the_payees_inn_and_account_pattern_choose_the_provider_and_fill_the_account() -> None:
    found = read_bill(catalog(provider("plain", None), provider("other", {"payee_inns": ["7709123453"]}),
                              provider("uk", {"payee_inns": ["7701123451"], "account_patterns": ["[0-9]{7}"]})), EPD)
    assert isinstance(found, BillMatch) and (found.provider.id, found.account, found.fields) == ("uk", "1048572", ())


def test_a_listed_payee_whose_account_fits_no_pattern_is_not_guessed() -> None:
    found = read_bill(catalog(provider("uk", {"payee_inns": ["7701123451"], "account_patterns": ["[0-9]{10}"]})),
                      EPD)
    assert isinstance(found, NotServed) and "payer account" in found.text("en")


def test_the_account_may_be_the_payees_account_where_the_provider_says_so() -> None:
    found = read_bill(catalog(provider("uk", {"payee_inns": ["7701123451"], "account_from": "PersonalAcc"},
                                       regex="[0-9]{20}")), EPD)
    assert isinstance(found, BillMatch) and found.account == "40702810938000012345"


def test_a_payee_nobody_lists_goes_to_payment_by_bank_details_where_the_dealer_allows_it() -> None:
    both = catalog(provider("uk", {"payee_inns": ["7701123451"]}), provider("any", {"bank_details": True}))
    found = read_bill(both, WATER)
    assert isinstance(found, BillMatch) and found.provider.id == "any" and found.account == "300115467"
    fields = dict(found.fields)
    assert fields["Name"] == 'ГУП "Водоканал Санкт-Петербурга"' and len(fields["PersonalAcc"]) == 20
    assert {"BIC", "CorrespAcc", "BankName", "PayeeINN"} <= set(fields)
    assert read_bill(both, EPD).provider.id == "uk"  # a listed payee still goes to its own provider
    nobody = read_bill(catalog(provider("uk", {"payee_inns": ["7701123451"]})), WATER)
    assert isinstance(nobody, NotServed) and "does not serve" in nobody.text("en") and nobody.text("ru")


def test_a_broken_code_is_the_parsers_refusal() -> None:
    assert isinstance(read_bill(catalog(provider("uk", {"payee_inns": ["7701123451"]})), b"hello"), Refusal)


@pytest.mark.parametrize(("utility", "words"), [
    ({}, "payee_inns"),
    ({"payee_inns": ["123"]}, "INN"),
    ({"payee_inns": ["7701123451"], "account_patterns": ["("]}, "regular expression"),
    ({"payee_inns": ["7701123451"], "account_from": "Purpose"}, "PersAcc"),
    ({"payee_inns": ["7701123451"], "max_increase": {"m3": "-1"}}, "positive"),
    ({"payee_inns": ["7701123451"], "reading_field": "meter"}, "{meter}"),
    ({"payee_inns": ["7701123451"], "skip": True}, "skip"),
])
def test_a_wrong_utility_table_is_refused_with_words(utility: dict, words: str) -> None:
    with pytest.raises(ConfigError, match=words.replace("{", r"\{").replace("}", r"\}").replace("(", r"\(")):
        catalog(provider("uk", utility))


def test_scan_only_keeps_a_provider_out_of_the_lists_and_must_be_a_boolean() -> None:
    both = catalog(provider("uk", {"payee_inns": ["7701123451"]}), provider("any", {"bank_details": True,
                                                                                    "scan_only": True}))
    assert [p.id for p in both.listed()] == ["uk"] and [p.id for p in both.in_category("utilities")] == ["uk"]
    assert both.providers["any"].utility.scan_only and not both.providers["uk"].utility.scan_only
    with pytest.raises(ConfigError, match="scan_only"):
        catalog(provider("any", {"bank_details": True, "scan_only": "yes"}))
