"""Frame render time at 1920×1080: every screen in every theme and language redrawn in full (target p95 < 16 ms).

A frame is what the loop does when something changed: fill, draw every widget, flip. Each screen is drawn
--repeat times after a first (cold-cache) draw, which is reported separately.

    .venv/bin/python bench/ui_frame_render.py [--repeat 30] [--size 1920x1080]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_MS = 16.0


def main() -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--size", default="1920x1080")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))

    from kiosk.screens.screenshots import LANGUAGES, terminal_in, walk
    from kiosk.screens.theme import THEMES_DIR, theme_names
    from kiosk.screens.ui import KioskUI

    warm: list[float] = []
    cold: list[float] = []
    worst: tuple[float, str] = (0.0, "")
    for theme in theme_names(THEMES_DIR):
        for lang in LANGUAGES:
            with tempfile.TemporaryDirectory() as temp, terminal_in(Path(temp)) as (terminal, _clock):
                ui = KioskUI(terminal, size=size, theme=theme, lang=lang, clock=lambda: 0.0)

                def shot(name: str, ui: KioskUI = ui, theme: str = theme, lang: str = lang) -> None:
                    nonlocal worst
                    start = time.perf_counter()
                    ui.draw(force=True)
                    cold.append((time.perf_counter() - start) * 1000)
                    for _ in range(args.repeat):
                        start = time.perf_counter()
                        ui.draw(force=True)
                        took = (time.perf_counter() - start) * 1000
                        warm.append(took)
                        worst = max(worst, (took, f"{name}-{theme}-{lang}"))

                walk(ui, terminal, shot)
    warm.sort()
    p95 = warm[int(len(warm) * 0.95)]
    print(f"{len(warm)} full frames at {size[0]}x{size[1]} ({len(cold)} screens x {args.repeat})")
    print(f"render p50 {statistics.median(warm):.2f} ms, p95 {p95:.2f} ms, max {warm[-1]:.2f} ms "
          f"({worst[1]}); first draw of a screen p95 {sorted(cold)[int(len(cold) * 0.95)]:.2f} ms")
    print(f"target p95 < {TARGET_MS} ms: {'OK' if p95 < TARGET_MS else 'OVER'}")
    return 0 if p95 < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
