"""The GOST R 56042 parser on real-looking samples and on each way a code can be wrong."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from kiosk.bills.checksums import (
    correspondent_account_ok,
    inn_ok,
    settlement_account_ok,
    with_inn_keys,
    with_settlement_key,
)
from kiosk.bills.gost_qr import PaymentCode, format_code, parse
from kiosk.bills.refusals import TEXTS, Reason, Refusal

DATA = Path(__file__).parent / "data"
SAMPLES = tomllib.loads((DATA / "samples.toml").read_text(encoding="utf-8"))
SBER = "ST00012|Name=ООО УК Дом|PersonalAcc=40702810938000000001|BankName=ПАО СБЕРБАНК|BIC=044525225|" \
       "CorrespAcc=30101810400000000225"


@pytest.mark.parametrize("sample", SAMPLES["valid"], ids=lambda s: s["file"])
def test_real_looking_bill_is_read(sample):
    code = parse((DATA / sample["file"]).read_bytes())
    assert isinstance(code, PaymentCode), code
    assert (code.name, code.encoding, code.separator) == (sample["name"], sample["encoding"], sample["separator"])
    assert code.payer_account == sample["pers_acc"]
    assert code.sum_kopecks == sample.get("sum_kopecks")
    assert code.period == (tuple(sample["period"]) if "period" in sample else None)


@pytest.mark.parametrize("sample", SAMPLES["valid"], ids=lambda s: s["file"])
def test_real_looking_bill_is_written_back_byte_for_byte(sample):
    raw = (DATA / sample["file"]).read_bytes()
    assert format_code(parse(raw)) == raw.rstrip(b"\r\n")  # a scanner's CR LF is not part of the code


@pytest.mark.parametrize("sample", SAMPLES["refused"], ids=lambda s: s["file"])
def test_broken_sample_is_refused_with_its_reason(sample):
    refusal = parse((DATA / sample["file"]).read_bytes())
    assert isinstance(refusal, Refusal)
    assert (refusal.reason, refusal.field) == (Reason(sample["reason"]), sample["field"])


def test_every_reason_has_plain_words_in_both_languages_naming_the_field():
    for reason in Reason:
        ru, en = TEXTS[reason]
        assert ru and en and ru != en
    refusal = Refusal(Reason.MISSING_FIELD, "BIC")
    assert "BIC" in refusal.text("ru") and "BIC" in refusal.text("en")
    assert refusal.text("en").startswith("The bill's code lacks")
    assert refusal.text("de") == refusal.text("ru")


def test_known_bank_details_pass_their_control_keys():
    assert correspondent_account_ok("044525225", "30101810400000000225")  # Sberbank, Moscow
    assert correspondent_account_ok("044525593", "30101810200000000593")  # Alfa-Bank
    assert settlement_account_ok("044525225", "40702810938000000001")
    assert not settlement_account_ok("044525225", "40702810438000000001")
    assert not settlement_account_ok("044525187", "40702810938000000001")  # same account, another bank


def test_clearing_currency_letter_counts_as_its_digit():
    account = with_settlement_key("044525225", "30111K10000000000001")
    assert settlement_account_ok("044525225", account)
    assert not settlement_account_ok("044525225", account.replace("K", "M"))


def test_inn_keys():
    assert inn_ok("7707083893") and inn_ok("500100732259")
    assert not inn_ok("7707083894") and not inn_ok("500100732258") and not inn_ok("77070838")
    assert not inn_ok("77O7083893")  # a letter O, as OCR and typists make
    assert inn_ok(with_inn_keys("123456789")) and inn_ok(with_inn_keys("1234567890"))
    with pytest.raises(ValueError):
        with_inn_keys("12345")


@pytest.mark.parametrize(("text", "reason", "field"), [
    ("", Reason.NOT_A_PAYMENT_CODE, ""),
    ("ST0002|Name=x", Reason.NOT_A_PAYMENT_CODE, ""),
    (SBER.replace("ST00012", "ST00014"), Reason.UNKNOWN_ENCODING, ""),
    ("ST00012", Reason.BAD_SEPARATOR, ""),
    (SBER.replace("ST00012|", "ST00012N").replace("|", "N"), Reason.BAD_SEPARATOR, ""),
    (SBER.replace("|BIC", ";BIC").replace("|Corr", ";Corr"), Reason.BAD_SEPARATOR, ""),
    (SBER + "|junk", Reason.MALFORMED_FIELD, "junk"),
    (SBER + "|Sum=1|Sum=2", Reason.DUPLICATE_FIELD, "Sum"),
    (SBER.replace("BankName=ПАО СБЕРБАНК", "BankName="), Reason.MISSING_FIELD, "BankName"),
    (SBER.replace("BIC=044525225", "BIC=04452522"), Reason.BAD_VALUE, "BIC"),
    (SBER.replace("40702810938", "00702810938"), Reason.BAD_VALUE, "PersonalAcc"),
    (SBER.replace("ООО УК Дом", "Я" * 161), Reason.TOO_LONG, "Name"),
    (SBER.replace("ООО УК Дом", "Я" * 150).replace("ПАО СБЕРБАНК", "Б" * 45), Reason.TOO_LONG, "Name"),
    (SBER.replace("30101810400", "30101810500"), Reason.BAD_CORRESPONDENT_KEY, "CorrespAcc"),
    (SBER + "|PayerINN=500100732258", Reason.BAD_INN, "PayerINN"),
    (SBER + "|Sum=-100", Reason.BAD_SUM, "Sum"),
    (SBER + "|Sum=1234567890123456789", Reason.BAD_SUM, "Sum"),
    (SBER + "|TechCode=16", Reason.BAD_VALUE, "TechCode"),
    (SBER + "|PaymPeriod=132026", Reason.BAD_VALUE, "PaymPeriod"),
    (SBER + "|QuittDate=31.02.2026", Reason.BAD_VALUE, "QuittDate"),
    (SBER + "|KPP=77030100", Reason.BAD_VALUE, "KPP"),
])
def test_each_fault_is_refused_with_its_reason(text, reason, field):
    refusal = parse(text.encode("utf-8"))
    assert isinstance(refusal, Refusal), refusal
    assert (refusal.reason, refusal.field) == (reason, field), str(refusal)


def test_utf8_declared_but_windows_1251_bytes_are_refused():
    refusal = parse(SBER.encode("cp1251"))
    assert isinstance(refusal, Refusal) and refusal.reason is Reason.BAD_ENCODING


def test_text_typed_by_a_keyboard_wedge_scanner_is_parsed_as_is():
    code = parse(SBER + "|Sum=500|PersAcc=77\r\n")
    assert isinstance(code, PaymentCode)
    assert (code.sum_kopecks, code.payer_account, code.trailing_separator) == (500, "77", False)


def test_optional_empty_fields_are_absent_and_unknown_fields_are_kept():
    code = parse(SBER + "|PayerAddress=|Sum=|DocNo=17")
    assert isinstance(code, PaymentCode)
    assert code.sum_kopecks is None and code.get("DocNo") == "17"
    assert format_code(code) == (SBER + "|PayerAddress=|Sum=|DocNo=17").encode()


def test_value_may_contain_an_equals_sign():
    code = parse(SBER + "|Purpose=a=b")
    assert isinstance(code, PaymentCode) and code.get("Purpose") == "a=b"


def test_format_refuses_a_separator_inside_a_value_and_unwritable_text():
    code = parse(SBER)
    assert isinstance(code, PaymentCode)
    with pytest.raises(ValueError, match="separator"):
        format_code(PaymentCode(**{**code.__dict__, "name": "A|B"}))
    with pytest.raises(ValueError):
        format_code(PaymentCode(**{**code.__dict__, "name": "«Дом»", "encoding": "koi8_r"}))
    with pytest.raises(ValueError, match="encoding"):
        format_code(PaymentCode(**{**code.__dict__, "encoding": "latin-1"}))


def test_windows_1251_text_that_is_also_cyrillic_utf8_is_taken_for_mislabelled_utf8():
    """The one ambiguity of the mojibake check: letter pairs such as "РЁ" (D0 A8) are UTF-8 "Ш" too."""
    ambiguous = SBER.replace("ST00012", "ST00011").replace("ООО УК Дом", "РЁ").replace("ПАО СБЕРБАНК", "Bank")
    refusal = parse(ambiguous.encode("cp1251"))
    assert isinstance(refusal, Refusal) and refusal.reason is Reason.BAD_ENCODING
    latin_pair = ambiguous.replace("РЁ", "ВЁ")  # C2 A8 is UTF-8 too, but "¨", not Cyrillic: read as Windows-1251
    assert isinstance(parse(latin_pair.encode("cp1251")), PaymentCode)
