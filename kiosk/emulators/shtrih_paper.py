"""What the emulated registrar puts on paper for a receipt: items, their FFD tags decoded, totals."""

from __future__ import annotations

from typing import Any

from kiosk.fiscal import tlv

CALCULATIONS = {1: "ПРИХОД", 2: "ВОЗВРАТ ПРИХОДА"}  # tag 1054 as the receipt's heading says it


def rub(kopecks: int) -> str:
    """Kopecks as roubles with two decimals."""
    return f"{kopecks // 100}.{kopecks % 100:02d}"


def _tag_texts(blocks: list[str]) -> list[str]:
    out = []
    for block in blocks:
        for item in tlv.decode(bytes.fromhex(block)):
            nested = item.tag in (tlv.AGENT_DATA, tlv.SUPPLIER_DATA)
            for leaf in item.children() if nested else (item,):
                value = leaf.text.strip() if leaf.tag in _TEXT_TAGS else str(leaf.number)
                out.append(f"  [{leaf.tag}] {value}")
    return out


_TEXT_TAGS = {tlv.AGENT_OPERATION, tlv.AGENT_PHONE, tlv.RECEIVING_OPERATOR_PHONE, tlv.TRANSFER_OPERATOR_PHONE,
              tlv.TRANSFER_OPERATOR_NAME, tlv.TRANSFER_OPERATOR_ADDRESS, tlv.TRANSFER_OPERATOR_INN,
              tlv.SUPPLIER_PHONE, tlv.SUPPLIER_NAME, tlv.SUPPLIER_INN, tlv.BUYER_CONTACT, tlv.SETTLEMENT_ADDRESS,
              tlv.SETTLEMENT_PLACE, tlv.USER_NAME, tlv.USER_INN, tlv.CASHIER, tlv.ADDITIONAL_REQUISITE}


def receipt_lines(document: dict[str, Any], extra: list[str]) -> list[str]:
    """A signed receipt as printed lines: items with their tags, receipt tags, totals (the FN block follows)."""
    lines = ["КАССОВЫЙ ЧЕК", CALCULATIONS.get(int(document.get("kind_1054", 1)), "?"), *extra]
    for item in document["items"]:
        quantity = item["quantity"] / 1_000_000
        lines.append(f"{item['name']}")
        lines.append(f"  {quantity:g} x {rub(item['price'])} = {rub(item['total'])}")
        lines.extend(_tag_texts(item["tags"]))
    lines.append("-" * 40)
    lines.extend(text.strip() for text in _tag_texts(document["tags"]))  # receipt-level: not under an item
    lines += [f"ИТОГ {rub(document['total'])}", f"НАЛИЧНЫМИ {rub(document['cash'])}"]
    if document.get("electronic"):
        lines.append(f"БЕЗНАЛИЧНЫМИ {rub(document['electronic'])}")
    lines += [f"СДАЧА {rub(document['change'])}", f"СНО {document['taxation']}"]
    return lines
