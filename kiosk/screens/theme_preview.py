"""A theme pack's preview, drawn by the terminal's own screens: attract, confirmation, cash and done, in Russian
and English, as PNG files — what the dealer service shows before a pack is assigned to a terminal.

    python -m kiosk.screens.theme_preview PACK.zip OUT_DIR

The pack is checked first (kiosk/screens/theme_pack.py) and installed into a temporary themes folder; a demo
terminal on a manual clock is walked through a payment in it (kiosk/screens/screenshots.py), headless. The
dealer service runs this in a child process: pygame's display and fonts stay out of the web server.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from kiosk.screens.theme_pack import check_pack, install_pack

MOMENTS = ("attract", "confirmation", "cash", "done")
LANGUAGES = ("ru", "en")
SIZE = (1280, 1024)
#: the pictures are shown in a browser at about half size; a full-size PNG is four times the bytes to store
PREVIEW_SIZE = (640, 512)


def render_preview(pack_bytes: bytes, out_dir: Path) -> list[Path]:
    """Every moment × language of the pack as <moment>-<lang>.png in out_dir (a ThemePackError if refused)."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    from PIL import Image

    from kiosk.screens.screenshots import render_theme_language

    pack = check_pack(pack_bytes)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    with tempfile.TemporaryDirectory(prefix="kiosk-preview-") as temp:
        themes = Path(temp) / "themes"
        folder = install_pack(pack, themes, "preview")
        for lang in LANGUAGES:
            wanted = {f"{moment}-{folder}-{lang}.png" for moment in MOMENTS}
            for shot in render_theme_language(Path(temp), folder, lang, SIZE, only=wanted, themes_dir=themes):
                moment = shot.name.split(f"-{folder}-")[0]
                with Image.open(shot) as image:
                    target = out_dir / f"{moment}-{lang}.png"
                    image.convert("RGB").resize(PREVIEW_SIZE, Image.Resampling.LANCZOS).save(target, optimize=True)
                paths.append(target)
    return sorted(paths)


def main(argv: Sequence[str] | None = None) -> int:
    """Render the preview of the pack named on the command line into the folder named after it."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m kiosk.screens.theme_preview PACK.zip OUT_DIR", file=sys.stderr)
        return 2
    import logging

    logging.disable(logging.CRITICAL)  # the walk stages a declined and an undelivered payment on purpose
    from kiosk.screens.theme_pack import ThemePackError

    try:
        for path in render_preview(Path(args[0]).read_bytes(), Path(args[1])):
            print(path)
    except ThemePackError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
