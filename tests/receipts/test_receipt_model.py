"""The receipt model: what each kind says, independent of any printer."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.emulators.sample_receipts import WHEN, encashment_data, payment_data, sample
from kiosk.money import Money
from kiosk.receipt import Cut, Qr, Text, build_payment
from kiosk.receipt_format import format_account, format_time, parse_qr_payload, qr_payload


def test_time_shows_zone_abbreviation_and_utc_offset():
    assert format_time(WHEN, "Europe/Moscow", "ru") == "21.11.2026 14:05:09 MSK (UTC+03:00)"
    assert format_time(WHEN, "Europe/Moscow", "en") == "2026-11-21 14:05:09 MSK (UTC+03:00)"


def test_time_is_converted_to_the_terminal_zone_and_numeric_zones_are_not_doubled():
    assert format_time(WHEN, "Asia/Yekaterinburg", "ru") == "21.11.2026 16:05:09 UTC+05:00"


@pytest.mark.parametrize("typed", ["9123456789", "79123456789", "89123456789", "+7 912 345-67-89"])
def test_phone_account_is_printed_in_full(typed):
    assert format_account(typed, "phone") == "+7 (912) 345-67-89"


def test_card_like_account_is_masked_but_keeps_first_and_last_four():
    assert format_account("4276123456781234", "card") == "4276 **** **** 1234"
    assert format_account("1234567", "card") == "***4567"
    assert format_account("ЛС-00123", "plain") == "ЛС-00123"


def test_qr_payload_round_trips_and_rejects_other_formats():
    text = qr_payload("10001", 42, Money(150000), WHEN)
    assert text == "KIOSK1|T=10001|N=42|S=150000|D=20261121T140509+0300"
    fields = parse_qr_payload(text)
    assert (fields.terminal, fields.operation, fields.cash_minor, fields.when) == ("10001", 42, 150000, WHEN)
    with pytest.raises(ValueError):
        parse_qr_payload("KIOSK2|T=10001|N=42|S=150000|D=20261121T140509+0300")


def test_receipt_whose_figures_do_not_add_up_is_refused():
    with pytest.raises(ValueError, match="fee"):
        dataclasses.replace(payment_data(), fee=Money(4600))


def test_naive_time_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        dataclasses.replace(payment_data(), when=datetime(2026, 11, 21, 14, 5, 9))


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_payment_receipt_carries_every_mandatory_detail(lang):
    receipt = build_payment(payment_data(lang=lang))
    text = "\n".join(receipt.plain_lines())
    money = [Money(150000).format(lang), Money(4500).format(lang), Money(145500).format(lang)]
    for detail in ["10001", "42", "14:05:09 MSK (UTC+03:00)", "Тверская, д. 1", "ООО «Платёжный Агент»",
                   "7701234567", "+7 (495) 123-45-67", "7740000076", "8 800 250-08-90", "+7 (912) 345-67-89",
                   "8 800 555-35-35", "OSMP-778899", *money]:
        assert detail in text, detail
    assert ("МТС" if lang == "ru" else "MTS") in text
    assert isinstance(receipt.blocks[-1], Cut)
    large = [b.text for b in receipt.blocks if isinstance(b, Text) and b.size == "large"]
    assert any("10001" in t for t in large) and any("42" in t for t in large)


def test_not_completed_receipt_tells_the_payer_their_money_is_safe_and_whom_to_call():
    receipt = sample("not_completed")
    text = " ".join(receipt.plain_lines())
    assert receipt.kind == "not_completed"
    assert "ПЛАТЁЖ НЕ ПРОВЕДЁН" in text and "не потеряны" in text and "абонент не найден" in text
    assert "8 800 555-35-35" in text


def test_restored_receipt_says_so():
    receipt = sample("restored")
    assert receipt.kind == "restored"
    assert "СБОЯ ПИТАНИЯ" in " ".join(receipt.plain_lines())


def test_every_payment_receipt_has_a_qr_for_support():
    for kind in ("payment", "not_completed", "restored"):
        qrs = [b for b in sample(kind).blocks if isinstance(b, Qr)]
        assert [parse_qr_payload(q.payload).operation for q in qrs] == [42]


@given(st.dictionaries(st.sampled_from([10, 50, 100, 200, 500, 1000, 2000, 5000]), st.integers(0, 500)))
def test_encashment_total_is_the_sum_of_counts_times_denominations(counts):
    data = dataclasses.replace(encashment_data(), counts={Money.major(k): v for k, v in counts.items()})
    assert data.total == Money.major(sum(k * v for k, v in counts.items()))


def test_encashment_receipt_lists_each_denomination_and_the_total():
    text = "\n".join(sample("encashment").plain_lines())
    assert "1 000,00 ₽ 9 = 9 000,00 ₽" in text
    assert "Итого 17 350,00 ₽" in text and "Всего купюр 29" in text
    assert "14.11.2026 09:30:00 MSK" in text
