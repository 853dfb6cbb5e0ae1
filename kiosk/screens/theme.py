"""Theme packs: a validated manifest of colours, fonts, sizes and images, switchable at run time."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from kiosk.errors import ConfigError
from kiosk.schema import Doc, load_toml

log = logging.getLogger(__name__)

THEME_VERSION = 1
DEFAULT_THEME = "default"
MANIFEST = "manifest.toml"
FONTS_DIR = Path(__file__).resolve().parent.parent / "data" / "fonts"
#: where the bundled theme packs live in a source checkout (an installed terminal passes its own folder)
THEMES_DIR = Path(__file__).resolve().parents[2] / "themes"

Colour = tuple[int, int, int]

#: (foreground, background) colour roles that the widgets draw text with; each must stay readable
TEXT_PAIRS: tuple[tuple[str, str], ...] = (
    ("text", "background"), ("text", "surface"),
    ("muted_text", "background"), ("muted_text", "surface"),
    ("accent_text", "accent"), ("accent_text", "pressed"),
    ("danger", "background"), ("danger", "surface"),
    ("success", "background"), ("success", "surface"),
)
#: shapes that must stand out from what is behind them (WCAG 1.4.11 non-text contrast)
SHAPE_PAIRS: tuple[tuple[str, str], ...] = (("focus", "background"), ("focus", "surface"), ("accent", "background"))
MIN_TEXT_CONTRAST = 4.5  # WCAG AA for body text; the public reads these screens in glare and with poor sight
MIN_SHAPE_CONTRAST = 3.0
#: smallest distance a press may move a button's colour, so pressing is visible on the very next frame
MIN_PRESSED_CONTRAST = 1.25
#: density → (minimum touch target in millimetres, spacing as a share of the base text size)
DENSITIES: Mapping[str, tuple[float, float]] = {"compact": (15.0, 0.3), "normal": (17.0, 0.45), "large": (20.0, 0.6)}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")
_FONT_MAGIC = (b"\x00\x01\x00\x00", b"OTTO", b"true")


@dataclass(frozen=True, slots=True)
class Colours:
    """The colour roles every widget draws with, as RGB triples."""

    background: Colour
    surface: Colour
    text: Colour
    muted_text: Colour
    accent: Colour
    accent_text: Colour
    danger: Colour
    success: Colour
    focus: Colour
    pressed: Colour


@dataclass(frozen=True, slots=True)
class Sizes:
    """Text sizes in pixels."""

    base: int
    title: int
    button: int
    numbers: int
    #: the least any text is drawn at, on any display: what the theme's readers can still read
    minimum: int = 20


@dataclass(frozen=True, slots=True)
class Theme:
    """A loaded, validated theme pack; paths are absolute."""

    id: str
    name: Mapping[str, str]
    folder: Path
    colours: Colours
    regular_font: Path
    bold_font: Path
    sizes: Sizes
    density: str
    logo: Path | None
    ads: tuple[Path, ...]
    ad_seconds: int

    @property
    def target_mm(self) -> float:
        """The smallest touch target this theme lays out, in millimetres (never below 15)."""
        return DENSITIES[self.density][0]

    @property
    def spacing(self) -> int:
        """The gap between widgets and the padding inside them, in pixels."""
        return max(4, round(self.sizes.base * DENSITIES[self.density][1]))


def relative_luminance(colour: Colour) -> float:
    """WCAG 2.x relative luminance of an sRGB colour (0 black … 1 white)."""

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in colour[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(first: Colour, second: Colour) -> float:
    """WCAG contrast ratio between two colours, 1.0 (none) … 21.0 (black on white)."""
    a, b = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def parse_colour(doc: Doc, key: str) -> Colour:
    """A '#RRGGBB' colour from the manifest."""
    text = doc.string(key, pattern=r"#[0-9A-Fa-f]{6}", what="a colour like '#1A2B3C'")
    return int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16)


def _has_magic(path: Path, magics: tuple[bytes, ...]) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError:
        return False
    return any(head.startswith(m) for m in magics)


def _image(doc: Doc, key: str, folder: Path, name: str) -> Path:
    path = (folder / name).resolve()
    if not path.is_relative_to(folder.resolve()):
        raise doc.error(key, f"expected a file inside the theme folder, got {name!r}")
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise doc.error(key, f"expected a PNG or JPEG image, got {name!r}")
    if not path.is_file():
        raise doc.error(key, f"image {name!r} not found in {folder}")
    if not _has_magic(path, _IMAGE_MAGIC):
        raise doc.error(key, f"{name!r} is not a PNG or JPEG image")
    return path


def _font(doc: Doc, key: str, folder: Path) -> Path:
    name = doc.string(key, pattern=r"[^/\\]+\.(ttf|otf|TTF|OTF)", what="a font file name like 'DejaVuSans.ttf'")
    for base in (folder, FONTS_DIR):
        if (base / name).is_file():
            if not _has_magic(base / name, _FONT_MAGIC):
                raise doc.error(key, f"{base / name} is not a TrueType or OpenType font")
            return (base / name).resolve()
    raise doc.error(key, f"font {name!r} not found in the theme folder or in {FONTS_DIR}")


def _colours(doc: Doc) -> Colours:
    doc.unknown_keys({f.name for f in fields(Colours)})
    colours = Colours(**{f.name: parse_colour(doc, f.name) for f in fields(Colours)})
    for pairs, minimum, kind in ((TEXT_PAIRS, MIN_TEXT_CONTRAST, "text"), (SHAPE_PAIRS, MIN_SHAPE_CONTRAST, "shape")):
        for fore, back in pairs:
            ratio = contrast_ratio(getattr(colours, fore), getattr(colours, back))
            if ratio < minimum:
                raise doc.error(fore, f"{kind} contrast against {doc.key(back)} is {ratio:.2f}:1; "
                                      f"expected at least {minimum}:1")
    if contrast_ratio(colours.pressed, colours.accent) < MIN_PRESSED_CONTRAST:
        raise doc.error("pressed", f"too close to {doc.key('accent')}; a press would not show "
                                   f"(expected a contrast of at least {MIN_PRESSED_CONTRAST}:1 between them)")
    return colours


def _sizes(doc: Doc) -> Sizes:
    doc.unknown_keys({"base", "title", "button", "numbers", "minimum"})
    # 24 px is about 18 pt: WCAG's "large text", the least a hurried payer in the cold should have to read
    # at the reference display; on a smaller one text scales down, never under `minimum`
    base = doc.integer("base", minimum=24, maximum=96)
    return Sizes(base=base, title=doc.integer("title", minimum=base, maximum=160),
                 button=doc.integer("button", minimum=base, maximum=160),
                 numbers=doc.integer("numbers", minimum=base, maximum=200),
                 minimum=doc.integer("minimum", 20, minimum=16, maximum=base))


def read_theme(folder: str | Path) -> Theme:
    """Load and validate one theme folder strictly, raising ConfigError on any problem."""
    folder = Path(folder)
    manifest = folder / MANIFEST
    root = Doc(manifest, load_toml(manifest, "theme manifest"))
    root.unknown_keys({"version", "name", "density", "logo", "ads", "ad_seconds", "colours", "fonts", "sizes"})
    version = root.integer("version")
    if version != THEME_VERSION:
        raise root.error("version", f"expected {THEME_VERSION}, got {version}")
    fonts = root.table("fonts")
    fonts.unknown_keys({"regular", "bold"})
    density = root.string("density", "normal", pattern="|".join(DENSITIES), what=f"one of {sorted(DENSITIES)}")
    logo = root.string("logo", "")
    ads = root.strings("ads", [])
    return Theme(
        id=folder.name,
        name=root.texts("name"),
        folder=folder.resolve(),
        colours=_colours(root.table("colours")),
        regular_font=_font(fonts, "regular", folder),
        bold_font=_font(fonts, "bold", folder),
        sizes=_sizes(root.table("sizes")),
        density=density,
        logo=_image(root, "logo", folder, logo) if logo else None,
        ads=tuple(_image(root, f"ads[{i}]", folder, name) for i, name in enumerate(ads)),
        ad_seconds=root.integer("ad_seconds", 8, minimum=2, maximum=600),
    )


#: the last resort when even the default pack is broken: bundled fonts, plain colours, no images
BUILTIN_THEME = Theme(
    id="builtin", name={"ru": "Встроенная", "en": "Built-in"}, folder=FONTS_DIR,
    colours=Colours(background=(255, 255, 255), surface=(238, 238, 238), text=(0, 0, 0), muted_text=(68, 68, 68),
                    accent=(0, 68, 170), accent_text=(255, 255, 255), danger=(170, 0, 0), success=(0, 102, 0),
                    focus=(204, 102, 0), pressed=(0, 34, 85)),
    regular_font=FONTS_DIR / "DejaVuSans.ttf", bold_font=FONTS_DIR / "DejaVuSans-Bold.ttf",
    sizes=Sizes(base=28, title=40, button=32, numbers=48), density="normal", logo=None, ads=(), ad_seconds=8,
)


def load_theme(themes_dir: str | Path, name: str, more_dirs: Sequence[Path] = ()) -> Theme:
    """The named theme; a missing or broken one is logged and replaced by `default` (then the built-in one)."""
    for candidate in dict.fromkeys((name, DEFAULT_THEME)):
        try:
            return read_theme(_folder(themes_dir, candidate, more_dirs))
        except ConfigError as exc:
            log.error("theme %r cannot be used, falling back: %s", candidate, exc)
    return BUILTIN_THEME


def _folder(themes_dir: str | Path, name: str, more_dirs: Sequence[Path] = ()) -> Path:
    # a theme name comes from configuration pushed by the dealer; it must not walk out of the themes folder
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise ConfigError(str(themes_dir), "", f"expected a theme folder name, got {name!r}")
    # packs the dealer delivered (kiosk/dealer_link/themes.py) live in the terminal's state folder
    for folder in more_dirs:
        if (Path(folder) / name / MANIFEST).is_file():
            return Path(folder) / name
    return Path(themes_dir) / name


def theme_names(themes_dir: str | Path) -> list[str]:
    """Folders of themes_dir that hold a manifest, sorted."""
    base = Path(themes_dir)
    return sorted(p.name for p in base.iterdir() if (p / MANIFEST).is_file()) if base.is_dir() else []


Listener = Callable[[Theme], None]


class ThemeManager:
    """Holds the current theme and tells listeners when it changes; call it from the UI thread."""

    def __init__(self, themes_dir: str | Path, name: str = DEFAULT_THEME, more_dirs: Sequence[Path] = ()) -> None:
        self.themes_dir = Path(themes_dir)
        self.more_dirs = tuple(more_dirs)  # delivered packs, looked up first
        self.current = load_theme(self.themes_dir, name, self.more_dirs)
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call listener(theme) after every switch; returns a function that unsubscribes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def switch(self, name: str) -> bool:
        """Make the named theme current; a broken one is logged and the working current theme stays."""
        try:
            theme = read_theme(_folder(self.themes_dir, name, self.more_dirs))
        except ConfigError as exc:
            # unlike start-up, a working theme is on screen: keep it rather than jump to the default
            log.error("cannot switch to theme %r, keeping %r: %s", name, self.current.id, exc)
            return False
        self.current = theme
        for listener in list(self._listeners):
            try:
                listener(theme)
            except Exception:
                # one faulty screen must not stop the others from following the switch
                log.exception("theme listener %r failed", listener)
        return True
