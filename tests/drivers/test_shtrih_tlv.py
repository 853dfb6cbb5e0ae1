"""FFD TLV encoding used by the Shtrih-M driver: byte vectors, CP866 strings, STLV nesting, chunking."""

from __future__ import annotations

import pytest

from kiosk.fiscal import tlv
from kiosk.fiscal.port import FiscalItem, FiscalReceipt, PaperOut, RegistrarError


def test_string_tag_is_cp866_with_le_tag_and_length() -> None:
    item = tlv.string(tlv.SUPPLIER_NAME, "ЖКХ")
    # 1225 = 0x04C9; "ЖКХ" in CP866 is 86 8A 95
    assert item.encode() == bytes.fromhex("c904 0300 868a95")
    assert item.text == "ЖКХ"


def test_byte_and_vln_and_uint32_widths() -> None:
    assert tlv.byte(tlv.AGENT_SIGN, tlv.AGENT_PAYING).encode() == bytes.fromhex("2104 0100 04")
    assert tlv.vln(1020, 0).value == b"\x00"
    assert tlv.vln(1020, 12345).value == bytes.fromhex("3930")
    assert tlv.uint32(1040, 7).value == bytes.fromhex("07000000")
    with pytest.raises(ValueError):
        tlv.vln(1020, -1)


def test_inn_pads_ten_digits_to_twelve() -> None:
    assert tlv.inn(tlv.SUPPLIER_INN, "7707083893").value == b"7707083893  "
    assert tlv.inn(tlv.SUPPLIER_INN, "500100732259").value == b"500100732259"
    with pytest.raises(ValueError):
        tlv.inn(tlv.SUPPLIER_INN, "12345")


def test_stlv_nests_and_decodes_back() -> None:
    supplier = tlv.stlv(tlv.SUPPLIER_DATA, [tlv.string(tlv.SUPPLIER_PHONE, "+74951234567"),
                                            tlv.string(tlv.SUPPLIER_NAME, "Водоканал")])
    raw = supplier.encode()
    assert raw[:2] == (1224).to_bytes(2, "little")
    assert int.from_bytes(raw[2:4], "little") == len(raw) - 4
    (back,) = tlv.decode(raw)
    assert [(child.tag, child.text) for child in back.children()] == [(1171, "+74951234567"), (1225, "Водоканал")]


def test_decode_rejects_truncated_data() -> None:
    raw = tlv.string(tlv.AGENT_PHONE, "+79990000000").encode()
    with pytest.raises(ValueError, match="claims"):
        tlv.decode(raw[:-1])
    with pytest.raises(ValueError, match="header"):
        tlv.decode(raw + b"\x01")


def test_chunks_respect_command_limit_and_keep_order() -> None:
    tags = [tlv.string(1192, "x" * 100) for _ in range(5)]  # 104 bytes each
    packed = tlv.chunks(tags, 250)
    assert [len(part) for part in packed] == [208, 208, 104]
    assert tlv.decode(b"".join(packed)) == tuple(tags)
    with pytest.raises(ValueError, match="over the"):
        tlv.chunks([tlv.string(1192, "x" * 300)], 250)


def test_item_and_receipt_totals_round_half_up() -> None:
    item = FiscalItem("Оплата", price=333, quantity_milli=1500, subject=tlv.SUBJECT_PAYMENT,
                      method=tlv.METHOD_FULL, tax=4)
    assert item.total == 500  # 499.5 rounds up
    receipt = FiscalReceipt(kind=tlv.KIND_INCOME, items=(item, item), cash=1000, taxation=tlv.TAXATION_USN_INCOME)
    assert receipt.total == 1000


def test_registrar_errors_carry_code_and_text() -> None:
    error = PaperOut(0x6B, "no receipt paper")
    assert isinstance(error, RegistrarError)
    assert error.code == 0x6B and "0x6B" in str(error)


def test_qr_string_has_no_padding_and_needs_a_receipt() -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from kiosk.fiscal.port import FiscalDocument

    at = datetime(2026, 11, 30, 9, 5, tzinfo=ZoneInfo("Europe/Moscow"))
    receipt = FiscalDocument(number=7, sign=12345, at=at, fn_number="9999078902004321", kind="receipt", total=50005)
    assert receipt.qr() == "t=20261130T0905&s=500.05&fn=9999078902004321&i=7&fp=12345&n=1"
    with pytest.raises(ValueError):
        FiscalDocument(number=1, sign=1, at=at, fn_number="1", kind="z_report").qr()
