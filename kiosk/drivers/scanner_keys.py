"""Linux input key codes (the kernel's input-event-codes.h, a stable ABI) → characters, US layout.

A keyboard-wedge scanner "types" its code; this is how the keys it presses become text. Numbers rather than
evdev.ecodes names so that the table loads without evdev.
"""

from __future__ import annotations

EV_KEY = 1
KEY_DOWN = 1
SHIFT_KEYS = frozenset({42, 54})  # KEY_LEFTSHIFT, KEY_RIGHTSHIFT
ENTER_KEYS = frozenset({28, 96})  # KEY_ENTER, KEY_KPENTER: the scanner's end of code

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


class KeyDecoder:
    """Turns key events into codes: shift state tracked, Enter ends a code, unknown keys ignored."""

    def __init__(self) -> None:
        self._shift: set[int] = set()
        self._text: list[str] = []

    def feed(self, event_type: int, code: int, value: int) -> str | None:
        """One input event; the finished code when this was its Enter, else None."""
        if event_type != EV_KEY:
            return None
        if code in SHIFT_KEYS:
            if value == KEY_DOWN:
                self._shift.add(code)
            elif value == 0:
                self._shift.discard(code)
            return None
        if value != KEY_DOWN:
            return None  # releases and auto-repeat
        if code in ENTER_KEYS:
            text, self._text = "".join(self._text), []
            return text or None
        char = (SHIFTED if self._shift else PLAIN).get(code)
        if char is not None:
            self._text.append(char)
        return None

    def reset(self) -> None:
        """Forget a half-typed code and the shift state (the device went away)."""
        self._shift.clear()
        self._text = []
