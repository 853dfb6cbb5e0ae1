"""Shared pieces of the Shtrih-M tests: a started emulator, a driver on its pty, a sample agent receipt."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kiosk.drivers.shtrih import ShtrihRegistrar
from kiosk.emulators.shtrih import ShtrihEmulator
from kiosk.fiscal import tlv
from kiosk.fiscal.port import TAX_NONE, FiscalItem, FiscalReceipt

# Short waits: the emulator answers at memory speed; still lenient for a loaded two-core machine.
FAST = {"answer_timeout": 2.0, "control_timeout": 0.5, "byte_timeout": 0.3}


@contextmanager
def registrar_pair(tmp_path: Path, **driver_options: object) -> Iterator[tuple[ShtrihEmulator, ShtrihRegistrar]]:
    """An emulator keeping state and printout in tmp_path, and a driver talking to it."""
    emulator = ShtrihEmulator(tmp_path / "fn.json", tmp_path / "printout.txt").start()
    driver = ShtrihRegistrar(emulator.path, **{**FAST, **driver_options})  # type: ignore[arg-type]
    try:
        yield emulator, driver
    finally:
        driver.close()
        emulator.stop()


def agent_receipt(amount: int = 50000, fee: int = 1000, cash: int = 60000) -> FiscalReceipt:
    """A paying agent's receipt: the payment (1212 = 10) with supplier data, and the fee (1212 = 11)."""
    supplier = (tlv.byte(tlv.ITEM_AGENT_SIGN, tlv.AGENT_PAYING),
                tlv.stlv(tlv.AGENT_DATA, [tlv.string(tlv.AGENT_PHONE, "+74950000000"),
                                          tlv.string(tlv.RECEIVING_OPERATOR_PHONE, "+74951111111")]),
                tlv.stlv(tlv.SUPPLIER_DATA, [tlv.string(tlv.SUPPLIER_PHONE, "+74952222222"),
                                             tlv.string(tlv.SUPPLIER_NAME, "ООО Водоканал")]),
                tlv.inn(tlv.SUPPLIER_INN, "7707083893"))
    items = [FiscalItem("Оплата услуг: лицевой счёт 1234567", amount, 1000, tlv.SUBJECT_PAYMENT, tlv.METHOD_FULL,
                        TAX_NONE, supplier)]
    if fee:
        items.append(FiscalItem("Вознаграждение агента", fee, 1000, tlv.SUBJECT_AGENT_FEE, tlv.METHOD_FULL, TAX_NONE))
    return FiscalReceipt(kind=tlv.KIND_INCOME, items=tuple(items), cash=cash, taxation=tlv.TAXATION_USN_INCOME,
                         tags=(tlv.byte(tlv.AGENT_SIGN, tlv.AGENT_PAYING),
                               tlv.string(tlv.SETTLEMENT_PLACE, "Терминал 42")),
                         header_lines=("Терминал 42", "ул. Ленина, 1"))
