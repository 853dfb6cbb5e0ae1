"""Receipts through the real encoder and the ESC/POS interpreter: what lands on paper says everything."""

from __future__ import annotations

import pytest
import qrcode
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.drivers.escpos_render import EscposRenderer, layout, paper_text, printer_model
from kiosk.emulators.escpos_interpreter import EscposInterpreter, PrintedReceipt, QrSymbol, Raster, TextLine
from kiosk.emulators.printout import to_text
from kiosk.emulators.sample_receipts import KINDS, sample
from kiosk.receipt import Qr, Row, Text
from kiosk.receipt_format import parse_qr_payload

MODELS = ("generic-58", "generic-80-42", "generic-80-48")
# Every detail 103-FZ practice and support need, as it must appear on paper (₽ is spelled out there).
MANDATORY = {
    "ru": ["10001", "Операция № 42", "21.11.2026 14:05:09 MSK", "(UTC+03:00)", "Тверская, д. 1",
           'ООО "Платёжный Агент"', "7701234567", "+7 (495) 123-45-67", "МТС (мобильная связь)", "7740000076",
           "8 800 250-08-90", "+7 (912) 345-67-89", "1 500,00 руб.", "45,00 руб.", "1 455,00 руб.",
           "Платёж проведён", "8 800 555-35-35"],
    "en": ["10001", "Operation No. 42", "2026-11-21 14:05:09 MSK", "(UTC+03:00)", "Тверская, д. 1",
           'ООО "Платёжный Агент"', "7701234567", "+7 (495) 123-45-67", "MTS (mobile)", "7740000076",
           "8 800 250-08-90", "+7 (912) 345-67-89", "RUB 1,500.00", "RUB 45.00", "RUB 1,455.00",
           "Payment delivered", "8 800 555-35-35"],
}


def print_on_paper(kind: str, model_name: str, lang: str = "ru") -> tuple[PrintedReceipt, EscposInterpreter]:
    model = printer_model(model_name)
    printed: list[PrintedReceipt] = []
    interpreter = EscposInterpreter(model.columns, on_receipt=printed.append)
    interpreter.feed(EscposRenderer(model).render(sample(kind, lang)))
    assert len(printed) == 1
    return printed[0], interpreter


@pytest.mark.parametrize("model_name", MODELS)
@pytest.mark.parametrize("lang", ["ru", "en"])
def test_paper_shows_every_mandatory_detail(model_name, lang):
    receipt, interpreter = print_on_paper("payment", model_name, lang)
    # Joined with spaces: a long value may wrap onto the next line, which is still on the paper.
    text = " ".join(" ".join(to_text(receipt, printer_model(model_name).columns).split()).split("\n"))
    for detail in MANDATORY[lang]:
        assert detail in text, detail
    assert interpreter.unknown == []
    assert not receipt.incomplete


@pytest.mark.parametrize("model_name", MODELS)
def test_terminal_and_operation_numbers_are_printed_double_size(model_name):
    receipt, _ = print_on_paper("payment", model_name)
    big = [line.text for line in receipt.items if isinstance(line, TextLine)
           and any(s.width == 2 and s.height == 2 for s in line.spans)]
    assert any("10001" in t for t in big) and any("42" in t for t in big)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("model_name", MODELS)
def test_no_line_is_wider_than_the_paper(kind, model_name):
    receipt, interpreter = print_on_paper(kind, model_name)
    columns = printer_model(model_name).columns
    for line in receipt.items:
        if isinstance(line, TextLine):
            assert sum(len(s.text) * s.width for s in line.spans) <= columns, line.text
    assert interpreter.unknown == []


@pytest.mark.parametrize("model_name", MODELS)
def test_cyrillic_survives_the_code_page_round_trip(model_name):
    receipt, _ = print_on_paper("test", model_name)
    text = "".join(to_text(receipt, printer_model(model_name).columns).split())
    alphabet = "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ"
    assert alphabet in text and alphabet.lower() in text and "№" in text
    assert "?" not in text


def test_rouble_sign_is_spelled_out_and_unprintable_characters_become_question_marks():
    assert paper_text("1 500,00 ₽ «МТС» — ok", "ru", "cp866") == '1 500,00 руб. "МТС" - ok'
    assert paper_text("₽", "en", "cp866") == "RUB"
    assert paper_text("Қ 😀", "ru", "cp866") == "? ?"


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="абв где ёжз ABC 123 ,.-", min_size=0, max_size=200), st.sampled_from([32, 42, 48]))
def test_layout_never_exceeds_the_width_and_keeps_every_word(words, columns):
    for block in (Text(words), Text(words, size="large"), Row(words[:20], words[20:])):
        lines = layout(block, columns, "ru", "cp866")
        limit = columns // 2 if getattr(block, "size", "normal") == "large" else columns
        assert all(len(line.text) <= limit for line in lines)
        assert "".join("".join(line.text.split()) for line in lines) == "".join(
            "".join(part.split()) for part in ((block.text,) if isinstance(block, Text) else (block.key, block.value)))


@pytest.mark.parametrize("model_name", ["generic-80-42", "generic-80-48"])
def test_native_qr_carries_the_support_payload(model_name):
    receipt, _ = print_on_paper("payment", model_name)
    qrs = [item for item in receipt.items if isinstance(item, QrSymbol)]
    assert len(qrs) == 1
    fields = parse_qr_payload(qrs[0].payload)
    assert (fields.terminal, fields.operation, fields.cash_minor) == ("10001", 42, 150000)
    assert qrs[0].ec == "M"


def test_raster_qr_on_58mm_is_the_qr_of_the_payload():
    receipt, _ = print_on_paper("payment", "generic-58")
    rasters = [item for item in receipt.items if isinstance(item, Raster)]
    assert len(rasters) == 1
    payload = next(b.payload for b in sample("payment").blocks if isinstance(b, Qr))
    # No QR decoder is installed; instead compare the printed dots with the symbol the payload must give.
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=1, border=1)
    code.add_data(payload)
    code.make(fit=True)
    matrix = code.get_matrix()
    raster, module = rasters[0], printer_model("generic-58").qr_module
    size = len(matrix) * module
    left = (raster.width - size) // 2
    row_bytes = raster.width // 8

    def dot(x: int, y: int) -> bool:
        return bool(raster.data[y * row_bytes + x // 8] & (0x80 >> (x % 8)))

    for my, row in enumerate(matrix):
        for mx, black in enumerate(row):
            assert dot(left + mx * module + module // 2, my * module + module // 2) == black, (mx, my)


@pytest.mark.parametrize("model_name", MODELS)
def test_the_payers_status_link_is_the_qr_when_the_dealer_set_a_status_page(model_name):
    import dataclasses

    from cryptography.hazmat.primitives.asymmetric import ec

    from kiosk.emulators.sample_receipts import payment_data
    from kiosk.receipt import build_payment
    from kiosk.status_link import make_link, parse_link, verify

    key = ec.generate_private_key(ec.SECP256R1())
    link = make_link("https://pay.example.ru/s", key, "10001", 42, 381904)
    model = printer_model(model_name)
    printed: list[PrintedReceipt] = []
    interpreter = EscposInterpreter(model.columns, on_receipt=printed.append)
    interpreter.feed(EscposRenderer(model).render(build_payment(dataclasses.replace(payment_data(), status_link=link))))
    [receipt] = printed
    assert "Статус платежа: отсканируйте QR-код" in " ".join(to_text(receipt, model.columns).split())
    qrs = [item for item in receipt.items if isinstance(item, QrSymbol)]
    rasters = [item for item in receipt.items if isinstance(item, Raster)]
    if qrs:  # 80 mm printers draw the symbol themselves: the link is what they were given
        [qr] = qrs
        ref = parse_link(qr.payload)
        assert ref is not None and verify(ref, key.public_key()) and (ref.terminal, ref.operation) == ("10001", 42)
    else:  # 58 mm: a raster; the link's symbol must still fit the paper's width
        [raster] = rasters
        assert raster.width <= model.dots
