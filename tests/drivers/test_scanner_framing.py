"""The scanner's framing (suffix, prefix, pause between bytes) and key decoding, alone with byte vectors."""

from __future__ import annotations

import pytest

from kiosk.drivers.scanner import MAX_CODE_BYTES, CodeFramer, parse_affix
from kiosk.drivers.scanner_keys import ENTER_KEYS, EV_KEY, PLAIN, SHIFT_KEYS, SHIFTED, KeyDecoder
from kiosk.registry import SCANNERS, load


def test_affix_names_and_hex():
    assert [parse_affix(n) for n in ("cr", "LF", "crlf", "none", "0x0d0a", b"\x03")] == \
        [b"\r", b"\n", b"\r\n", b"", b"\r\n", b"\x03"]
    with pytest.raises(ValueError, match="crlf"):
        parse_affix("newline")
    with pytest.raises(ValueError):
        parse_affix("0xZZ")


def test_suffix_ends_codes_even_split_across_reads():
    framer = CodeFramer(suffix=b"\r\n")
    assert framer.feed(b"ST00012|Na", 0.0) == []
    assert framer.feed(b"me=X\r", 0.01) == []
    assert framer.feed(b"\nSECOND\r\nTHI", 0.02) == [b"ST00012|Name=X", b"SECOND"]
    assert framer.flush(0.03) == []  # not quiet long enough yet
    assert framer.flush(0.08) == [b"THI"]  # a pause ends a code whose suffix never came


def test_pause_alone_ends_codes_when_no_suffix_is_configured():
    framer = CodeFramer(suffix=b"", gap=0.05)
    assert framer.feed(b"ABC", 0.0) == [] and framer.feed(b"DEF", 0.03) == []
    assert framer.feed(b"GHI", 0.2) == [b"ABCDEF"]  # the next code's first bytes close the previous one
    assert framer.flush(0.3) == [b"GHI"]


def test_prefix_is_removed_and_codes_without_it_are_dropped():
    framer = CodeFramer(prefix=b"\x02", suffix=b"\x03")
    assert framer.feed(b"\x02CODE1\x03noise\x03\x02CODE2\x03", 0.0) == [b"CODE1", b"CODE2"]


def test_crlf_scanner_on_a_cr_host_loses_no_code_and_adds_no_newline():
    framer = CodeFramer(suffix=b"\r")
    assert framer.feed(b"ONE\r\nTWO\r\n", 0.0) == [b"ONE", b"TWO"]
    assert framer.flush(1.0) == []  # the last LF alone is no code


def test_endless_noise_is_dropped_not_kept_in_memory():
    framer = CodeFramer(suffix=b"\r")
    assert framer.feed(b"x" * (MAX_CODE_BYTES + 1), 0.0) == []
    assert framer.feed(b"GOOD\r", 0.01) == [b"GOOD"]


def test_reset_forgets_half_a_code():
    framer = CodeFramer(suffix=b"\r")
    framer.feed(b"HALF", 0.0)
    framer.reset()
    assert framer.feed(b"WHOLE\r", 0.01) == [b"WHOLE"]


def test_key_table_matches_the_kernel_codes():
    ecodes = pytest.importorskip("evdev").ecodes
    assert PLAIN[ecodes.KEY_A] == "a" and SHIFTED[ecodes.KEY_A] == "A"
    assert PLAIN[ecodes.KEY_0] == "0" and SHIFTED[ecodes.KEY_BACKSLASH] == "|"
    assert PLAIN[ecodes.KEY_KP7] == "7" and PLAIN[ecodes.KEY_SLASH] == "/" and PLAIN[ecodes.KEY_SPACE] == " "
    assert SHIFT_KEYS == {ecodes.KEY_LEFTSHIFT, ecodes.KEY_RIGHTSHIFT}
    assert ENTER_KEYS == {ecodes.KEY_ENTER, ecodes.KEY_KPENTER}


def test_decoder_follows_shift_and_ends_at_enter():
    decoder = KeyDecoder()
    presses = [(42, 1), (31, 1), (31, 0), (20, 1), (42, 0), (11, 1), (11, 2), (43, 1), (28, 1)]  # S T 0 \
    results = [decoder.feed(EV_KEY, code, value) for code, value in presses]
    assert results[:-1] == [None] * 8 and results[-1] == b"ST0\\"
    assert decoder.feed(EV_KEY, 28, 1) is None  # Enter on nothing is no code
    assert decoder.feed(4, 458756, 1) is None  # EV_MSC scan codes are ignored


def test_registry_names_both_scanner_kinds():
    assert load("scanner", SCANNERS, "serial").__name__ == "SerialScanner"
    assert load("scanner", SCANNERS, "hid").__name__ == "HidScanner"


def _alt_number(digits: str) -> list[tuple[int, int]]:
    keypad = {"0": 82, "1": 79, "2": 80, "3": 81, "4": 75, "5": 76, "6": 77, "7": 71, "8": 72, "9": 73}
    return [(56, 1), *[(keypad[d], v) for d in digits for v in (1, 0)], (56, 0)]


def test_alt_keypad_numbers_type_the_bytes_a_us_layout_cannot():
    decoder = KeyDecoder()
    # "Я" in Windows-1251 is byte 223: Alt+0223 (ANSI); Alt+159 is "Я" in cp866 (OEM), the same byte back.
    presses = [*_alt_number("0223"), *_alt_number("159"), (30, 1), *_alt_number("99999"), (28, 1)]
    results = [decoder.feed(EV_KEY, code, value) for code, value in presses]
    assert results[-1] == "ЯЯa".encode("cp1251")
