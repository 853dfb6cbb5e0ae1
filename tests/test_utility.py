"""The debt object, its split of a payment (property-tested: whole kopecks, exact sums) and meter plausibility."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.utility import (
    DEFAULT_READING_RULE,
    DebtError,
    Meter,
    Reading,
    ReadingRule,
    ServiceAmount,
    decimal_text,
    parse_debt,
    parse_decimal,
    split_amount,
)

SAMPLE = {"total": 123456, "period": "102026", "payer": "Иванов И. И.", "address": "ул. Ленина, 1, кв. 2",
          "services": [{"service": "water_cold", "name": "Холодное водоснабжение", "amount": 45600},
                       {"service": "heating", "name": "Отопление", "amount": 77856}],
          "meters": [{"meter": "123456", "name": "ХВС", "service": "water_cold", "unit": "m3",
                      "previous": "123.45", "previous_date": "2026-10-25"}],
          "split": "in_order"}

services = st.lists(st.integers(0, 10_000_000), min_size=1, max_size=8).map(
    lambda amounts: [ServiceAmount(f"s{i}", f"Service {i}", a) for i, a in enumerate(amounts)])


def test_the_contract_example_parses_and_writes_back_the_same() -> None:
    debt = parse_debt(SAMPLE)
    assert debt.total == 123456 and debt.split == "in_order" and debt.period == "102026"
    assert debt.meters == (Meter("123456", "ХВС", "water_cold", "m3", Decimal("123.45"), "2026-10-25"),)
    assert debt.to_json() == SAMPLE


@pytest.mark.parametrize(("change", "words"), [
    ({"total": 1234.5}, "debt.total"),
    ({"total": "1234"}, "debt.total"),
    ({"total": True}, "debt.total"),
    ({"services": [{"service": "x", "name": "X", "amount": -1}]}, "services[0].amount"),
    ({"services": [{"service": "x", "name": "X", "amount": 1}, {"service": "x", "name": "Y", "amount": 1}]},
     "twice"),
    ({"services": "all"}, "debt.services"),
    ({"split": "random"}, "debt.split"),
    ({"period": "132026"}, "debt.period"),
    ({"meters": [{"meter": "1", "name": "ХВС", "service": "w", "unit": "litre"}]}, "unit"),
    ({"meters": [{"meter": "1", "name": "ХВС", "service": "w", "unit": "m3", "previous": 123.45}]}, "previous"),
])
def test_a_debt_that_breaks_the_protocol_is_refused_with_the_field_named(change: dict, words: str) -> None:
    with pytest.raises(DebtError, match=words.replace("[", r"\[").replace("]", r"\]")):
        parse_debt({**SAMPLE, **change})


@given(services, st.integers(0, 100_000_000), st.sampled_from(["proportional", "in_order"]))
def test_a_split_is_whole_kopecks_summing_exactly_to_the_amount(parts: list, amount: int, rule: str) -> None:
    split = split_amount(parts, amount, rule)
    assert [p.service for p in split] == [p.service for p in parts]
    assert all(isinstance(p.amount, int) and p.amount >= 0 for p in split)
    assert sum(p.amount for p in split) == amount


@given(services, st.integers(0, 100_000_000), st.sampled_from(["proportional", "in_order"]))
def test_no_service_gets_more_than_it_owes_until_the_whole_debt_is_paid(parts: list, amount: int,
                                                                        rule: str) -> None:
    owed = sum(p.amount for p in parts)
    split = split_amount(parts, amount, rule)
    if amount <= owed:
        assert all(s.amount <= p.amount for s, p in zip(split, parts, strict=True))
    else:
        assert all(s.amount >= p.amount for s, p in zip(split, parts, strict=True))


@given(services, st.integers(0, 100_000_000))
def test_a_proportional_share_is_within_a_kopeck_of_the_exact_share(parts: list, amount: int) -> None:
    owed = sum(p.amount for p in parts)
    for s, p in zip(split_amount(parts, amount, "proportional"), parts, strict=True):
        exact = Decimal(p.amount * amount) / owed if owed else None
        if exact is not None:
            assert abs(s.amount - exact) < 1


@given(services, st.integers(0, 100_000_000))
def test_in_order_pays_each_service_off_before_the_next_gets_anything(parts: list, amount: int) -> None:
    split = split_amount(parts, amount, "in_order")
    for index, s in enumerate(split[:-1]):
        if s.amount < parts[index].amount:
            assert all(later.amount == 0 for later in split[index + 1:])


def test_worked_examples_of_both_rules() -> None:
    parts = [ServiceAmount("a", "A", 45600), ServiceAmount("b", "B", 30000), ServiceAmount("c", "C", 1)]
    # 50000 * 45600 / 75601 = 30158.33, * 30000 = 19840.99, * 1 = 0.66: floors 30158 + 19840 + 0, two kopecks
    # left go to the largest remainders (b's .99 and c's .66)
    assert [p.amount for p in split_amount(parts, 50000)] == [30158, 19841, 1]
    assert [p.amount for p in split_amount(parts, 50000, "in_order")] == [45600, 4400, 0]
    assert [p.amount for p in split_amount(parts, 100000, "in_order")] == [45600, 30000, 24400]
    nothing_owed = [ServiceAmount("a", "A", 0), ServiceAmount("b", "B", 0)]
    assert [p.amount for p in split_amount(nothing_owed, 700)] == [700, 0]
    assert split_amount([], 700) == []


def test_meter_values_are_decimal_strings_never_floats() -> None:
    assert parse_decimal("130,1") == Decimal("130.1") and parse_decimal("abc") is None
    assert parse_decimal("1e3") is None and parse_decimal("-5") is None and parse_decimal("") is None
    assert [decimal_text(Decimal(t)) for t in ("130", "130.1", "123.456", "100.000")] == [
        "130.00", "130.10", "123.456", "100.00"]
    meter = Meter("1", "ХВС", "water_cold", "m3", Decimal("123.45"))
    assert Reading(meter, Decimal("130.1")).to_json() == {
        "meter": "1", "name": "ХВС", "service": "water_cold", "unit": "m3", "previous": "123.45", "value": "130.10"}


def test_plausibility_lower_than_previous_or_far_above_it() -> None:
    water = Meter("1", "ХВС", "water_cold", "m3", Decimal("123.45"))
    power = Meter("2", "Электричество", "power", "kWh", Decimal("5000"))
    rule = DEFAULT_READING_RULE
    assert rule.problem(water, Decimal("123.45")) == "" and rule.problem(water, Decimal("150")) == ""
    assert rule.problem(water, Decimal("123.44")) == "lower"
    assert rule.problem(water, Decimal("173.46")) == "too_high"
    assert rule.problem(power, Decimal("7999")) == "" and rule.problem(power, Decimal("8001")) == "too_high"
    assert rule.problem(Meter("3", "ГВС", "water_hot", "m3"), Decimal("0")) == ""  # nothing to compare with
    strict = ReadingRule({"m3": Decimal(5)})
    assert strict.problem(water, Decimal("129")) == "too_high"
