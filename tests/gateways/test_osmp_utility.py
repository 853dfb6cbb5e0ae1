"""OSMP getInfo/check fields named by the route as debts by service become the debt the session shows."""

from __future__ import annotations

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
