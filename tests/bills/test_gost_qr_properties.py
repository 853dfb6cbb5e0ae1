"""Property tests: every valid code round-trips; every broken one is refused with the reason its fault deserves."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kiosk.bills.checksums import with_correspondent_key, with_inn_keys, with_settlement_key
from kiosk.bills.gost_qr import ENCODINGS, MANDATORY, PaymentCode, format_code, parse
from kiosk.bills.refusals import Reason, Refusal

# Characters every one of the three encodings can hold (KOI8-R has no «» or №).
LETTERS = "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯабвгдеёжзийклмнопрстуфхцчшщъыьэюяABCXYZabcxyz0123456789"
TEXT_CHARS = LETTERS + " .,-\"()/"
SEPARATORS = "|;#^~!@"


def _numbers(size: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=size, max_size=size)


def _free_text(max_size: int) -> st.SearchStrategy[str]:
    # Starts with a Cyrillic letter so that every encoding has non-ASCII bytes to get wrong.
    return st.builds(lambda first, rest: (first + rest).strip() or first,
                     st.sampled_from("АБВГДЖЗКЛМНОПРСТ"), st.text(TEXT_CHARS, max_size=max_size - 1))


@st.composite
def valid_codes(draw: st.DrawFn) -> PaymentCode:
    """A valid code with random bank details, optional fields, encoding, separator and trailing style."""
    bic = "04" + draw(_numbers(7))
    account = with_settlement_key(bic, draw(st.sampled_from("1234")) + draw(_numbers(19)))
    corresp = with_correspondent_key(bic, "301018100" + draw(_numbers(8)) + bic[-3:])
    optional = []
    if draw(st.booleans()):
        optional.append(("Sum", str(draw(st.integers(0, 10**18 - 1)))))
    optional.append(("PayeeINN", with_inn_keys(draw(st.sampled_from([_numbers(9), _numbers(10)])
                                                    .flatmap(lambda s: s)))))
    optional.append(("PersAcc", draw(st.text("0123456789-/АБВ", min_size=1, max_size=20))))
    if draw(st.booleans()):
        optional.append(("PaymPeriod", f"{draw(st.integers(1, 12)):02d}{draw(st.integers(2000, 2099))}"))
    if draw(st.booleans()):
        optional.append(("Purpose", draw(_free_text(160))))
    optional = draw(st.permutations(optional))
    return PaymentCode(name=draw(_free_text(100)), personal_acc=account, bank_name=draw(_free_text(40)),
                       bic=bic, corresp_acc=corresp, optional=tuple(optional),
                       encoding=draw(st.sampled_from(list(ENCODINGS.values()))),
                       separator=draw(st.sampled_from(SEPARATORS)), trailing_separator=draw(st.booleans()))


def _cyrillic_utf8(raw: bytes) -> bool:
    try:
        return any("\u0400" <= char <= "\u04ff" for char in raw.decode("utf-8"))
    except UnicodeDecodeError:
        return False


def _unambiguous(code: PaymentCode) -> bool:
    """False for the rare Windows-1251/KOI8-R text that is also Cyrillic UTF-8 (see test_gost_qr)."""
    return code.encoding == "utf-8" or not isinstance(parse(format_code(code)), Refusal)


@settings(max_examples=150, deadline=None)
@given(valid_codes())
def test_valid_code_round_trips(code):
    raw = format_code(code)
    assume(_unambiguous(code))
    assert parse(raw) == code
    assert format_code(parse(raw)) == raw  # type: ignore[arg-type]


def _swap_field(raw: str, code: PaymentCode, key: str, value: str) -> str:
    old = dict([("PersonalAcc", code.personal_acc), *code.optional])[key]
    return raw.replace(f"{key}={old}", f"{key}={value}")


@st.composite
def broken_codes(draw: st.DrawFn) -> tuple[bytes, Reason, str]:
    """A valid code with one fault put in, and the reason and field the parser must name."""
    code = draw(valid_codes().filter(_unambiguous))
    raw = format_code(code).decode(code.encoding)
    fault = draw(st.sampled_from(["account_key", "missing", "separator", "encoding", "inn", "unknown_encoding"]))
    if fault == "account_key":
        at = draw(st.integers(6, 19))  # every digit has weight 1, 3 or 7: any change breaks the key
        old = code.personal_acc
        new = old[:at] + str((int(old[at]) + draw(st.integers(1, 9))) % 10) + old[at + 1:]
        return _swap_field(raw, code, "PersonalAcc", new).encode(code.encoding), Reason.BAD_ACCOUNT_KEY, \
            "PersonalAcc"
    if fault == "missing":
        key = draw(st.sampled_from(MANDATORY))
        value = {"Name": code.name, "BankName": code.bank_name, "BIC": code.bic,
                 "CorrespAcc": code.corresp_acc, "PersonalAcc": code.personal_acc}[key]
        fields = raw[8:].split(code.separator)
        kept = [f for f in fields if f != f"{key}={value}"]
        text = raw[:8] + code.separator.join(kept)
        return text.encode(code.encoding), Reason.MISSING_FIELD, key
    if fault == "separator":
        other = draw(st.sampled_from([c for c in SEPARATORS + "AZ7=" if c != code.separator]))
        return (raw[:7] + other + raw[8:]).encode(code.encoding), Reason.BAD_SEPARATOR, ""
    if fault == "encoding":
        declared = draw(st.sampled_from([d for d, name in ENCODINGS.items() if name != code.encoding]))
        wrong = "ST0001" + declared + raw[7:]
        if ENCODINGS[declared] != "utf-8" and code.encoding != "utf-8":
            wrong = "ST00012" + raw[7:]  # cp1251 and KOI8-R read each other's bytes; declare UTF-8 instead
        return wrong.encode(code.encoding), Reason.BAD_ENCODING, ""
    if fault == "inn":
        old = dict(code.optional)["PayeeINN"]
        new = old[:-1] + str((int(old[-1]) + draw(st.integers(1, 9))) % 10)
        return _swap_field(raw, code, "PayeeINN", new).encode(code.encoding), Reason.BAD_INN, "PayeeINN"
    digit = draw(st.sampled_from("04567890"))
    return ("ST0001" + digit + raw[7:]).encode(code.encoding), Reason.UNKNOWN_ENCODING, ""


@settings(max_examples=300, deadline=None)
@given(broken_codes())
def test_broken_code_is_refused_with_the_right_reason(case):
    raw, reason, field = case
    if reason is not Reason.BAD_ENCODING and raw[6:7] in b"13":
        assume(not _cyrillic_utf8(raw))  # a cut-down Windows-1251/KOI8-R text may fall into the ambiguity
    refusal = parse(raw)
    assert isinstance(refusal, Refusal), refusal
    assert (refusal.reason, refusal.field) == (reason, field), str(refusal)


def test_generated_codes_are_really_varied():
    """The generator reaches every encoding, separator and trailing style (so the round trip covers them)."""
    seen: set[tuple[str, str, bool]] = set()

    @settings(max_examples=300, deadline=None, database=None)
    @given(valid_codes())
    def collect(code):
        seen.add((code.encoding, code.separator, code.trailing_separator))

    collect()
    assert {e for e, _, _ in seen} == set(ENCODINGS.values())
    assert {s for _, s, _ in seen} == set(SEPARATORS)
    assert {t for _, _, t in seen} == {True, False}
