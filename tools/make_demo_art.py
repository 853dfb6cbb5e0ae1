"""Draw the demo catalog's provider logos and category icons (256×256 PNG) with Pillow.

Every logo and icon is an opaque rounded square in its own colours with a white or black mark on it, so it
reads the same on the light, dark and high-contrast themes. Shapes are drawn four times larger and scaled
down, which smooths their edges (Pillow draws polygons without anti-aliasing). Run from the repository root:

    .venv/bin/python tools/make_demo_art.py [--out kiosk/data/demo]
"""

from __future__ import annotations

import argparse
import math
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "kiosk" / "data" / "demo"
BOLD = ROOT / "kiosk" / "data" / "fonts" / "DejaVuSans-Bold.ttf"
SIZE = 256
SCALE = 4  # drawn at 1024 px, then scaled down: smooth edges
BIG = SIZE * SCALE
WHITE, BLACK = (255, 255, 255), (20, 20, 20)
Colour = tuple[int, int, int]
Ink = tuple[int, int, int, int]  # RGBA: a mark may also clear pixels with alpha 0
Mark = Callable[[ImageDraw.ImageDraw, Ink], None]


def _font(px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(BOLD), px)


def wordmark(text: str, most: int = 420, width: float = 0.8, dy: float = 0.0) -> Mark:
    """A mark: text as large as fits the given share of the width, centred (dy moves it down, in sizes)."""

    def draw(d: ImageDraw.ImageDraw, ink: Ink) -> None:
        px = most
        while px > 40 and d.textlength(text, font=_font(px)) > BIG * width:
            px -= 8
        d.text((BIG / 2, BIG / 2 + dy * BIG), text, font=_font(px), fill=ink, anchor="mm")

    return draw


def _star(cx: float, cy: float, outer: float, inner: float, points: int = 5) -> list[tuple[float, float]]:
    out = []
    for i in range(points * 2):
        radius = outer if i % 2 == 0 else inner
        angle = -math.pi / 2 + math.pi * i / points
        out.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    return out


def phone(d: ImageDraw.ImageDraw, ink: Ink) -> None:
    """A mobile phone: body, screen, speaker slot and home button."""
    u = BIG / 16
    d.rounded_rectangle((5.2 * u, 2.4 * u, 10.8 * u, 13.6 * u), radius=1.1 * u, fill=ink)
    d.rectangle((6.0 * u, 4.0 * u, 10.0 * u, 11.2 * u), fill=(0, 0, 0, 0))
    d.rounded_rectangle((7.2 * u, 3.0 * u, 8.8 * u, 3.4 * u), radius=0.2 * u, fill=(0, 0, 0, 0))
    d.ellipse((7.55 * u, 11.85 * u, 8.45 * u, 12.75 * u), fill=(0, 0, 0, 0))


def house(d: ImageDraw.ImageDraw, ink: Ink) -> None:
    """A house with a lit window: roof, walls, door."""
    u = BIG / 16
    d.polygon([(8 * u, 2.6 * u), (14 * u, 8.0 * u), (2 * u, 8.0 * u)], fill=ink)
    d.rectangle((3.6 * u, 7.6 * u, 12.4 * u, 13.4 * u), fill=ink)
    d.rectangle((6.9 * u, 9.6 * u, 9.1 * u, 13.4 * u), fill=(0, 0, 0, 0))
    d.rectangle((10.2 * u, 3.6 * u, 11.6 * u, 6.4 * u), fill=ink)  # the chimney


def globe(d: ImageDraw.ImageDraw, ink: Ink) -> None:
    """A globe: a circle with meridians and parallels."""
    u = BIG / 16
    w = int(0.75 * u)
    box = (2.8 * u, 2.8 * u, 13.2 * u, 13.2 * u)
    d.ellipse(box, outline=ink, width=w)
    d.ellipse((5.6 * u, 2.8 * u, 10.4 * u, 13.2 * u), outline=ink, width=w)
    d.line((8 * u, 2.8 * u, 8 * u, 13.2 * u), fill=ink, width=w)
    d.line((2.8 * u, 8 * u, 13.2 * u, 8 * u), fill=ink, width=w)
    for y in (5.2, 10.8):
        half = math.sqrt(max(0.0, 5.2**2 - (8 - y) ** 2)) * u
        d.line((8 * u - half + w / 2, y * u, 8 * u + half - w / 2, y * u), fill=ink, width=w)


def star(d: ImageDraw.ImageDraw, ink: Ink) -> None:
    """A five-pointed star."""
    d.polygon(_star(BIG / 2, BIG * 0.53, BIG * 0.36, BIG * 0.15), fill=ink)


def bolt(d: ImageDraw.ImageDraw, ink: Ink) -> None:
    """A lightning bolt (electricity)."""
    u = BIG / 16
    d.polygon([(9.6 * u, 1.8 * u), (4.2 * u, 9.0 * u), (7.6 * u, 9.0 * u), (6.2 * u, 14.2 * u),
               (11.8 * u, 6.6 * u), (8.4 * u, 6.6 * u)], fill=ink)


def drop(d: ImageDraw.ImageDraw, ink: Ink) -> None:
    """A water drop."""
    u = BIG / 16
    d.ellipse((4.0 * u, 6.4 * u, 12.0 * u, 14.4 * u), fill=ink)
    d.polygon([(8 * u, 1.8 * u), (11.6 * u, 8.6 * u), (4.4 * u, 8.6 * u)], fill=ink)


def heart(d: ImageDraw.ImageDraw, ink: Ink) -> None:
    """A heart (the classic parametric curve: its lobes and point meet without notches)."""
    points = []
    for i in range(180):
        t = 2 * math.pi * i / 180
        x = 16 * math.sin(t) ** 3
        y = 13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)
        points.append((BIG / 2 + x * BIG / 46, BIG * 0.47 - y * BIG / 46))
    d.polygon(points, fill=ink)


def bulb(d: ImageDraw.ImageDraw, ink: Ink) -> None:
    """A light bulb: glass, neck and screw base."""
    u = BIG / 16
    d.ellipse((3.6 * u, 1.8 * u, 12.4 * u, 10.6 * u), fill=ink)
    d.polygon([(5.2 * u, 8.6 * u), (10.8 * u, 8.6 * u), (9.9 * u, 11.4 * u), (6.1 * u, 11.4 * u)], fill=ink)
    for top in (11.9, 12.9):
        d.rounded_rectangle((6.1 * u, top * u, 9.9 * u, (top + 0.6) * u), radius=0.3 * u, fill=ink)
    d.pieslice((6.9 * u, 13.0 * u, 9.1 * u, 14.6 * u), 0, 180, fill=ink)
    # the filament, cut out of the glass
    d.line([(6.6 * u, 6.4 * u), (7.3 * u, 7.6 * u), (8.0 * u, 6.4 * u), (8.7 * u, 7.6 * u), (9.4 * u, 6.4 * u)],
           fill=(0, 0, 0, 0), width=int(0.5 * u), joint="curve")


def card(d: ImageDraw.ImageDraw, ink: Ink) -> None:
    """A travel card with a contactless sign."""
    u = BIG / 16
    d.rounded_rectangle((2.4 * u, 4.2 * u, 13.6 * u, 11.8 * u), radius=1.0 * u, outline=ink, width=int(0.8 * u))
    for r in (1.2, 2.2, 3.2):
        d.arc((9.2 * u - r * u, 8 * u - r * u, 9.2 * u + r * u, 8 * u + r * u), -50, 50, fill=ink,
              width=int(0.55 * u))
    d.rectangle((4.2 * u, 6.2 * u, 6.8 * u, 8.2 * u), fill=ink)  # the chip


def coin(d: ImageDraw.ImageDraw, ink: Ink) -> None:
    """A rouble sign in a ring (a loan repayment)."""
    u = BIG / 16
    d.ellipse((2.6 * u, 2.6 * u, 13.4 * u, 13.4 * u), outline=ink, width=int(0.8 * u))
    d.text((BIG / 2, BIG / 2), "₽", font=_font(int(7.2 * u)), fill=ink, anchor="mm")


def tv(d: ImageDraw.ImageDraw, ink: Ink) -> None:
    """A television with three stripes for Tricolor, under its wordmark."""
    u = BIG / 16
    d.rounded_rectangle((2.6 * u, 3.0 * u, 13.4 * u, 10.6 * u), radius=0.8 * u, outline=ink, width=int(0.8 * u))
    for i, colour in enumerate(((255, 255, 255, 255), (0, 82, 180, 255), (220, 30, 40, 255))):
        top = 4.4 * u + i * 1.7 * u
        d.rectangle((4.2 * u, top, 11.8 * u, top + 1.5 * u), fill=colour)
    d.rectangle((6.4 * u, 11.0 * u, 9.6 * u, 11.6 * u), fill=ink)
    wordmark("Триколор", most=160, width=0.8, dy=0.3)(d, ink)


#: logo or icon id → (background, ink, mark)
ART: dict[str, tuple[Colour, Colour, Mark]] = {
    # mobile operators: brand-like colours and wordmarks
    "mts": ((227, 6, 17), WHITE, wordmark("МТС")),
    "beeline": ((255, 200, 0), BLACK, wordmark("билайн")),
    "megafon": ((0, 166, 80), WHITE, wordmark("МегаФон")),
    "t2": ((24, 24, 24), WHITE, wordmark("T2", most=520)),
    "yota": ((0, 174, 239), WHITE, wordmark("Yota")),
    # the demo's utilities, internet and other services: a pictogram or a short wordmark
    "energo": ((245, 158, 11), BLACK, bolt),
    "vodokanal": ((2, 119, 189), WHITE, drop),
    "housing": ((93, 64, 55), WHITE, house),
    "epd": ((0, 121, 107), WHITE, wordmark("ЕПД")),
    "by_details": ((55, 71, 79), WHITE, wordmark("Рекв.", most=380)),
    "rostelecom": ((112, 0, 255), WHITE, wordmark("РТК", most=380)),
    "tricolor": ((13, 42, 94), WHITE, tv),
    "domru": ((200, 16, 46), WHITE, wordmark("Дом.ру")),
    "troika": ((0, 120, 200), WHITE, card),
    "loan": ((27, 94, 32), WHITE, coin),
    "charity": ((216, 27, 96), WHITE, heart),
    # category icons
    "mobile": ((21, 101, 192), WHITE, phone),
    "utilities": ((230, 120, 20), WHITE, bulb),
    "internet": ((0, 131, 143), WHITE, globe),
    "other": ((106, 27, 154), WHITE, star),
}


def draw(background: Colour, ink: Colour, mark: Mark) -> Image.Image:
    """One 256×256 image: the rounded square in its colour with the mark cut out of or drawn on it."""
    square = Image.new("RGBA", (BIG, BIG), (0, 0, 0, 0))
    ImageDraw.Draw(square).rounded_rectangle((0, 0, BIG - 1, BIG - 1), radius=BIG // 6, fill=(*background, 255))
    # the mark is drawn on a layer of its own, so what it clears (a phone's screen) shows the square through
    layer = Image.new("RGBA", (BIG, BIG), (0, 0, 0, 0))
    mark(ImageDraw.Draw(layer), (*ink, 255))
    square.alpha_composite(layer)
    image = square.resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    # a small palette keeps each file a few kilobytes; two colours and their smoothed edges need few entries
    return image.quantize(64, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)


def catalog_art(catalog: Path) -> dict[Path, str]:
    """Every logo and icon path the catalog names (relative to its folder) → the art id drawn there."""
    data = tomllib.loads(catalog.read_text(encoding="utf-8"))
    wanted = {c["icon"]: c["id"] for c in data.get("categories", []) if c.get("icon")}
    wanted.update({p["logo"]: p["id"] for p in data.get("providers", []) if p.get("logo")})
    return {catalog.parent / path: art for path, art in wanted.items()}


def main(argv: list[str] | None = None) -> int:
    """Write every image the demo catalog names; fails if the catalog names one this script cannot draw."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", type=Path, default=DEMO / "catalog.toml", help="the catalog to draw for")
    parser.add_argument("--out", type=Path, default=None, help="folder to write into (default: the catalog's)")
    args = parser.parse_args(argv)
    targets = catalog_art(args.catalog)
    missing = sorted(set(targets.values()) - set(ART))
    if missing:
        print(f"no art for {', '.join(missing)}: add them to ART in {Path(__file__).name}", file=sys.stderr)
        return 1
    for path, art in sorted(targets.items()):
        if args.out is not None:
            path = args.out / path.relative_to(args.catalog.parent)
        path.parent.mkdir(parents=True, exist_ok=True)
        draw(*ART[art]).save(path, optimize=True)
        print(f"{path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
