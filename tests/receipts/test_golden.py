"""Golden bytes: every receipt kind at every paper width encodes exactly as committed.

To accept an intended change, regenerate and review the .txt diffs:
    KIOSK_UPDATE_GOLDEN=1 .venv/bin/pytest tests/receipts/test_golden.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kiosk.drivers.escpos_render import EscposRenderer, printer_model
from kiosk.emulators.escpos_interpreter import EscposInterpreter
from kiosk.emulators.printout import to_text
from kiosk.emulators.sample_receipts import KINDS, sample

GOLDEN = Path(__file__).parent / "golden"
MODELS = ("generic-58", "generic-80-42", "generic-80-48")
CASES = [(kind, model, "ru") for kind in KINDS for model in MODELS] + [("payment", "generic-80-42", "en"),
                                                                      ("encashment", "generic-58", "en")]


def _paper_text(data: bytes, columns: int) -> str:
    printed = []
    EscposInterpreter(columns, on_receipt=printed.append).feed(data)
    assert len(printed) == 1
    return to_text(printed[0], columns)


@pytest.mark.parametrize(("kind", "model_name", "lang"), CASES)
def test_receipt_bytes_match_golden(kind, model_name, lang):
    model = printer_model(model_name)
    data = EscposRenderer(model).render(sample(kind, lang))
    stem = GOLDEN / f"{kind}-{lang}-{model_name}"
    text = _paper_text(data, model.columns)
    if os.environ.get("KIOSK_UPDATE_GOLDEN"):
        stem.with_suffix(".bin").write_bytes(data)
        stem.with_suffix(".txt").write_text(text, encoding="utf-8")
    # The .txt is for reviewing a diff by eye; the .bin is the contract.
    assert text == stem.with_suffix(".txt").read_text(encoding="utf-8")
    assert data == stem.with_suffix(".bin").read_bytes()
