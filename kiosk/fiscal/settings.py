"""The dealer's fiscal data (54-FZ payment agent): the `[fiscal]` table of terminal.toml, validated on load.

What the law wants printed on a payment agent's receipt that the rest of the configuration does not already
say: the agent sign (1057), the taxation system (1055), the agent's and operators' phones (1073, 1074), for a
bank paying agent the operation (1044) and the money-transfer operator (1005/1016/1026/1075). The agent's INN
and name come from `[agent]`, the supplier's INN, name and phone from the provider in the catalog.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kiosk.errors import ConfigError
from kiosk.fiscal.text import unprintable
from kiosk.schema import Doc

#: 1057 / 1222 bits by the name a dealer writes
AGENT_SIGNS = {"bank_paying_agent": 1, "bank_paying_subagent": 2, "paying_agent": 4, "paying_subagent": 8,
               "attorney": 16, "commission_agent": 32, "other": 64}
BANK_AGENTS = ("bank_paying_agent", "bank_paying_subagent")
#: 1055 bits by name
TAXATIONS = {"osn": 1, "usn_income": 2, "usn_income_expense": 4, "envd": 8, "eshn": 16, "patent": 32}
FFD_VERSIONS = ("1.05", "1.2")
FEE_ITEM_NAME = "Вознаграждение платёжного агента"
MAX_SHIFT_HOURS = 24  # the law: a shift is closed (Z-report) within 24 hours of its opening


def fiscal_phone(text: str) -> str:
    """A phone as FFD wants it ('+78002500890') from how people write it ('8 800 250-08-90'); ValueError if none."""
    digits = re.sub(r"[\s()\-]", "", text)
    if re.fullmatch(r"8\d{10}", digits):
        digits = "+7" + digits[1:]
    elif re.fullmatch(r"7\d{10}", digits):
        digits = "+" + digits
    if not re.fullmatch(r"\+\d{10,15}", digits):
        raise ValueError(f"expected a phone number like '+7 800 250-08-90', got {text!r}")
    return digits


@dataclass(frozen=True, slots=True)
class TransferOperator:
    """The money-transfer operator a bank paying agent works for (1026 name, 1016 INN, 1005 address, 1075)."""

    name: str
    inn: str
    address: str
    phone: str


@dataclass(frozen=True, slots=True)
class FiscalSettings:
    """What a fiscal receipt needs from the dealer, checked once at load."""

    agent_sign: str  # a key of AGENT_SIGNS
    taxation: str  # a key of TAXATIONS
    agent_phone: str  # 1073, FFD form
    operator_phones: tuple[str, ...] = ()  # 1074
    operation: str = ""  # 1044 (bank paying agents)
    transfer_operator: TransferOperator | None = None
    fee_item_name: str = FEE_ITEM_NAME
    fee_item_agent_tags: bool = False  # whether the fee item carries 1222/1226 too (practice differs)
    ffd: str = "1.05"  # 1.05: 1057 also at receipt level; 1.2: agent data per item only
    shift_hours: int = 23  # scheduled Z-report this long after the shift opened, below the 24 h limit
    refund_receipts: bool = True  # the terminal makes the return receipt of a refund (False: the office's register)

    @property
    def agent_bits(self) -> int:
        """The 1057/1222 bit mask."""
        return AGENT_SIGNS[self.agent_sign]

    @property
    def taxation_bits(self) -> int:
        """The 1055 bit mask."""
        return TAXATIONS[self.taxation]

    @property
    def bank_agent(self) -> bool:
        """A bank paying agent (or subagent): 1044 and the transfer operator are required."""
        return self.agent_sign in BANK_AGENTS


def _phone(doc: Doc, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise doc.error(key, f"expected a phone number as a string, got {value!r}")
    try:
        return fiscal_phone(value)
    except ValueError as exc:
        raise doc.error(key, str(exc)) from None


def parse_fiscal(root: Doc, printer_link: str) -> FiscalSettings | None:
    """The `[fiscal]` table; required when the printer is a fiscal registrar, None when absent otherwise."""
    if not root.has("fiscal"):
        if printer_link == "fiscal":
            raise root.error("fiscal", "required table is missing: devices.printer.link = 'fiscal' needs the "
                                       "dealer's fiscal data (agent_sign, taxation, agent_phone)")
        return None
    doc = root.table("fiscal")
    doc.unknown_keys({"agent_sign", "taxation", "agent_phone", "operator_phones", "operation", "transfer_operator",
                      "fee_item_name", "fee_item_agent_tags", "ffd", "shift_hours", "refund_receipts"})
    sign = doc.string("agent_sign", pattern="|".join(AGENT_SIGNS), what=f"one of {sorted(AGENT_SIGNS)}")
    taxation = doc.string("taxation", pattern="|".join(TAXATIONS), what=f"one of {sorted(TAXATIONS)}")
    phones = doc.strings("operator_phones", [])
    operator = None
    if doc.has("transfer_operator"):
        op = doc.table("transfer_operator")
        op.unknown_keys({"name", "inn", "address", "phone"})
        operator = TransferOperator(
            name=op.string("name", pattern=r".*\S.*", what="the operator's name"),
            inn=op.string("inn", pattern=r"\d{10}|\d{12}", what="an INN of 10 or 12 digits"),
            address=op.string("address", pattern=r".*\S.*", what="the operator's address"),
            phone=_phone(op, "phone", op.data.get("phone")) if op.has("phone") else "")
    if sign in BANK_AGENTS and operator is None:
        raise doc.error("transfer_operator", f"required for a {sign}: the money-transfer operator's name, inn, "
                                             "address and phone (tags 1026, 1016, 1005, 1075)")
    settings = FiscalSettings(
        agent_sign=sign, taxation=taxation,
        agent_phone=_phone(doc, "agent_phone", doc.data.get("agent_phone", None)) if doc.has("agent_phone") else "",
        operator_phones=tuple(_phone(doc, f"operator_phones[{i}]", p) for i, p in enumerate(phones)),
        operation=doc.string("operation", "Платеж" if sign in BANK_AGENTS else ""),
        transfer_operator=operator,
        fee_item_name=doc.string("fee_item_name", FEE_ITEM_NAME, pattern=r".{1,128}",
                                 what="1 to 128 characters"),
        fee_item_agent_tags=doc.boolean("fee_item_agent_tags", False),
        ffd=doc.string("ffd", "1.05", pattern=r"1\.05|1\.2", what=f"one of {FFD_VERSIONS}"),
        shift_hours=doc.integer("shift_hours", 23, minimum=1, maximum=MAX_SHIFT_HOURS - 1),
        refund_receipts=doc.boolean("refund_receipts", True),
    )
    if not settings.agent_phone:
        raise doc.error("agent_phone", "required key is missing (tag 1073, the agent's phone)")
    _check_cp866(doc, settings)
    return settings


def _check_cp866(doc: Doc, settings: FiscalSettings) -> None:
    """Texts go to the fiscal drive in CP866: a character it lacks would fail every receipt, so fail here."""
    texts = {"operation": settings.operation, "fee_item_name": settings.fee_item_name}
    if settings.transfer_operator is not None:
        texts |= {"transfer_operator.name": settings.transfer_operator.name,
                  "transfer_operator.address": settings.transfer_operator.address}
    for key, text in texts.items():
        lacking = unprintable(text)
        if lacking:
            raise ConfigError(doc.file, doc.key(key), f"{lacking!r} cannot be printed by a fiscal registrar (CP866)")
