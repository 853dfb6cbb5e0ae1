"""Linux input key codes (the kernel's input-event-codes.h, a stable ABI) → characters, US layout.

A keyboard-wedge scanner "types" its code; this is how the keys it presses become bytes. Numbers rather than
evdev.ecodes names so that the table loads without evdev. A US layout cannot type Cyrillic, so scanners offer
"Alt + keypad" mode (as on Windows): Alt+0NNN is the ANSI byte NNN (the code's own byte), Alt+NNN the OEM
(cp866) character NNN, which Windows made from the Windows-1251 byte, so it is turned back into that byte.
"""

from __future__ import annotations

EV_KEY = 1
KEY_DOWN = 1
SHIFT_KEYS = frozenset({42, 54})  # KEY_LEFTSHIFT, KEY_RIGHTSHIFT
ENTER_KEYS = frozenset({28, 96})  # KEY_ENTER, KEY_KPENTER: the scanner's end of code
ALT_KEYS = frozenset({56, 100})  # KEY_LEFTALT, KEY_RIGHTALT
KEYPAD_DIGITS = {82: "0", 79: "1", 80: "2", 81: "3", 75: "4", 76: "5", 77: "6", 71: "7", 72: "8", 73: "9"}

_ROWS = (
    (2, "1234567890-=", "!@#$%^&*()_+"),  # KEY_1 … KEY_EQUAL
    (15, "\tqwertyuiop[]", "\tQWERTYUIOP{}"),  # KEY_TAB … KEY_RIGHTBRACE
    (30, "asdfghjkl;'`", 'ASDFGHJKL:"~'),  # KEY_A … KEY_GRAVE
    (43, "\\zxcvbnm,./", "|ZXCVBNM<>?"),  # KEY_BACKSLASH … KEY_SLASH
)
# The keypad types the same with or without shift (scanners use it for Alt+digits and plain digits alike).
_KEYPAD = {55: "*", 71: "7", 72: "8", 73: "9", 74: "-", 75: "4", 76: "5", 77: "6", 78: "+", 79: "1", 80: "2",
           81: "3", 82: "0", 83: ".", 98: "/"}
_SPACE = 57

PLAIN: dict[int, str] = {_SPACE: " ", **_KEYPAD}
SHIFTED: dict[int, str] = {_SPACE: " ", **_KEYPAD}
for _first, _plain, _shifted in _ROWS:
    for _offset, (_p, _s) in enumerate(zip(_plain, _shifted, strict=True)):
        PLAIN[_first + _offset] = _p
        SHIFTED[_first + _offset] = _s


def alt_code_byte(digits: str) -> bytes:
    """The byte an Alt+keypad number stands for (b'' for numbers beyond one byte)."""
    number = int(digits)
    if number > 255:
        return b""
    if digits.startswith("0"):
        return bytes((number,))
    return bytes((number,)).decode("cp866").encode("cp1251", "replace")


class KeyDecoder:
    """Turns key events into codes (bytes): shift and Alt+keypad tracked, Enter ends a code, other keys ignored."""

    def __init__(self) -> None:
        self._held: set[int] = set()
        self._alt_digits = ""
        self._code = bytearray()

    def feed(self, event_type: int, code: int, value: int) -> bytes | None:
        """One input event; the finished code when this was its Enter, else None."""
        if event_type != EV_KEY:
            return None
        if code in SHIFT_KEYS or code in ALT_KEYS:
            if value == KEY_DOWN:
                self._held.add(code)
            elif value == 0:
                self._held.discard(code)
                if code in ALT_KEYS and self._alt_digits:
                    self._code += alt_code_byte(self._alt_digits)
                    self._alt_digits = ""
            return None
        if value != KEY_DOWN:
            return None  # releases and auto-repeat
        if self._held & ALT_KEYS:
            self._alt_digits += KEYPAD_DIGITS.get(code, "")
            return None
        if code in ENTER_KEYS:
            finished, self._code = bytes(self._code), bytearray()
            return finished or None
        char = (SHIFTED if self._held & SHIFT_KEYS else PLAIN).get(code)
        if char is not None:
            self._code += char.encode("ascii")
        return None

    def reset(self) -> None:
        """Forget a half-typed code and the held keys (the device went away)."""
        self._held.clear()
        self._alt_digits = ""
        self._code = bytearray()
