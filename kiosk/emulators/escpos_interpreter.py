"""An ESC/POS interpreter: the subset a receipt printer needs, with a paper sensor that can be told to fail.

It parses the byte stream into commands (keeping incomplete commands until more bytes arrive), keeps the
printer's text state, collects printed items into a receipt that ends at a cut, and answers the real-time
(DLE EOT n) and in-order (GS r n) status queries from a paper state tests can set.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

# ESC t n → Python codec; 17 is Epson's PC866, 59 the slot some 58 mm clones use for the same table.
CODE_PAGES = {0: "cp437", 2: "cp850", 16: "cp1252", 17: "cp866", 46: "cp1251", 59: "cp866"}
PAPER_STATES = ("ok", "near-end", "out")

# Fixed lengths of the simple commands we accept, by prefix (ESC x / GS x / DLE x / FS x).
_FIXED = {
    b"\x1b@": 2, b"\x1b2": 2, b"\x1b!": 3, b"\x1bE": 3, b"\x1bG": 3, b"\x1b-": 3, b"\x1ba": 3, b"\x1bt": 3,
    b"\x1bd": 3, b"\x1bJ": 3, b"\x1bM": 3, b"\x1b3": 3, b"\x1b{": 3, b"\x1bR": 3, b"\x1bV": 3, b"\x1bc": 4,
    b"\x1bp": 5, b"\x1d!": 3, b"\x1dr": 3, b"\x1dB": 3, b"\x1db": 3, b"\x1dH": 3, b"\x1df": 3, b"\x1dh": 3,
    b"\x1dw": 3, b"\x1da": 3, b"\x1dI": 3, b"\x1dL": 4, b"\x1dW": 4, b"\x1dP": 4, b"\x10\x04": 3,
    b"\x10\x05": 3, b"\x10\x14": 5, b"\x1c.": 2, b"\x1c&": 2, b"\x1cC": 3,
}


@dataclass
class Span:
    """Text printed in one style."""

    text: str
    bold: bool
    width: int
    height: int


@dataclass
class TextLine:
    """A printed line: spans, justification, and the tallest character height in it."""

    spans: list[Span]
    align: str

    @property
    def text(self) -> str:
        """The characters of the line."""
        return "".join(s.text for s in self.spans)

    @property
    def height(self) -> int:
        """The height multiplier of the tallest span (1 for a blank line)."""
        return max((s.height for s in self.spans), default=1)


@dataclass
class Raster:
    """A GS v 0 raster image: width and height in dots, rows of packed bits, 1 = black."""

    width: int
    height: int
    data: bytes
    align: str


@dataclass
class QrSymbol:
    """A GS ( k QR symbol as the printer would draw it."""

    payload: str
    module: int
    ec: str
    align: str


@dataclass
class PaperOut:
    """The place where printing stopped because the paper ran out (or the cover was opened)."""

    reason: str


Item = TextLine | Raster | QrSymbol | PaperOut


@dataclass
class PrintedReceipt:
    """What came out of the printer between two cuts; incomplete if anything was lost on the way."""

    items: list[Item] = field(default_factory=list)
    incomplete: bool = False


class EscposInterpreter:
    """Printer state and command execution; thread-safe: several links may feed it at once."""

    def __init__(self, columns: int, on_receipt: Callable[[PrintedReceipt], None] | None = None) -> None:
        self.columns = columns
        self.on_receipt = on_receipt
        self.paper = "ok"
        self.cover_open = False
        self.unknown: list[bytes] = []  # commands we could not interpret, for tests to assert on
        self._lines_left: int | None = None
        self._pending: dict[object, bytes] = {}
        self._lock = threading.RLock()
        self._reset()
        self._receipt = PrintedReceipt()

    # -- paper switches -----------------------------------------------------------------------------------
    def set_paper(self, state: str) -> None:
        """Paper sensor: 'ok', 'near-end' or 'out'."""
        if state not in PAPER_STATES:
            raise ValueError(f"paper state must be one of {PAPER_STATES}, got {state!r}")
        with self._lock:
            self.paper, self._lines_left = state, None

    def set_cover(self, is_open: bool) -> None:
        """Open or close the printer cover."""
        with self._lock:
            self.cover_open = is_open

    def paper_out_after(self, lines: int) -> None:
        """Let the roll run out after this many more printed lines."""
        with self._lock:
            self._lines_left = max(lines, 0)
            if self._lines_left == 0:
                self.paper = "out"

    @property
    def offline(self) -> bool:
        """A real printer stops (goes offline) with the paper out or the cover open."""
        return self.paper == "out" or self.cover_open

    # -- status bytes -------------------------------------------------------------------------------------
    def dle_eot(self, n: int) -> bytes:
        """The real-time status byte for DLE EOT n (bits 1 and 4 are always set)."""
        value = 0x12
        if n == 1 and self.offline:
            value |= 0x08
        elif n == 2:
            value |= (0x04 if self.cover_open else 0) | (0x20 if self.paper == "out" else 0)
        elif n == 4:
            value |= {"ok": 0, "near-end": 0x0C, "out": 0x6C}[self.paper]
        return bytes([value])

    def gs_r(self, n: int) -> bytes:
        """The in-order status byte for GS r n (paper sensor for n = 1/49, drawer for 2/50)."""
        if n in (1, 49):
            return bytes([{"ok": 0, "near-end": 0x03, "out": 0x0F}[self.paper]])
        return b"\x00"

    # -- the byte stream ----------------------------------------------------------------------------------
    def feed(self, data: bytes, source: object = None) -> bytes:
        """Consume bytes from one link; returns the bytes the printer sends back on that link."""
        with self._lock:
            buf = self._pending.pop(source, b"") + data
            replies = bytearray()
            pos = 0
            while pos < len(buf):
                used = self._step(buf, pos, replies)
                if used == 0:  # an incomplete command: wait for the rest
                    self._pending[source] = buf[pos:]
                    break
                pos += used
            return bytes(replies)

    def _step(self, buf: bytes, pos: int, replies: bytearray) -> int:
        byte = buf[pos]
        if byte == 0x0A:
            self._print_line()
            return 1
        if byte in (0x0D, 0x00):
            return 1
        if byte == 0x09:
            self._text(" ")
            return 1
        if byte not in (0x1B, 0x1D, 0x10, 0x1C):
            if byte < 0x20:
                self.unknown.append(bytes([byte]))
                return 1
            end = pos
            while end < len(buf) and buf[end] >= 0x20:
                end += 1
            self._text(buf[pos:end].decode(self._codec, errors="replace"))
            return end - pos
        if len(buf) - pos < 2:
            return 0
        prefix = buf[pos:pos + 2]
        if prefix in _FIXED:
            size = _FIXED[prefix]
            if len(buf) - pos < size:
                return 0
            self._simple(buf[pos:pos + size], replies)
            return size
        return self._variable(buf, pos, prefix)

    def _variable(self, buf: bytes, pos: int, prefix: bytes) -> int:
        avail = len(buf) - pos
        if prefix == b"\x1dV":  # GS V m [n]
            if avail < 3:
                return 0
            size = 4 if buf[pos + 2] in (65, 66) else 3
            if avail < size:
                return 0
            self._cut()
            return size
        if prefix == b"\x1dv":  # GS v 0 m xL xH yL yH d1…dk
            if avail < 8:
                return 0
            width_bytes = buf[pos + 4] | buf[pos + 5] << 8
            height = buf[pos + 6] | buf[pos + 7] << 8
            size = 8 + width_bytes * height
            if avail < size:
                return 0
            self._emit(Raster(width_bytes * 8, height, bytes(buf[pos + 8:pos + size]), self._align),
                       lines=max(1, -(-height // 30)))
            return size
        if prefix in (b"\x1d(",):  # GS ( k / GS ( L: pL pH then that many bytes
            if avail < 5:
                return 0
            size = 5 + (buf[pos + 3] | buf[pos + 4] << 8)
            if avail < size:
                return 0
            if buf[pos + 2] == ord("k"):
                self._qr_function(bytes(buf[pos + 5:pos + size]))
            else:
                self.unknown.append(bytes(buf[pos:pos + 3]))
            return size
        # Unknown command of unknown length: skip its two bytes and remember it.
        self.unknown.append(bytes(prefix))
        return 2

    def _simple(self, cmd: bytes, replies: bytearray) -> None:
        op, arg = cmd[:2], cmd[2] if len(cmd) > 2 else 0
        if op == b"\x1b@":
            self._flush_partial()
            if self._receipt.incomplete:
                self._cut()  # a new job after one that lost its paper: keep the two apart
            self._reset()
        elif op == b"\x1b!":
            self._bold = bool(arg & 0x08)
            self._width, self._height = (2 if arg & 0x20 else 1), (2 if arg & 0x10 else 1)
        elif op in (b"\x1bE", b"\x1bG"):
            self._bold = bool(arg & 1)
        elif op == b"\x1ba":
            self._align = {0: "left", 48: "left", 1: "center", 49: "center", 2: "right", 50: "right"}.get(arg, "left")
        elif op == b"\x1bt":
            if arg not in CODE_PAGES:
                self.unknown.append(cmd)
            self._codec = CODE_PAGES.get(arg, "cp437")
        elif op == b"\x1bd":
            self._print_line(force=bool(self._line))
            for _ in range(arg):
                self._print_line()
        elif op == b"\x1d!":
            self._width, self._height = (arg >> 4 & 7) + 1, (arg & 7) + 1
        elif op == b"\x10\x04":
            replies += self.dle_eot(arg)
        elif op == b"\x1dr":
            replies += self.gs_r(arg)
        # Everything else in _FIXED (fonts, spacing, drawer, smoothing …) does not change what a receipt says.

    def _qr_function(self, body: bytes) -> None:
        if len(body) < 2 or body[0] != 0x31:
            self.unknown.append(b"\x1d(k" + body[:2])
            return
        fn, rest = body[1], body[2:]
        if fn == 67 and rest:
            self._qr_module = rest[0]
        elif fn == 69 and rest:
            self._qr_ec = {48: "L", 49: "M", 50: "Q", 51: "H"}.get(rest[0], "?")
        elif fn == 80:
            self._qr_data = rest[1:]  # after m = '0'
        elif fn == 81:
            self._flush_partial()
            self._emit(QrSymbol(self._qr_data.decode("utf-8", errors="replace"), self._qr_module, self._qr_ec,
                                self._align), lines=4)

    # -- printing -----------------------------------------------------------------------------------------
    def _reset(self) -> None:
        self._codec = "cp437"
        self._bold, self._width, self._height, self._align = False, 1, 1, "left"
        self._line: list[Span] = []
        self._line_align = "left"
        self._qr_module, self._qr_ec, self._qr_data = 3, "L", b""

    def _text(self, text: str) -> None:
        for char in text:
            used = sum(len(s.text) * s.width for s in self._line)
            if used + self._width > self.columns:  # the printer wraps a line that is too long
                self._print_line()
            if not self._line:
                self._line_align = self._align
            last = self._line[-1] if self._line else None
            if last and (last.bold, last.width, last.height) == (self._bold, self._width, self._height):
                last.text += char
            else:
                self._line.append(Span(char, self._bold, self._width, self._height))

    def _flush_partial(self) -> None:
        if self._line:
            self._print_line()

    def _print_line(self, force: bool = True) -> None:
        if not force:
            return
        line = TextLine(self._line, self._line_align if self._line else self._align)
        self._line = []
        self._emit(line, lines=line.height)

    def _emit(self, item: Item, lines: int) -> None:
        if self.offline:
            # A real printer keeps the data and prints it later, after the roll is changed; here it is
            # dropped, and the receipt marked, so a test sees exactly what the payer got.
            if not self._receipt.incomplete:
                self._receipt.items.append(PaperOut("cover open" if self.cover_open else "paper out"))
            self._receipt.incomplete = True
            return
        self._receipt.items.append(item)
        if self._lines_left is not None:
            self._lines_left -= lines
            if self._lines_left <= 0:
                self.paper, self._lines_left = "out", None

    def _cut(self) -> None:
        self._flush_partial()
        receipt, self._receipt = self._receipt, PrintedReceipt()
        if self.on_receipt is not None:
            self.on_receipt(receipt)

    def take_partial(self) -> PrintedReceipt | None:
        """The receipt in progress (not yet cut), if anything has been printed or lost; it is cleared."""
        with self._lock:
            self._flush_partial()
            if not self._receipt.items:
                return None
            receipt, self._receipt = self._receipt, PrintedReceipt()
            return receipt
