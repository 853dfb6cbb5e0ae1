"""Operator detection for +7 numbers: range table first, phonenumbers as fallback, portability overrides."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from kiosk.catalog import load_catalog
from kiosk.gateways.operators import DEMO_TABLE, NumberingError, NumberingPlan, OperatorDetector, national

CATALOG = DEMO_TABLE.parent.parent / "demo" / "catalog.toml"


@pytest.fixture(scope="module")
def detector():
    return OperatorDetector(providers=load_catalog(CATALOG).providers)


@pytest.mark.parametrize(("number", "provider"), [
    ("+7 (916) 123-45-67", "mts"),  # MTS range phonenumbers does not know: the table does
    ("89121234567", "mts"),
    ("9031234567", "beeline"),
    ("+79261234567", "megafon"),
    ("+7 958 100 00 00", "t2"),
    ("+7 958 600 00 00", "mts"),  # a code split between operators
    ("+79960123456", "yota"),
])
def test_range_table_decides(detector, number, provider):
    assert detector.provider_for(number) == provider


def test_phonenumbers_is_the_fallback(detector):
    assert detector.plan.operator("9501234567") is None
    assert detector.provider_for("+79501234567") == "t2"
    assert detector.provider_for("+79991234567") == "megafon"


def test_portability_answer_overrides_the_range(detector):
    assert detector.provider_for("+79161234567", portability="beeline") == "beeline"
    assert detector.provider_for("+79161234567", portability="ПАО «МегаФон»") == "megafon"


def test_unknown_is_none_never_a_guess(detector):
    assert OperatorDetector(NumberingPlan([]), use_phonenumbers=False).provider_for("+79161234567") is None
    assert detector.provider_for("+7 (916) 123") is None
    assert detector.provider_for("+79161234567", portability="Мотив") is None
    only_mts = OperatorDetector(providers={"mts"})
    assert only_mts.provider_for("+79031234567") is None  # Beeline is not in this catalog


def test_national_form():
    assert national("8 (916) 123-45-67") == national("+79161234567") == "9161234567"
    assert national("123") is None


def test_bad_table_names_the_file_and_row():
    with tempfile.TemporaryDirectory() as directory:
        bad = Path(directory) / "def.csv"
        bad.write_text("code,from,to,operator\n916,0000000,99,MTS\n", encoding="utf-8")
        with pytest.raises(NumberingError, match=r"def\.csv: row 2"):
            NumberingPlan.load(bad)
