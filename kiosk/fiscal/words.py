"""The fiscal receipt as support reads it in a payment's story (terminal lookup and the dealer service alike)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "label": "fiscal",
        "done": "made",
        "pending": "UNKNOWN whether the fiscal drive made it (the registrar did not answer); asked again at start-up",
        "failed": "NOT made; the terminal retries when the registrar is ready (paper, link) — the payment itself "
                  "stands",
        "qr": "QR (the payer's check at the tax service)",
        "why": "why",
        "event": "fiscal receipt: FN {fn} FD {fd} FP {fp}; QR {qr}",
        "refund_label": "fiscal refund",
        "refund_event": "fiscal refund receipt (return of income): FN {fn} FD {fd} FP {fp}; QR {qr}",
    },
    "ru": {
        "label": "фиск. чек",
        "done": "пробит",
        "pending": "НЕИЗВЕСТНО, пробит ли чек (ККТ не ответила); терминал спросит фискальный накопитель при запуске",
        "failed": "НЕ пробит; терминал повторит, когда ККТ будет готова (бумага, связь) — сам платёж в силе",
        "qr": "QR (проверка чека в ФНС)",
        "why": "причина",
        "event": "фискальный чек: ФН {fn} ФД {fd} ФП {fp}; QR {qr}",
        "refund_label": "чек возврата",
        "refund_event": "чек возврата прихода: ФН {fn} ФД {fd} ФП {fp}; QR {qr}",
    },
}


# details keys → the words' prefix: the payment's receipt, then its refund's (возврат прихода), if any
KEYS = (("fiscal", ""), ("fiscal_refund", "refund_"))


def fiscal_of(details: Any, key: str = "fiscal") -> Mapping[str, Any] | None:
    """details["fiscal"] (or another key) from an operation's details (a dict or its JSON text), if any."""
    if isinstance(details, str):
        try:
            details = json.loads(details or "{}")
        except ValueError:
            return None
    fiscal = details.get(key) if isinstance(details, Mapping) else None
    return fiscal if isinstance(fiscal, Mapping) else None


def fiscal_lines(details: Any, lang: str = "en") -> list[str]:
    """'  fiscal       made: FN … FD 12 FP 3000…' and the QR (then the refund receipt's, if any), or nothing for a
    terminal without a registrar."""
    return [line for key, prefix in KEYS for line in _lines(fiscal_of(details, key), lang, prefix)]


def _lines(fiscal: Mapping[str, Any] | None, lang: str, prefix: str) -> list[str]:
    if fiscal is None:
        return []
    words = WORDS.get(lang, WORDS["en"])
    status = str(fiscal.get("status", "?"))
    label = words[prefix + "label"]
    lines = [f"  {label:<12} {words.get(status, status) if status in ('done', 'pending', 'failed') else status}"]
    if status == "done":
        lines[0] += f": FN {fiscal.get('fn')}  FD {fiscal.get('fd')}  FP {fiscal.get('fp')}  at {fiscal.get('at')}"
        lines.append(f"    {words['qr']}: {fiscal.get('qr')}")
    if fiscal.get("error"):
        lines.append(f"    {words['why']}: {fiscal['error']}")
    return lines


def fiscal_events(details: Any, lang: str = "en") -> list[tuple[str, str]]:
    """(when, words) of the fiscal receipt and of its refund receipt for a story's events, those that were made."""
    events = []
    words = WORDS.get(lang, WORDS["en"])
    for key, prefix in KEYS:
        fiscal = fiscal_of(details, key)
        if fiscal is None or fiscal.get("status") != "done" or not fiscal.get("at"):
            continue
        events.append((str(fiscal["at"]), words[prefix + "event"].format(
            fn=fiscal.get("fn"), fd=fiscal.get("fd"), fp=fiscal.get("fp"), qr=fiscal.get("qr"))))
    return events
