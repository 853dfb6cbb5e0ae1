"""Receipt model → ESC/POS bytes through python-escpos, laid out for one printer model's paper and code page.

Printer differences are data (`PrinterModel`), not subclasses: paper width in columns and dots, the code page,
whether QR codes are drawn by the printer (GS ( k) or sent as a raster image (GS v 0), and how it cuts.
"""

from __future__ import annotations

import atexit
import dataclasses
import importlib
import importlib.util
import json
import os
import pickle
import platform
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal


def _prime_escpos_profiles() -> None:
    """Give python-escpos its printer database already parsed, before it loads.

    On import it reads its 1 MB capabilities.json with a pure-Python YAML parser (0.4 s of every cold start,
    issue 11) unless a pickle of it is in ESCPOS_CAPABILITIES_PICKLE_DIR. The file is JSON: parsed with json
    it is the same data in a few milliseconds. A folder the environment names (the kiosk's lasting cache,
    shared by every process) gets the pickle written whole and renamed into place, so no process ever reads
    one half-written; without one, this process's own folder is set only while escpos loads (a child process
    must not inherit a folder this one deletes at exit).
    """
    if "escpos.capabilities" in sys.modules:
        return
    spec = importlib.util.find_spec("escpos")
    if spec is None or spec.origin is None:
        return
    source = Path(spec.origin).parent / "capabilities.json"
    if not source.is_file():
        return  # escpos reads it from elsewhere (a zip): let it do its own loading
    shared = os.environ.get("ESCPOS_CAPABILITIES_PICKLE_DIR")
    folder = Path(shared) if shared else Path(tempfile.mkdtemp(prefix="kiosk-escpos-"))
    pickled = folder / f"{platform.python_version()}.capabilities.pickle"
    try:
        # escpos parses (and rewrites in place) a pickle older than its source: keep ours newer
        if _stale(pickled, source):
            partial = folder / f".{pickled.name}.{os.getpid()}.tmp"
            partial.write_bytes(pickle.dumps(json.loads(source.read_bytes()), protocol=2))
            os.replace(partial, pickled)
    except OSError:
        if not shared:
            raise
        return  # a cache folder we cannot write: escpos falls back to its own loading
    if shared:
        importlib.import_module("escpos.capabilities")
        return
    os.environ["ESCPOS_CAPABILITIES_PICKLE_DIR"] = str(folder)
    try:
        importlib.import_module("escpos.capabilities")
    finally:
        del os.environ["ESCPOS_CAPABILITIES_PICKLE_DIR"]


def _stale(pickled: Path, source: Path) -> bool:
    """Whether the pickle is missing, older than its source, or unreadable (cut short by an older writer)."""
    if not pickled.is_file() or pickled.stat().st_mtime <= source.stat().st_mtime:
        return True
    try:
        pickle.loads(pickled.read_bytes())  # noqa: S301 - our own cache file, in a folder only we write
    except Exception:  # noqa: BLE001 - any damage means: write it again
        return True
    return False


_prime_escpos_profiles()
from escpos import capabilities  # noqa: E402 - after its database is primed
from escpos.capabilities import NotSupported, get_profile  # noqa: E402
from escpos.constants import QR_ECLEVEL_M  # noqa: E402
from escpos.printer import Dummy  # noqa: E402

from kiosk.receipt import Block, Cut, Feed, Qr, Receipt, Row, Separator, Text  # noqa: E402

# python-escpos caches its profile database in a fresh temp dir per process unless told where; a kiosk runs
# for months, so remove ours at exit instead of leaving one behind on every start.
if "ESCPOS_CAPABILITIES_PICKLE_DIR" not in os.environ:
    atexit.register(shutil.rmtree, capabilities.pickle_dir, True)

INIT = b"\x1b@"


@dataclass(frozen=True, slots=True)
class PrinterModel:
    """What the renderer must know about a printer: paper, code page, QR and cutter."""

    name: str
    escpos_profile: str  # a python-escpos capability profile name
    columns: int  # characters per line in font A
    dots: int  # printable width in dots
    code_page: str = "CP866"
    code_page_number: int | None = None  # ESC t n; default: the lowest slot the escpos profile lists
    qr: Literal["native", "image"] = "native"
    qr_module: int = 6  # dots per QR module
    cut: Literal["partial", "full", "none"] = "partial"


MODELS: dict[str, PrinterModel] = {
    # 58 mm kiosk printers: 32 columns, 384 dots; many clones lack GS ( k, so the QR goes as an image.
    "generic-58": PrinterModel("generic-58", "POS-5890", 32, 384, qr="image", qr_module=5),
    "generic-80-42": PrinterModel("generic-80-42", "TM-T88V", 42, 512),
    "generic-80-48": PrinterModel("generic-80-48", "TM-T20II", 48, 576),
}


def printer_model(name: str, **overrides: object) -> PrinterModel:
    """A known model by name, optionally adjusted (columns, code_page, qr …); ValueError names what is wrong."""
    try:
        model = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown printer model {name!r}; known: {', '.join(sorted(MODELS))}") from None
    if overrides:
        fields = {f.name for f in dataclasses.fields(PrinterModel)} - {"name"}
        unknown = set(overrides) - fields
        if unknown:
            raise ValueError(f"unknown printer model option(s) {sorted(unknown)}; known: {sorted(fields)}")
        model = dataclasses.replace(model, **overrides)  # type: ignore[arg-type]
    check_model(model)
    return model


def check_model(model: PrinterModel) -> None:
    """Refuse a model the escpos profile cannot honour, at start-up rather than mid-receipt."""
    try:
        profile = get_profile(model.escpos_profile)
    except KeyError:
        raise ValueError(f"unknown python-escpos profile {model.escpos_profile!r}") from None
    if model.code_page not in profile.get_code_pages():
        raise ValueError(f"profile {model.escpos_profile} has no code page {model.code_page}")
    if not 16 <= model.columns <= 80 or model.dots < model.columns * 8:
        raise ValueError(f"implausible paper: {model.columns} columns on {model.dots} dots")
    if model.qr not in ("native", "image") or model.cut not in ("partial", "full", "none"):
        raise ValueError(f"qr must be native|image and cut partial|full|none, got {model.qr}/{model.cut}")


# Characters the model may contain that CP866 (and most printer code pages) lacks; ₽ depends on language.
_SUBSTITUTES = str.maketrans({"«": '"', "»": '"', "„": '"', "“": '"', "”": '"', "‘": "'", "’": "'",
                              "—": "-", "–": "-", "−": "-", "…": "...", "\u00a0": " ", "\u202f": " ",
                              "\u2009": " "})
_ROUBLE = {"ru": "руб.", "en": "RUB"}


def paper_text(text: str, lang: str, codec: str) -> str:
    """The text as the printer can show it: typographic marks simplified, ₽ spelled out, the rest '?'."""
    text = text.translate(_SUBSTITUTES).replace("₽", _ROUBLE.get(lang, "RUB"))
    # Replace the unprintable here, not in the encoder, so layout counts exactly the characters printed.
    return text.encode(codec, errors="replace").decode(codec)


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        while len(word) > width:  # a word longer than the line is split hard
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:width])
            word = word[width:]
        if not current:
            current = word
        elif len(current) + 1 + len(word) <= width:
            current += " " + word
        else:
            lines.append(current)
            current = word
    if current or not lines:
        lines.append(current)
    return lines


@dataclass(frozen=True, slots=True)
class Line:
    """One printed line of text with its style."""

    text: str
    bold: bool = False
    size: str = "normal"
    align: str = "left"


def layout(block: Text | Row | Separator, columns: int, lang: str, codec: str) -> list[Line]:
    """Lines for one text block at a paper width (double-width text gets half the columns)."""
    if isinstance(block, Separator):
        return [Line(block.char[:1] * columns)]
    if isinstance(block, Text):
        width = columns // 2 if block.size == "large" else columns
        return [Line(part, block.bold, block.size, block.align)
                for part in _wrap(paper_text(block.text, lang, codec), width)]
    key, value = paper_text(block.key, lang, codec), paper_text(block.value, lang, codec)
    if len(key) + 1 + len(value) <= columns:
        return [Line(key + " " * (columns - len(key) - len(value)) + value, block.bold)]
    # Too long for one line: the label, then the value flush right beneath it.
    lines = [Line(part, block.bold) for part in _wrap(key, columns)]
    lines += [Line(part.rjust(columns), block.bold) for part in _wrap(value, columns)]
    return lines


class EscposRenderer:
    """Encodes receipts for one printer model; segments let the driver check paper between parts."""

    def __init__(self, model: PrinterModel) -> None:
        check_model(model)
        self.model = model
        self._codec = model.code_page.lower()
        profile = get_profile(model.escpos_profile)
        # The cutter is a property of our model; some escpos profiles (58 mm clones) list none.
        features = dict(profile.features)
        features["paperPartCut"] = model.cut == "partial"
        features["paperFullCut"] = model.cut == "full"
        profile.profile_data = {**profile.profile_data, "features": features}
        self._profile = profile
        self._page_number = model.code_page_number if model.code_page_number is not None else min(
            int(n) for n, page in profile.codePages.items() if page == model.code_page)

    def render(self, receipt: Receipt) -> bytes:
        """The whole receipt as one ESC/POS byte string."""
        return b"".join(self.segments(receipt))

    def segments(self, receipt: Receipt) -> list[bytes]:
        """The receipt as a list of byte strings, one per block, the first one resetting the printer."""
        return list(self._iter_segments(receipt))

    def _iter_segments(self, receipt: Receipt) -> Iterator[bytes]:
        dummy = Dummy(profile=self.model.escpos_profile)
        dummy.profile = self._profile  # python-escpos accepts only names or its own Profile class
        dummy._raw(INIT)
        # Fix the code page once, by the number this model uses: python-escpos's automatic switching could
        # pick a table this printer does not really have.
        dummy._raw(b"\x1bt" + bytes([self._page_number]))
        dummy.magic.encoding = self.model.code_page
        dummy.magic.disabled = True
        style = ("left", False, "normal")
        for block in receipt.blocks:
            style = self._block(dummy, block, receipt.lang, style)
            yield dummy.output
            dummy.clear()

    def _block(self, p: Dummy, block: Block, lang: str, style: tuple[str, bool, str]) -> tuple[str, bool, str]:
        if isinstance(block, Feed):
            p._raw(b"\n" * block.lines)
        elif isinstance(block, Cut):
            if self.model.cut == "none":
                p.print_and_feed(6)
            else:
                p.cut(mode="PART" if self.model.cut == "partial" else "FULL")
        elif isinstance(block, Qr):
            style = self._style(p, style, ("center", False, "normal"))
            try:
                if self.model.qr == "native":
                    p.qr(block.payload, ec=QR_ECLEVEL_M, size=self.model.qr_module, native=True)
                    p._raw(b"\n")
                else:
                    p.qr(block.payload, ec=QR_ECLEVEL_M, size=self.model.qr_module, native=False, center=True)
            except NotSupported as exc:
                raise ValueError(f"printer model {self.model.name} cannot print a QR code: {exc}") from exc
        else:
            for line in layout(block, self.model.columns, lang, self._codec):
                style = self._style(p, style, (line.align, line.bold, line.size))
                p.text(line.text)
                p._raw(b"\n")
        return style

    @staticmethod
    def _style(p: Dummy, old: tuple[str, bool, str], new: tuple[str, bool, str]) -> tuple[str, bool, str]:
        # Only changes are sent: shorter jobs, and golden files that show intent rather than noise.
        if new[2] != old[2]:
            # GS ! (custom size) rather than ESC !, which would also reset emphasis behind our back.
            p.set(custom_size=True, width=2 if new[2] == "large" else 1, height=1 if new[2] == "normal" else 2)
        if new[1] != old[1]:
            p.set(bold=new[1])
        if new[0] != old[0]:
            p.set(align=new[0])
        return new
