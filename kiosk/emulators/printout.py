"""What the virtual printer's paper looks like: a printed receipt as plain text and as a PNG."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageFont

from kiosk.emulators.escpos_interpreter import PaperOut, PrintedReceipt, QrSymbol, Raster, TextLine

LINE_DOTS = 30  # font A is 12 x 24 dots; the default line spacing adds 6
CELL_HEIGHT = 24
MARGIN = 16
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/share/fonts/TTF",
             str(Path(__file__).resolve().parent.parent / "data" / "fonts"))
_QR_EC = {"L": qrcode.constants.ERROR_CORRECT_L, "M": qrcode.constants.ERROR_CORRECT_M,
          "Q": qrcode.constants.ERROR_CORRECT_Q, "H": qrcode.constants.ERROR_CORRECT_H}


def _pad(text_width: int, columns: int, align: str) -> int:
    spare = max(columns - text_width, 0)
    return {"center": spare // 2, "right": spare}.get(align, 0)


def to_text(receipt: PrintedReceipt, columns: int) -> str:
    """The receipt as text, one printed line per line; double-width characters still take one character."""
    out: list[str] = []
    for item in receipt.items:
        if isinstance(item, TextLine):
            cells = sum(len(s.text) * s.width for s in item.spans)
            out.append((" " * _pad(cells, columns, item.align) + item.text).rstrip())
        elif isinstance(item, QrSymbol):
            out.append(f"[QR {item.payload}]")
        elif isinstance(item, Raster):
            out.append(f"[IMAGE {item.width}x{item.height}]")
        elif isinstance(item, PaperOut):
            out.append(f"[{item.reason.upper()}: NOTHING BELOW WAS PRINTED]")
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n"


@cache
def _font(bold: bool) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    name = "DejaVuSansMono-Bold.ttf" if bold else "DejaVuSansMono.ttf"
    for folder in FONT_DIRS:
        path = os.path.join(folder, name)
        if os.path.exists(path):
            return ImageFont.truetype(path, 20)  # 20 px DejaVu Sans Mono advances 12 px: font A's cell
    # Without a TTF the picture still shows layout, though Pillow's built-in font may lack Cyrillic.
    return ImageFont.load_default(20)


def _text_line(item: TextLine, cell: int, columns: int) -> Image.Image:
    height = CELL_HEIGHT * item.height
    image = Image.new("L", (cell * columns, height + LINE_DOTS - CELL_HEIGHT), 255)
    cells = sum(len(s.text) * s.width for s in item.spans)
    x = _pad(cells, columns, item.align) * cell
    for span in item.spans:
        font = _font(span.bold)
        for char in span.text:
            glyph = Image.new("L", (cell, CELL_HEIGHT), 255)
            ImageDraw.Draw(glyph).text((cell / 2, CELL_HEIGHT - 4), char, font=font, fill=0, anchor="ms")
            if span.width != 1 or span.height != 1:
                glyph = glyph.resize((cell * span.width, CELL_HEIGHT * span.height), Image.Resampling.NEAREST)
            # Characters of different heights share a baseline, as on paper.
            image.paste(glyph, (x, height - glyph.height))
            x += cell * span.width
    return image


def _raster(item: Raster) -> Image.Image:
    bitmap = Image.frombytes("1", (item.width, item.height), item.data)
    # ESC/POS sends 1 for a black dot; Pillow's mode "1" means white.
    return bitmap.convert("L").point(lambda v: 255 - v)


def _qr(item: QrSymbol) -> Image.Image:
    code = qrcode.QRCode(error_correction=_QR_EC.get(item.ec, _QR_EC["L"]), box_size=item.module, border=0)
    code.add_data(item.payload.encode("utf-8"))
    code.make(fit=True)
    return code.make_image().get_image().convert("L")


def to_png_image(receipt: PrintedReceipt, columns: int, dots: int) -> Image.Image:
    """The receipt drawn on a strip of paper `dots` wide (plus margins)."""
    cell = dots // columns
    parts: list[tuple[Image.Image, str]] = []
    for item in receipt.items:
        if isinstance(item, TextLine):
            parts.append((_text_line(item, cell, columns), "left"))
        elif isinstance(item, Raster):
            parts.append((_raster(item), item.align))
        elif isinstance(item, QrSymbol):
            parts.append((_qr(item), item.align))
        elif isinstance(item, PaperOut):
            mark = Image.new("L", (dots, LINE_DOTS * 2), 255)
            draw = ImageDraw.Draw(mark)
            draw.line((0, LINE_DOTS, dots, LINE_DOTS), fill=0, width=3)
            draw.text((dots // 2, LINE_DOTS - 4), f"~ {item.reason} ~", font=_font(True), fill=0, anchor="ms")
            parts.append((mark, "left"))
    height = sum(p.height for p, _ in parts) + 2 * MARGIN
    page = Image.new("L", (dots + 2 * MARGIN, max(height, 2 * MARGIN + LINE_DOTS)), 255)
    y = MARGIN
    for part, align in parts:
        width = min(part.width, dots)
        x = MARGIN + _pad(width, dots, align)
        page.paste(part, (x, y))
        y += part.height
    return page


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file so a reader sees either nothing or all of it."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def save(receipt: PrintedReceipt, folder: Path, stem: str, columns: int, dots: int) -> tuple[Path, Path]:
    """Write stem.txt and stem.png into folder, atomically; returns both paths."""
    import io

    txt, png = folder / f"{stem}.txt", folder / f"{stem}.png"
    write_atomic(txt, to_text(receipt, columns).encode("utf-8"))
    buffer = io.BytesIO()
    to_png_image(receipt, columns, dots).save(buffer, format="PNG", optimize=True)
    write_atomic(png, buffer.getvalue())
    return txt, png
