"""Fee rules: the properties every rule must keep, and the documented rounding."""

from hypothesis import given
from hypothesis import strategies as st

from kiosk.fees import FixedFee, NoFee, PercentFee, Tier, TieredFee, parse_percent
from kiosk.money import Money

amounts = st.integers(min_value=0, max_value=10**9)
optional_money = st.one_of(st.none(), st.integers(min_value=0, max_value=10**6).map(Money))


@st.composite
def percent_rules(draw):
    minimum, maximum = draw(optional_money), draw(optional_money)
    if minimum is not None and maximum is not None and maximum < minimum:
        minimum, maximum = maximum, minimum
    return PercentFee(draw(st.integers(0, 10**6)), minimum, maximum,
                      draw(st.sampled_from(["half_up", "up", "down"])))


@st.composite
def tiered_rules(draw):
    bounds = sorted(set(draw(st.lists(st.integers(1, 10**7), min_size=1, max_size=4))))
    tiers, floor = [], 0
    for bound in bounds + [None]:
        # Each tier's minimum is at least the fee reached at the previous bound: the catalog enforces this.
        rule = draw(percent_rules())
        rule = PercentFee(rule.ppm, Money(max(floor, (rule.minimum or Money(0)).minor)), None, rule.rounding)
        tiers.append(Tier(None if bound is None else Money(bound), rule))
        if bound is not None:
            floor = rule.raw_fee(bound)
    fee = TieredFee(tuple(tiers))
    return fee


rules = st.one_of(st.just(NoFee()), amounts.map(lambda a: FixedFee(Money(a))), percent_rules(), tiered_rules())


@given(rules, amounts)
def test_fee_plus_credited_is_cash_and_credited_never_negative(rule, cash):
    split = rule.split(Money(cash))
    assert split.fee.minor + split.credited.minor == cash
    assert split.credited.minor >= 0 and split.fee.minor >= 0


@given(percent_rules(), amounts)
def test_percent_fee_stays_within_its_bounds(rule, cash):
    fee = rule.split(Money(cash)).fee.minor
    if rule.minimum is not None:
        assert fee >= min(rule.minimum.minor, cash)
    if rule.maximum is not None:
        assert fee <= rule.maximum.minor


@given(rules, amounts, amounts)
def test_fee_is_monotonic_in_cash(rule, a, b):
    low, high = sorted((a, b))
    assert rule.split(Money(low)).fee <= rule.split(Money(high)).fee


def test_documented_rounding():
    rule = PercentFee(parse_percent("1.5"))
    assert rule.split(Money(101)).fee == Money(2)  # 1.515 kopecks: half up → 2
    assert rule.split(Money(100)).fee == Money(2)  # 1.5 → 2
    assert PercentFee(parse_percent("1.5"), rounding="down").split(Money(100)).fee == Money(1)
    assert PercentFee(parse_percent("1.5"), rounding="up").split(Money(67)).fee == Money(2)  # 1.005 → 2


def test_percent_parsing_is_exact():
    assert parse_percent("2.5") == 25000
    assert parse_percent("0.0001") == 1
    assert parse_percent("100") == 1_000_000
