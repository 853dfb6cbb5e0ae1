"""A utility payment's receipt: the split across services and the meter readings, in words and on paper."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from kiosk.drivers.escpos_render import EscposRenderer, printer_model
from kiosk.emulators.escpos_interpreter import EscposInterpreter
from kiosk.emulators.printout import to_text
from kiosk.emulators.sample_receipts import payment_data
from kiosk.money import Money
from kiosk.receipt import build_payment

GOLDEN = Path(__file__).parent / "bills" / "golden"
UTILITY = {
    "debt": {"total": 823450, "period": "102026", "services": []},
    "split": [{"service": "housing", "name": "Содержание жилья", "amount": 113668},
              {"service": "heating", "name": "Отопление", "amount": 92774},
              {"service": "water_cold", "name": "Холодное водоснабжение", "amount": 35849},
              {"service": "water_hot", "name": "Горячее водоснабжение", "amount": 57709}],
    "readings": [{"meter": "123456", "name": "ХВС", "service": "water_cold", "unit": "m3", "previous": "123.45",
                  "value": "130.10"}],
}


def utility_payment(lang: str = "ru"):
    return dataclasses.replace(payment_data(lang=lang), cash=Money(300000), fee=Money(0), credited=Money(300000),
                               utility=UTILITY)


def test_the_receipt_lists_the_split_and_the_readings() -> None:
    lines = build_payment(utility_payment()).plain_lines()
    at = lines.index("Распределение по услугам")
    assert lines[at + 1:at + 6] == ["Период 10.2026", "Содержание жилья 1 136,68 ₽", "Отопление 927,74 ₽",
                                    "Холодное водоснабжение 358,49 ₽", "Горячее водоснабжение 577,09 ₽"]
    assert lines[at + 6:at + 9] == ["Показания счётчиков", "ХВС сч. 123456 130,10 м3", "  пред. 123,45"]
    english = build_payment(utility_payment("en")).plain_lines()
    assert "Split across services" in english and "ХВС meter 123456 130,10 m3" in english


def test_a_receipt_without_a_bill_is_unchanged() -> None:
    assert "Распределение по услугам" not in build_payment(payment_data()).plain_lines()


@pytest.mark.parametrize("model_name", ["generic-58", "generic-80-42"])
def test_the_utility_receipt_on_paper_matches_its_golden_text(model_name: str) -> None:
    model = printer_model(model_name)
    printed: list = []
    EscposInterpreter(model.columns, on_receipt=printed.append).feed(EscposRenderer(model).render(
        build_payment(utility_payment())))
    text = to_text(printed[0], model.columns)
    golden = GOLDEN / f"utility-payment-ru-{model_name}.txt"
    if os.environ.get("KIOSK_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_a_payment_by_bank_details_names_the_bills_payee() -> None:
    payee = {"Name": "ТСЖ «Демо-Дом»", "PayeeINN": "7728123459", "KPP": "772801001", "BIC": "044525225",
             "PersonalAcc": "40703810038000077001", "Purpose": "Взносы за октябрь 2026, л/с 77015"}
    data = dataclasses.replace(payment_data(), utility={"payee": payee})
    lines = build_payment(data).plain_lines()
    at = lines.index("Платёж по реквизитам")
    assert lines[at + 1:at + 7] == ["Получатель: ТСЖ «Демо-Дом»", "ИНН 7728123459", "КПП 772801001",
                                    "БИК 044525225", "Р/с 40703810038000077001",
                                    "Назначение: Взносы за октябрь 2026, л/с 77015"]
    english = build_payment(dataclasses.replace(payment_data(lang="en"), utility={"payee": payee})).plain_lines()
    assert "Payment by bank details" in english and "Account 40703810038000077001" in english
