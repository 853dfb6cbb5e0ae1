"""What a receipt says: typed lines built from plain data, independent of how (or whether) it is printed.

A receipt is the payer's only proof. Support finds the payment by terminal number + operation number, so both
are printed large on every payment receipt and carried in a QR code (its payload: kiosk.receipt_format).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from kiosk.money import Money
from kiosk.receipt_format import format_account, format_time, qr_payload, time_zone
from kiosk.receipt_texts import TEXTS

Align = Literal["left", "center", "right"]
Size = Literal["normal", "tall", "large"]  # tall: double height; large: double width and height
PaymentStatus = Literal["delivered", "queued", "not_completed"]
AccountMasking = Literal["phone", "card", "plain"]
LANGS = ("ru", "en")


# -- the model: typed lines -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Text:
    """A paragraph, wrapped to the paper width by whoever lays it out."""

    text: str
    bold: bool = False
    size: Size = "normal"
    align: Align = "left"


@dataclass(frozen=True, slots=True)
class Row:
    """A label on the left and its value on the right ('Комиссия ...... 15,00 руб.')."""

    key: str
    value: str
    bold: bool = False


@dataclass(frozen=True, slots=True)
class Separator:
    """A full-width rule."""

    char: str = "-"


@dataclass(frozen=True, slots=True)
class Qr:
    """A QR code carrying payload."""

    payload: str


@dataclass(frozen=True, slots=True)
class Feed:
    """Blank lines."""

    lines: int = 1


@dataclass(frozen=True, slots=True)
class Cut:
    """The end of the receipt: feed past the cutter and cut."""


Block = Text | Row | Separator | Qr | Feed | Cut


@dataclass(frozen=True, slots=True)
class Receipt:
    """A built receipt: its kind, the numbers support searches by, and its lines in print order."""

    kind: str  # payment | not_completed | restored | encashment | test
    lang: str
    terminal: str
    number: int  # operation number (encashment number for an encashment receipt, 0 for a test page)
    blocks: tuple[Block, ...]

    def plain_lines(self) -> list[str]:
        """The receipt's words without layout, one block per line: for the journal and for tests."""
        return plain_lines(self.blocks)


def plain_lines(blocks: Iterable[Block]) -> list[str]:
    """Blocks' words without layout, one block per line (separators, feeds and cuts have none)."""
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Text):
            out.append(block.text)
        elif isinstance(block, Row):
            out.append(f"{block.key} {block.value}")
        elif isinstance(block, Qr):
            out.append(f"[QR {block.payload}]")
    return out


# -- inputs: plain data the terminal core already has --------------------------------------------------
@dataclass(frozen=True, slots=True)
class AgentInfo:
    """The payment agent as printed: name, INN, phone (and location, if the contract wants it)."""

    name: str
    inn: str
    phone: str
    address: str = ""

    @classmethod
    def from_agent(cls, agent: object) -> AgentInfo:
        """From kiosk.config.Agent."""
        return cls(agent.name, agent.inn, agent.phone, agent.address)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    """The provider (supplier) as printed; name per language."""

    name: Mapping[str, str]
    inn: str
    phone: str

    @classmethod
    def from_provider(cls, provider: object) -> ProviderInfo:
        """From kiosk.catalog.Provider."""
        return cls(dict(provider.name), provider.inn, provider.phone)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class PaymentReceiptData:
    """Everything a payment receipt says; status is what happened to the money so far."""

    terminal: str
    operation: int
    when: datetime  # aware; shown in `timezone`
    timezone: str  # IANA name, e.g. config.timezone.key
    terminal_address: str
    agent: AgentInfo
    provider: ProviderInfo
    account: str
    cash: Money
    fee: Money
    credited: Money
    status: PaymentStatus
    support_phone: str
    lang: str = "ru"
    account_masking: AccountMasking = "plain"
    account_label: Mapping[str, str] = field(default_factory=dict)
    external_id: str = ""  # the gateway's id for the payment, once known
    reason: str = ""  # why not completed, in the payer's language, if known
    restored: bool = False  # found in the journal after a power loss and completed on start-up
    status_link: str = ""  # the signed link to the payer's status page (kiosk.status_link); '' = the support QR
    utility: Mapping[str, Any] = field(default_factory=dict)  # utility bills: details' "split", "readings", "debt"

    def __post_init__(self) -> None:
        _check_common(self.terminal, self.when, self.timezone, self.lang)
        if self.operation < 1:
            raise ValueError(f"operation number must be positive, got {self.operation}")
        if self.status not in ("delivered", "queued", "not_completed"):
            raise ValueError(f"unknown payment status {self.status!r}")
        if self.account_masking not in ("phone", "card", "plain"):
            raise ValueError(f"unknown account masking {self.account_masking!r}")
        # A receipt whose figures do not add up is worse than none: refuse to build it.
        if self.fee + self.credited != self.cash:
            raise ValueError(f"fee {self.fee} + credited {self.credited} != cash {self.cash}")


@dataclass(frozen=True, slots=True)
class EncashmentReceiptData:
    """A cash collection: banknotes counted by denomination since the previous encashment."""

    terminal: str
    number: int
    when: datetime
    timezone: str
    terminal_address: str
    agent: AgentInfo
    counts: Mapping[Money, int]  # denomination -> number of banknotes
    since: datetime | None  # previous encashment, None for the first one
    operations: int  # operations since the previous encashment
    support_phone: str
    lang: str = "ru"
    collector: str = ""

    def __post_init__(self) -> None:
        _check_common(self.terminal, self.when, self.timezone, self.lang)
        if self.since is not None and self.since.tzinfo is None:
            raise ValueError("encashment 'since' must be timezone-aware")
        if any(count < 0 for count in self.counts.values()):
            raise ValueError("banknote counts cannot be negative")
        if len({m.currency for m in self.counts}) > 1:
            raise ValueError("one encashment receipt holds one currency")

    @property
    def total(self) -> Money:
        """The sum of all banknotes."""
        currency = next(iter(self.counts), Money.zero()).currency
        return sum((d * n for d, n in self.counts.items()), Money.zero(currency))


@dataclass(frozen=True, slots=True)
class TestPageData:
    """A page that shows the printer works: every Cyrillic letter, sizes, a rule and a QR code."""

    terminal: str
    when: datetime
    timezone: str
    terminal_address: str
    lang: str = "ru"


def _check_common(terminal: str, when: datetime, timezone: str, lang: str) -> None:
    if not re.fullmatch(r"[0-9]{1,10}", terminal):
        raise ValueError(f"terminal number must be 1 to 10 digits, got {terminal!r}")
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("receipt time must be timezone-aware")
    time_zone(timezone)
    if lang not in LANGS:
        raise ValueError(f"receipt language must be one of {LANGS}, got {lang!r}")


def _pick(names: Mapping[str, str], lang: str) -> str:
    for key in (lang, "ru", "en"):
        if names.get(key):
            return names[key]
    return next(iter(names.values()), "")


# -- builders -------------------------------------------------------------------------------------------
def _header(t: Mapping[str, str], title: str, terminal: str, number_label: str, number: int) -> list[Block]:
    return [
        Text(title, bold=True, align="center"),
        Feed(),
        Text(f"{t['terminal']} {terminal}", bold=True, size="large", align="center"),
        Text(f"{number_label} {number}", bold=True, size="large", align="center"),
        Feed(),
    ]


def _agent(t: Mapping[str, str], agent: AgentInfo) -> list[Block]:
    blocks: list[Block] = [Text(t["agent"], bold=True), Text(agent.name)]
    if agent.address:
        blocks.append(Text(agent.address))
    blocks += [Row(t["inn"], agent.inn), Row(t["phone"], agent.phone)]
    return blocks


def build_payment(data: PaymentReceiptData) -> Receipt:
    """A payment receipt: delivered, queued, not completed, or restored after a power loss."""
    t = TEXTS[data.lang]
    if data.status == "not_completed":
        kind, title = "not_completed", t["title_not_completed"]
    elif data.restored:
        kind, title = "restored", t["title_restored"]
    else:
        kind, title = "payment", t["title_payment"]
    local_when = data.when.astimezone(time_zone(data.timezone))
    blocks = _header(t, title, data.terminal, t["operation"], data.operation)
    blocks += [
        Text(format_time(data.when, data.timezone, data.lang), align="center"),
        Text(f"{t['address']}: {data.terminal_address}"),
        Separator(),
        *_agent(t, data.agent),
        Separator(),
        Text(t["provider"], bold=True),
        Text(_pick(data.provider.name, data.lang)),
        Row(t["inn"], data.provider.inn),
        Row(t["phone"], data.provider.phone),
        Row(_pick(data.account_label, data.lang) or t["account"],
            format_account(data.account, data.account_masking), bold=True),
        Separator(),
        Row(t["cash"], data.cash.format(data.lang), bold=True),
        Row(t["fee"], data.fee.format(data.lang)),
        Row(t["credited"], data.credited.format(data.lang), bold=True),
        *_utility_blocks(data),
        Separator(),
        Text(t[f"status_{data.status}"], bold=True, align="center"),
    ]
    if data.restored:
        blocks.append(Text(t["restored_note"], align="center"))
    if data.status == "not_completed":
        if data.reason:
            blocks.append(Text(f"{t['reason']}: {data.reason}"))
        blocks.append(Text(t["not_completed_note"]))
    if data.external_id:
        blocks.append(Row(t["external_id"], data.external_id))
    blocks += [
        Row(t["support"], data.support_phone, bold=True),
        Feed(),
    ]
    if data.status_link:
        blocks.append(Text(t["status_qr"], align="center"))
    blocks.append(Qr(data.status_link or qr_payload(data.terminal, data.operation, data.cash, local_when)))
    if data.status != "not_completed":
        blocks.append(Text(t["keep"], align="center"))
    blocks.append(Cut())
    return Receipt(kind, data.lang, data.terminal, data.operation, tuple(blocks))


def _utility_blocks(data: PaymentReceiptData) -> list[Block]:
    """The split across services and the meter readings of a utility bill (kiosk.utility_receipt)."""
    if not data.utility:
        return []
    from kiosk.utility_receipt import utility_blocks  # it builds on this module's blocks

    return utility_blocks(data.utility, data.cash.currency, data.lang)


def build_encashment(data: EncashmentReceiptData) -> Receipt:
    """An encashment receipt: banknotes by denomination, totals, the period it covers."""
    t = TEXTS[data.lang]
    blocks = _header(t, t["title_encashment"], data.terminal, t["encashment_no"], data.number)
    blocks += [
        Text(f"{t['address']}: {data.terminal_address}"),
        Text(data.agent.name),
        Row(t["inn"], data.agent.inn),
        Separator(),
        Text(t["period"], bold=True),
        Text(f"{t['from']} {format_time(data.since, data.timezone, data.lang)}" if data.since else t["first"]),
        Text(f"{t['to']} {format_time(data.when, data.timezone, data.lang)}"),
        Separator(),
        Row(t["denomination"], t["count_sum"], bold=True),
    ]
    bills = 0
    for denomination in sorted(data.counts, key=lambda m: m.minor):
        count = data.counts[denomination]
        bills += count
        blocks.append(Row(denomination.format(data.lang),
                          f"{count} = {(denomination * count).format(data.lang)}"))
    blocks += [
        Separator(),
        Row(t["bills_total"], str(bills), bold=True),
        Row(t["amount_total"], data.total.format(data.lang), bold=True),
        Row(t["operations"], str(data.operations)),
    ]
    if data.collector:
        blocks.append(Row(t["collector"], data.collector))
    blocks += [
        Feed(),
        Text(t["signature"]),
        Feed(),
        Row(t["support"], data.support_phone),
        Cut(),
    ]
    return Receipt("encashment", data.lang, data.terminal, data.number, tuple(blocks))


def build_test_page(data: TestPageData) -> Receipt:
    """A printer test page: both alphabets, every text style, a rule and a QR code."""
    t = TEXTS[data.lang]
    upper = "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ"
    blocks: list[Block] = [
        Text(t["title_test"], bold=True, size="large", align="center"),
        Text(f"{t['terminal']} {data.terminal}", bold=True, align="center"),
        Text(format_time(data.when, data.timezone, data.lang), align="center"),
        Text(f"{t['address']}: {data.terminal_address}"),
        Separator("="),
        # Half an alphabet per line: 17 letters fit the narrowest paper even in double width.
        Text(upper[:17] + " " + upper[17:]),
        Text(upper.lower()[:17] + " " + upper.lower()[17:]),
        Text("ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz 0123456789 № ₽"),
        Separator(),
        Text(t["sample_normal"]),
        Text(t["sample_bold"], bold=True),
        Text(t["sample_tall"], size="tall"),
        Text(t["sample_large"], size="large"),
        Text(t["sample_right"], align="right"),
        Separator(),
        Qr(qr_payload(data.terminal, 0, Money.zero(), data.when.astimezone(time_zone(data.timezone)))),
        Text(t["test_ok"], align="center"),
        Cut(),
    ]
    return Receipt("test", data.lang, data.terminal, 0, tuple(blocks))
