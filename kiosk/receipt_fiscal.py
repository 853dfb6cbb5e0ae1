"""A payment as a payment agent's fiscal receipt (54-FZ, FFD 1.05/1.2): items, agent and supplier tags.

The credited sum is one item (1212 = 10 платёж) carrying the agent sign (1222), the agent data (1223), the
supplier's data (1224: phone 1171, name 1225) and INN (1226); the fee is a separate item (1212 = 11 агентское
вознаграждение); both fully paid (1214 = 4) without VAT (a 103-FZ paying agent charges none).
"""

from __future__ import annotations

import textwrap

from kiosk.catalog import Catalog, Provider
from kiosk.config import Config
from kiosk.errors import ConfigError
from kiosk.fiscal import tlv
from kiosk.fiscal.port import TAX_NONE, FiscalItem, FiscalReceipt
from kiosk.fiscal.settings import FiscalSettings, fiscal_phone
from kiosk.fiscal.text import cp866
from kiosk.offline_queue.journal import Operation
from kiosk.utility_receipt import payee_lines

NAME_LIMIT = 128  # the registrar's item-name field
HEADER_WIDTH = 40  # characters per non-fiscal line on an 80 mm registrar (Shtrih-M's line command takes 40)


def agent_data(settings: FiscalSettings) -> list[tlv.Tlv]:
    """1223's children: the operation and phones of the agent and operators (by agent kind)."""
    tags: list[tlv.Tlv] = []
    if settings.bank_agent and settings.operation:
        tags.append(tlv.string(tlv.AGENT_OPERATION, cp866(settings.operation)))
    tags.append(tlv.string(tlv.AGENT_PHONE, settings.agent_phone))
    tags += [tlv.string(tlv.RECEIVING_OPERATOR_PHONE, phone) for phone in settings.operator_phones]
    operator = settings.transfer_operator
    if settings.bank_agent and operator is not None:
        if operator.phone:
            tags.append(tlv.string(tlv.TRANSFER_OPERATOR_PHONE, operator.phone))
        tags += [tlv.string(tlv.TRANSFER_OPERATOR_NAME, cp866(operator.name)),
                 tlv.string(tlv.TRANSFER_OPERATOR_ADDRESS, cp866(operator.address)),
                 tlv.inn(tlv.TRANSFER_OPERATOR_INN, operator.inn)]
    return tags


def supplier_name(provider: Provider | None, fallback: str) -> str:
    """The supplier as the receipt names it (the catalog's Russian name)."""
    if provider is None:
        return fallback
    return provider.name.get("ru") or next(iter(provider.name.values()), fallback)


def agent_item_tags(settings: FiscalSettings, provider: Provider | None, name: str) -> tuple[tlv.Tlv, ...]:
    """1222, 1223, 1224 and 1226 of an item sold as an agent for this supplier."""
    supplier: list[tlv.Tlv] = []
    if provider is not None and provider.phone:
        supplier.append(tlv.string(tlv.SUPPLIER_PHONE, fiscal_phone(provider.phone)))
    supplier.append(tlv.string(tlv.SUPPLIER_NAME, cp866(name)[:NAME_LIMIT]))
    tags = [tlv.byte(tlv.ITEM_AGENT_SIGN, settings.agent_bits), tlv.stlv(tlv.AGENT_DATA, agent_data(settings)),
            tlv.stlv(tlv.SUPPLIER_DATA, supplier)]
    if provider is not None:
        tags.append(tlv.inn(tlv.SUPPLIER_INN, provider.inn))
    return tuple(tags)


def fiscal_receipt(config: Config, catalog: Catalog, op: Operation, header_lines: tuple[str, ...] = (),
                   kind: int = tlv.KIND_INCOME, in_cash: bool = True) -> FiscalReceipt:
    """The fiscal receipt of one committed operation: the credited sum and the fee as two items.

    kind 2 (возврат прихода) is its refund: the same items and agent tags, the money given back in cash or,
    with in_cash False (a bank transfer), as an electronic payment.
    """
    settings = config.fiscal
    if settings is None:
        raise ValueError("no [fiscal] settings: a fiscal receipt needs the dealer's agent data")
    provider = catalog.providers.get(op.provider)
    supplier = supplier_name(provider, op.provider)
    credited = op.credited if op.credited is not None else op.cash
    fee = op.fee or 0
    if credited + fee != op.cash:
        raise ValueError(f"operation {op.operation}: credited {credited} + fee {fee} != cash {op.cash}")
    payment_name = cp866(f"{supplier}, л/с {op.account}")[:NAME_LIMIT]
    items = [FiscalItem(name=payment_name, price=credited, quantity_milli=1000, subject=tlv.SUBJECT_PAYMENT,
                        method=tlv.METHOD_FULL, tax=TAX_NONE, tags=agent_item_tags(settings, provider, supplier))]
    if fee:
        fee_tags = agent_item_tags(settings, provider, supplier) if settings.fee_item_agent_tags else ()
        items.append(FiscalItem(name=cp866(settings.fee_item_name)[:NAME_LIMIT], price=fee, quantity_milli=1000,
                                subject=tlv.SUBJECT_AGENT_FEE, method=tlv.METHOD_FULL, tax=TAX_NONE, tags=fee_tags))
    # the payment's slip comes as header_lines when the payer is there; a receipt made later (paper was out, a
    # refund) has none, yet a payment by bank details must still name whom it paid
    header = header_lines or tuple(payee_lines(catalog, op))
    receipt_tags: list[tlv.Tlv] = []
    if settings.ffd == "1.05":
        receipt_tags.append(tlv.byte(tlv.AGENT_SIGN, settings.agent_bits))  # FFD 1.05 wants it at receipt level
    return FiscalReceipt(kind=kind, items=tuple(items), cash=op.cash if in_cash else 0,
                         electronic=0 if in_cash else op.cash, taxation=settings.taxation_bits,
                         tags=tuple(receipt_tags), header_lines=wrapped(header))


def wrapped(lines: tuple[str, ...]) -> tuple[str, ...]:
    """Lines cut to the registrar's width at spaces where possible (a cut-off line would lose words)."""
    out: list[str] = []
    for line in lines:
        out += textwrap.wrap(cp866(line), HEADER_WIDTH, break_long_words=True) or [""]
    return tuple(out)


def check_catalog(catalog: Catalog, file: str, prefix: str = "") -> None:
    """Every provider's phone must be a phone the receipt can carry (1171): say which one is not, at start-up."""
    for provider in catalog.providers.values():
        try:
            fiscal_phone(provider.phone)
        except ValueError as exc:
            raise ConfigError(file, f"{prefix}providers.{provider.id}.phone",
                              f"{exc} (printed on fiscal receipts as tag 1171, the supplier's phone)") from None
