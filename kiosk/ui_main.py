"""`kiosk demo` and `kiosk run`: the terminal with its screens, as a demo on a desktop or in production.

The demo is the demo configuration with every durable file (journal, cassette, gateway ledgers, receipts)
in a per-run state folder, an in-process virtual validator fed from the keyboard, in-process virtual
gateways, and a virtual network printer that writes each receipt as PNG. Production (`run`) is exactly the
configuration given, full screen as configured, with no way out of the UI.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.config import Config, load_config
from kiosk.errors import KioskError
from kiosk.registry import WIRE_VALIDATORS

if TYPE_CHECKING:
    from kiosk.app import Terminal
    from kiosk.session_view import DemoPort

log = logging.getLogger(__name__)


def _escpos_cache() -> None:
    """Give python-escpos a lasting place for its parsed printer profiles.

    Without one it parses its capabilities file with YAML on every start (measured: over a second of a
    cold start on a busy two-core box, bench/ui_xvfb.py) and leaves a new temporary folder behind each time.
    """
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kiosk" / "escpos"
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # a read-only home: escpos falls back to its own temporary folder
    os.environ.setdefault("ESCPOS_CAPABILITIES_PICKLE_DIR", str(base))


_escpos_cache()

DEMO_STATE_DIR = Path("~/.local/state/kiosk/demo-ui")


def _parser(prog: str, demo: bool) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog)
    if demo:
        parser.add_argument("--state-dir", type=Path, default=DEMO_STATE_DIR,
                            help="where the demo keeps its journal, cassette, ledgers and receipts")
        parser.add_argument("--fullscreen", action="store_true", help="full screen instead of a window")
        parser.add_argument("--screenshots", type=Path, default=None,
                            help="render every screen in every theme and language to PNG files here, then exit")
        parser.add_argument("--size", default=None, type=parse_size,
                            help="window size WxH, e.g. 1366x768 (default: the configuration's, shrunk to fit "
                                 "the display with its shape kept)")
        parser.add_argument("--in-process", action="store_true",
                            help="in-process validator and gateways instead of the wire-level emulators")
        parser.add_argument("--validator-protocol", choices=WIRE_VALIDATORS, default="ccnet",
                            help="which validator emulator the demo drives through its real driver "
                                 "(default: %(default)s)")
        parser.add_argument("--printer", choices=("escpos", "fiscal"), default="escpos",
                            help="escpos: a virtual network printer writing PNGs; fiscal: an emulated Shtrih-M "
                                 "fiscal registrar (54-FZ receipts with the tax service's QR) (default: %(default)s)")
    else:
        parser.add_argument("--config", required=True, type=Path, help="terminal configuration")
    parser.add_argument("--theme", default=None, help="theme folder name (default: the configuration's)")
    parser.add_argument("--lang", default=None, help="language to start in (default: the configuration's)")
    return parser


#: the smallest window the layout is checked at (tests/screens/test_layout.py) and the largest sensible one
MIN_SIZE, MAX_SIZE = (640, 480), (7680, 4320)


def parse_size(text: str) -> tuple[int, int]:
    """A window size 'WxH' (e.g. '1366x768'); argparse shows the ValueError's words to the person."""
    match = re.fullmatch(r"\s*(\d{2,5})\s*[xX×]\s*(\d{2,5})\s*", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"expected a size like 1366x768 (width x height in pixels), got {text!r}")
    width, height = int(match[1]), int(match[2])
    if not (MIN_SIZE[0] <= width <= MAX_SIZE[0] and MIN_SIZE[1] <= height <= MAX_SIZE[1]):
        raise argparse.ArgumentTypeError(f"expected a size from {MIN_SIZE[0]}x{MIN_SIZE[1]} to "
                                         f"{MAX_SIZE[0]}x{MAX_SIZE[1]}, got {width}x{height}")
    return width, height


def check_choices(parser: argparse.ArgumentParser, args: argparse.Namespace, config: Config) -> None:
    """A --theme or --lang the terminal does not have stops here with the ones it has, not later in silence."""
    from kiosk.screens.theme import THEMES_DIR, theme_names

    themes = theme_names(config.screen.themes_dir or THEMES_DIR)
    if args.theme is not None and args.theme not in themes:
        parser.error(f"argument --theme: no theme {args.theme!r}; expected one of {', '.join(themes)}")
    if args.lang is not None and args.lang not in config.languages:
        parser.error(f"argument --lang: no language {args.lang!r} on this terminal; "
                     f"expected one of {', '.join(config.languages)}")


class _Stop:
    """SIGTERM / SIGINT end the loop cleanly (systemd stops the kiosk this way)."""

    def __init__(self) -> None:
        self.ui: Any = None
        self.requested = False  # a stop that came while the terminal was starting, before there was a loop
        self.previous = {s: signal.signal(s, self._stop) for s in (signal.SIGTERM, signal.SIGINT)}

    def _stop(self, _signum: int, _frame: object) -> None:
        self.requested = True
        if self.ui is not None:
            self.ui.exit_code = 0

    def restore(self) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def _serve(config: Config, *, demo: bool, fullscreen: bool, size: tuple[int, int] | None, theme: str | None,
           lang: str | None, demo_port: Callable[[Terminal], DemoPort] | None = None,
           demo_scan: Callable[[Terminal], Callable[[str], None]] | None = None) -> int:
    """Start the terminal and its screens; start both afresh when the service menu asks for a restart."""
    import pygame

    from kiosk.app import Terminal
    from kiosk.screens.ui import RESTART_EXIT, KioskUI

    stop = _Stop()
    try:
        while True:
            try:
                terminal = Terminal(config)
            except (KioskError, OSError) as exc:
                raise StartupFailure(exc) from exc
            try:
                try:
                    summary = terminal.start()
                except (KioskError, OSError) as exc:
                    raise StartupFailure(exc) from exc
                log.info("terminal %s started: %s", config.terminal, summary.text())
                ui = KioskUI(terminal, demo=demo, fullscreen=fullscreen, size=size, theme=theme, lang=lang,
                             insert_bill=demo_port(terminal) if demo_port is not None else None,
                             scan_sample=demo_scan(terminal) if demo_scan is not None else None)
                stop.ui = ui
                terminal.request_exit = ui.request_exit  # a remote restart ends the loop like the service menu's
                if stop.requested:
                    ui.exit_code = 0
                from kiosk.updates import health  # systemd: READY now, WATCHDOG while the loops turn

                ui.on_turn = health.make_watchdog(terminal).tick
                health.ready(terminal)
                code = ui.run()
            finally:
                stop.ui = None
                terminal.close()
            if code != RESTART_EXIT or not demo:
                return code
            log.warning("restarting the terminal from the service menu")
    finally:
        stop.restore()
        pygame.quit()


def _display_available() -> bool:
    """Whether a window can be shown: an X or Wayland display, or a video driver chosen on purpose."""
    return any(os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"))


def run_main(argv: Sequence[str] | None = None, hold: float | None = None) -> int:
    """`kiosk run --config C`: production, full screen as configured, no way out from the UI.

    A start-up failure never prints a traceback: one line, an out-of-service screen where a display works
    (kept `hold` seconds, or by default per kiosk.startup), and an exit status the systemd unit acts on.
    """
    from kiosk import startup

    parser = _parser("kiosk run", demo=False)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    terminal: str | None = None
    try:
        config = load_config(args.config)
        terminal = config.terminal
        check_choices(parser, args, config)
        return _serve(config, demo=False, fullscreen=config.screen.fullscreen, size=None, theme=args.theme,
                      lang=args.lang)
    except StartupFailure as failure:
        return startup.fail(failure.cause, terminal, _display_available(), hold)
    except (KioskError, OSError, RecursionError) as exc:  # the configuration could not be read
        return startup.fail(exc, terminal, _display_available(), hold)


class StartupFailure(Exception):
    """The terminal could not be built or started (as opposed to a fault while serving)."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


if __name__ == "__main__":
    if sys.argv[1:2] != ["run"]:
        sys.exit("usage: python -m kiosk.ui_main run [options]  (the demo: kiosk demo)")
    sys.exit(run_main(sys.argv[2:]))
