"""FFD TLV encoding: tag(2 LE) length(2 LE) value; strings in CP866; STLV nests whole TLVs.

Tag numbers are the official FFD 1.05/1.2 ones, named for what they carry.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ENCODING = "cp866"  # FFD strings inside TLVs (command text outside TLVs is CP1251)

# Receipt level
RECEIPT_KIND = 1054  # признак расчёта: 1 приход
TAXATION = 1055  # применяемая система налогообложения (bit mask)
BUYER_CONTACT = 1008  # телефон или e-mail покупателя
SETTLEMENT_ADDRESS = 1009
SETTLEMENT_PLACE = 1187
USER_NAME = 1048
USER_INN = 1018
CASHIER = 1021
ADDITIONAL_REQUISITE = 1192
# Agent (payment agent under 103-FZ, bank paying agent)
AGENT_SIGN = 1057  # признак агента (receipt level), bit mask AGENT_*
AGENT_OPERATION = 1044  # операция платёжного агента, e.g. "Платеж"
AGENT_PHONE = 1073  # телефон платёжного агента
RECEIVING_OPERATOR_PHONE = 1074  # телефон оператора по приёму платежей
TRANSFER_OPERATOR_PHONE = 1075
TRANSFER_OPERATOR_NAME = 1026
TRANSFER_OPERATOR_ADDRESS = 1005
TRANSFER_OPERATOR_INN = 1016
SUPPLIER_PHONE = 1171
SUPPLIER_NAME = 1225
# Item level
PAYMENT_SUBJECT = 1212  # признак предмета расчёта: SUBJECT_*
PAYMENT_METHOD = 1214  # признак способа расчёта: METHOD_*
ITEM_AGENT_SIGN = 1222  # признак агента по предмету расчёта
AGENT_DATA = 1223  # STLV: 1044, 1073, 1074, 1075, 1026, 1005, 1016
SUPPLIER_DATA = 1224  # STLV: 1171, 1225
SUPPLIER_INN = 1226

# Values
KIND_INCOME = 1  # приход
KIND_INCOME_RETURN = 2
TAXATION_OSN = 1
TAXATION_USN_INCOME = 2
TAXATION_USN_INCOME_EXPENSE = 4
TAXATION_ENVD = 8
TAXATION_ESHN = 16
TAXATION_PATENT = 32
AGENT_BANK_PAYING = 1
AGENT_BANK_PAYING_SUB = 2
AGENT_PAYING = 4
AGENT_PAYING_SUB = 8
AGENT_ATTORNEY = 16
AGENT_COMMISSION = 32
AGENT_OTHER = 64
METHOD_FULL = 4  # полный расчёт
SUBJECT_PAYMENT = 10  # платёж
SUBJECT_AGENT_FEE = 11  # агентское вознаграждение

MAX_LENGTH = 0xFFFF


@dataclass(frozen=True, slots=True)
class Tlv:
    """One FFD tag and its raw value bytes."""

    tag: int
    value: bytes

    def __post_init__(self) -> None:
        if not 0 <= self.tag <= 0xFFFF:
            raise ValueError(f"TLV tag out of range: {self.tag}")
        if len(self.value) > MAX_LENGTH:
            raise ValueError(f"TLV {self.tag} value too long: {len(self.value)} bytes")

    def encode(self) -> bytes:
        """tag(2 LE) length(2 LE) value."""
        return self.tag.to_bytes(2, "little") + len(self.value).to_bytes(2, "little") + self.value

    def __len__(self) -> int:
        return 4 + len(self.value)

    @property
    def text(self) -> str:
        """The value read as a CP866 string."""
        return self.value.decode(ENCODING)

    @property
    def number(self) -> int:
        """The value read as a little-endian unsigned integer (byte, uint16, uint32, VLN)."""
        return int.from_bytes(self.value, "little")

    def children(self) -> tuple[Tlv, ...]:
        """The TLVs nested in an STLV value."""
        return decode(self.value)


def string(tag: int, text: str) -> Tlv:
    """A string tag, encoded CP866 (characters CP866 lacks raise UnicodeEncodeError)."""
    return Tlv(tag, text.encode(ENCODING))


def byte(tag: int, value: int) -> Tlv:
    """A one-byte tag (bit masks such as 1057, 1222; 1054, 1212, 1214)."""
    return Tlv(tag, value.to_bytes(1, "little"))


def uint32(tag: int, value: int) -> Tlv:
    """A four-byte little-endian integer tag."""
    return Tlv(tag, value.to_bytes(4, "little"))


def vln(tag: int, value: int) -> Tlv:
    """A variable-length number (money in kopecks): the fewest little-endian bytes, at least one."""
    if value < 0:
        raise ValueError("VLN is unsigned")
    return Tlv(tag, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "little"))


def inn(tag: int, number: str) -> Tlv:
    """An INN tag: 12 characters, a 10-digit INN padded with spaces on the right."""
    digits = number.strip()
    if not digits.isdigit() or len(digits) not in (10, 12):
        raise ValueError(f"INN must be 10 or 12 digits, got {number!r}")
    return string(tag, digits.ljust(12))


def stlv(tag: int, children: Iterable[Tlv]) -> Tlv:
    """A structured tag whose value is the concatenation of its children."""
    return Tlv(tag, b"".join(child.encode() for child in children))


def encode_all(tags: Iterable[Tlv]) -> bytes:
    """Concatenate encoded TLVs."""
    return b"".join(item.encode() for item in tags)


def decode(data: bytes) -> tuple[Tlv, ...]:
    """Split a TLV byte string into its tags; ValueError on a truncated one."""
    out: list[Tlv] = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < 4:
            raise ValueError(f"truncated TLV header at byte {pos}")
        tag = int.from_bytes(data[pos:pos + 2], "little")
        length = int.from_bytes(data[pos + 2:pos + 4], "little")
        end = pos + 4 + length
        if end > len(data):
            raise ValueError(f"TLV {tag} claims {length} bytes, {len(data) - pos - 4} left")
        out.append(Tlv(tag, bytes(data[pos + 4:end])))
        pos = end
    return tuple(out)


def chunks(tags: Iterable[Tlv], limit: int) -> list[bytes]:
    """Pack encoded TLVs into as few byte strings of at most `limit` bytes as possible, in order."""
    out: list[bytes] = []
    current = b""
    for item in tags:
        raw = item.encode()
        if len(raw) > limit:
            raise ValueError(f"TLV {item.tag} is {len(raw)} bytes, over the {limit}-byte command limit")
        if len(current) + len(raw) > limit:
            out.append(current)
            current = b""
        current += raw
    if current:
        out.append(current)
    return out
