"""OSMP getInfo/check fields named by the route as debts by service become the debt the session shows."""

from __future__ import annotations

import pytest

from kiosk.gateways.base import Payable, Route
from kiosk.money import Money
from kiosk.utility import ServiceAmount
from kiosk.utility_osmp import osmp_debt

from .test_osmp import Canned, gateway, reply

OPTIONS = {"debt_fields": ["sum_gkh:housing:Содержание жилья", "sum_hvs:water_cold:Холодное водоснабжение",
                           "sum_el:power:Электроэнергия"],
           "debt_split": "in_order", "debt_period_field": "period"}


def test_get_info_fields_named_by_the_route_are_the_debt_by_service():
    info = ('<fields><field1 name="FIO">Иванова М. П.</field1><field2 name="sum_gkh">3120,00</field2>'
            '<field3 name="sum_hvs">984</field3><field4 name="period">10.2026</field4></fields>')
    canned = Canned(reply(0, "OK", extra=info), reply(0, "OK"))
    outcome = gateway(canned, get_info=True).check(Route("main", "12", OPTIONS), "1048572", Money(10000), {})
    assert isinstance(outcome, Payable) and outcome.debt is not None
    assert outcome.debt.services == (ServiceAmount("housing", "Содержание жилья", 312000),
                                     ServiceAmount("water_cold", "Холодное водоснабжение", 98400))
    assert (outcome.debt.total, outcome.debt.split, outcome.debt.period) == (410400, "in_order", "102026")
    assert [dict(r.url.params)["command"] for r in canned.seen] == ["getInfo", "check"]


def test_without_a_mapping_or_with_a_value_that_is_no_amount_there_is_no_debt():
    assert osmp_debt({"sum_gkh": "3120.00"}, {}) is None
    assert osmp_debt({"FIO": "X"}, OPTIONS) is None
    assert osmp_debt({"sum_gkh": "3120.00", "sum_hvs": "около 900"}, OPTIONS) is None
    plain = osmp_debt({"sum_el": "1 500,5"}, {"debt_fields": ["sum_el"]})
    assert plain is not None and plain.services == (ServiceAmount("sum_el", "sum_el", 150050),)
    assert plain.split == "proportional" and plain.period == ""
    canned = Canned(reply(0, "OK", extra='<fields><field1 name="sum_gkh">10.00</field1></fields>'))
    outcome = gateway(canned).check(Route("main", "12"), "1048572", Money(10000), {})
    assert outcome == Payable({"sum_gkh": "10.00"}) and outcome.debt is None


def test_meter_fields_named_by_the_route_come_with_the_debt():
    from decimal import Decimal

    from kiosk.utility import Meter

    options = {**OPTIONS, "meter_fields": ["cnt_hvs:water_cold:m3:ХВС", "cnt_gvs:water_hot:m3:ГВС",
                                           "cnt_el:power:kWh:Электроэнергия"]}
    info = ('<fields><field1 name="sum_hvs">984</field1><field2 name="cnt_gvs">654321;45,1;25.10.2026</field2>'
            '<field3 name="cnt_hvs">123456;123.45;2026-10-25</field3><field4 name="cnt_el">E-7;;</field4></fields>')
    canned = Canned(reply(0, "OK", extra=info), reply(0, "OK"))
    outcome = gateway(canned, get_info=True).check(Route("main", "12", options), "1048572", Money(10000), {})
    assert isinstance(outcome, Payable) and outcome.debt is not None
    # in the route's order, dates made ISO, a meter with no previous reading has none (nothing to check against)
    assert outcome.debt.meters == (Meter("123456", "ХВС", "water_cold", "m3", Decimal("123.45"), "2026-10-25"),
                                   Meter("654321", "ГВС", "water_hot", "m3", Decimal("45.1"), "2026-10-25"),
                                   Meter("E-7", "Электроэнергия", "power", "kWh", None, ""))


@pytest.mark.parametrize("value", ["", ";1.0;2026-10-25", "123456;много;25.10.2026", "123456;1.0;завтра",
                                   "123456;1.0;2026-10-25;x", "12 34;1.0;2026-10-25"])
def test_a_malformed_meter_is_left_out_and_the_debt_stands(value):
    options = {**OPTIONS, "meter_fields": ["cnt_hvs:water_cold:m3:ХВС", "cnt_gvs:water_hot:m3:ГВС"]}
    debt = osmp_debt({"sum_hvs": "984.00", "cnt_hvs": value, "cnt_gvs": "654321;45.10;25.10.2026"}, options)
    assert debt is not None and debt.total == 98400
    assert [m.meter for m in debt.meters] == ["654321"]
    bad_unit = osmp_debt({"sum_hvs": "1", "cnt_hvs": "123456;1;"}, {**OPTIONS, "meter_fields": ["cnt_hvs:w:litre"]})
    assert bad_unit is not None and bad_unit.meters == ()


def test_the_emulator_answers_a_demo_accounts_debt_and_meters_and_keeps_the_readings_paid_with():
    from datetime import UTC, datetime

    from kiosk.emulators.processing.osmp import OsmpEmulator
    from kiosk.gateways.base import Approved, PaymentRequest
    from kiosk.gateways.osmp import OsmpGateway
    from kiosk.utility import parse_debt
    from kiosk.utility_demo import DEMO_DEBTS, DEMO_OSMP_OPTIONS

    with OsmpEmulator() as emulator:
        real = OsmpGateway("main", {"url": f"{emulator.base_url}/osmp", "get_info": True, "timeout": 5})
        route = Route("main", "40", DEMO_OSMP_OPTIONS)
        try:
            checked = real.check(route, "1048572", Money(300000), {})
            assert isinstance(checked, Payable) and checked.debt is not None
            assert checked.debt == parse_debt(DEMO_DEBTS["1048572"])  # the JSON emulator's debt, over OSMP
            other = real.check(Route("main", "41", DEMO_OSMP_OPTIONS), "1048572", Money(300000), {})
            assert isinstance(other, Payable) and other.debt is None  # not the utility provider's code
            fields = {"meter_123456": "130.10", "meter_654321": "47.50"}
            paid = real.pay(PaymentRequest("10001", 7, "k-7", 100700, "s", "epd", route, "1048572", fields,
                                           Money(300000), Money(0), Money(300000), datetime.now(UTC)))
            assert isinstance(paid, Approved)
        finally:
            real.close()
        assert emulator.fields_of("100700") == fields
        assert emulator.fields_of("100701") == {}
