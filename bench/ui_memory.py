"""Resident memory of the kiosk after showing every screen in every theme and language (target < 150 MB).

One process, one real Terminal and one window at 1920x1080, as on a terminal: every screen is walked in
each theme and language, switched at run time as the service menu and the payer switch them; reports the
peak resident set size (ru_maxrss) and the current one.

    .venv/bin/python bench/ui_memory.py [--size 1920x1080]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_MB = 150.0


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="1920x1080")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))

    from kiosk.screens.screenshots import LANGUAGES, terminal_in, walk
    from kiosk.screens.theme import THEMES_DIR, theme_names
    from kiosk.screens.ui import KioskUI

    screens = 0
    with tempfile.TemporaryDirectory() as temp, terminal_in(Path(temp)) as (terminal, _clock):
        ui = KioskUI(terminal, size=size, clock=lambda: 0.0)

        def shot(name: str) -> None:
            nonlocal screens
            screens += 1
            ui.draw(force=True)

        for theme in theme_names(THEMES_DIR):
            for lang in LANGUAGES:
                ui.themes.switch(theme)
                ui.set_language(lang)
                walk(ui, terminal, shot)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{screens} screens shown at {size[0]}x{size[1]}: resident now {_rss_mb():.1f} MB, peak {peak:.1f} MB")
    print(f"target < {TARGET_MB} MB: {'OK' if peak < TARGET_MB else 'OVER'}")
    return 0 if peak < TARGET_MB else 1


if __name__ == "__main__":
    sys.exit(main())
