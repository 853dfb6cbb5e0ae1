"""Money: integer kopecks, exact parsing, the two display formats."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.money import Money, MoneyError


def test_formats_ru_and_en():
    amount = Money(123450)
    assert amount.format("ru") == "1 234,50 ₽"
    assert amount.format("en") == "RUB 1,234.50"
    assert Money(5).decimal_text() == "0.05"
    assert Money(-150).decimal_text() == "-1.50"


@pytest.mark.parametrize("text, minor", [
    ("1234.50", 123450), ("1 234,50", 123450), ("1,234.50", 123450), ("1 234,50 ₽", 123450),
    ("RUB 1,234.50", 123450), ("10", 1000), ("0,5", 50), ("7.05", 705), ("-3.10", -310),
])
def test_parses_exactly(text, minor):
    assert Money.parse(text).minor == minor


@pytest.mark.parametrize("text", ["", "abc", "1.234", "1..2", "12,345,67", "1e3", "USD 5.00", "₸5"])
def test_rejects_what_is_not_an_amount(text):
    with pytest.raises(MoneyError):
        Money.parse(text)


def test_no_float_ever_becomes_money():
    with pytest.raises(MoneyError, match="integer"):
        Money(10.5)
    with pytest.raises(MoneyError, match="integer"):
        Money(True)
    with pytest.raises(MoneyError):
        Money.parse(10.5)


def test_currencies_do_not_mix():
    with pytest.raises(MoneyError, match="RUB with KZT"):
        Money(100) + Money(100, "KZT")


@given(st.integers(min_value=-10**15, max_value=10**15))
def test_round_trip_through_both_formats(minor):
    amount = Money(minor)
    assert Money.parse(amount.format("ru")) == amount
    assert Money.parse(amount.format("en")) == amount
    assert Money.parse(amount.decimal_text()) == amount
