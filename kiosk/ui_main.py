"""`kiosk demo` and `kiosk run`: the terminal with its screens, as a demo on a desktop or in production.

The demo is the demo configuration with every durable file (journal, cassette, gateway ledgers, receipts)
in a per-run state folder, an in-process virtual validator fed from the keyboard, in-process virtual
gateways, and a virtual network printer that writes each receipt as PNG. Production (`run`) is exactly the
configuration given, full screen as configured, with no way out of the UI.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kiosk.config import DEMO_CONFIG, Config, Part, load_config
from kiosk.errors import KioskError

log = logging.getLogger(__name__)

DEMO_STATE_DIR = Path("~/.local/state/kiosk/demo-ui")


def demo_config(state_dir: Path, printer_port: int | None = None, base: Config | None = None) -> Config:
    """The demo configuration with every durable file inside state_dir and, given a port, a network printer."""
    config = base or load_config(DEMO_CONFIG)
    state_dir.mkdir(parents=True, exist_ok=True)
    validator = Part("validator", "virtual", {**config.validator.options, "cassette": str(state_dir / "cassette.sqlite")})
    gateways = {name: dataclasses.replace(part, options={**part.options, "ledger": str(state_dir / f"gateway-{name}.sqlite")})
                for name, part in config.gateways.items()}
    printer = (Part("printer", "network", {"host": "127.0.0.1", "port": printer_port}) if printer_port
               else config.printer)
    return dataclasses.replace(config, journal_path=state_dir / "journal.sqlite", receipts_dir=state_dir / "receipts",
                               validator=validator, gateways=gateways, printer=printer)


def _parser(prog: str, demo: bool) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog)
    if demo:
        parser.add_argument("--state-dir", type=Path, default=DEMO_STATE_DIR,
                            help="where the demo keeps its journal, cassette, ledgers and receipts")
        parser.add_argument("--fullscreen", action="store_true", help="full screen instead of a window")
        parser.add_argument("--screenshots", type=Path, default=None,
                            help="render every screen in every theme and language to PNG files here, then exit")
        parser.add_argument("--size", default=None, help="window size WxH (default: the configuration's)")
        parser.add_argument("--in-process", action="store_true",
                            help="in-process validator and gateways instead of the wire-level emulators")
    else:
        parser.add_argument("--config", required=True, type=Path, help="terminal configuration")
    parser.add_argument("--theme", default=None, help="theme folder name (default: the configuration's)")
    parser.add_argument("--lang", default=None, help="language to start in (default: the configuration's)")
    return parser


def _size(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    width, _, height = text.lower().partition("x")
    return int(width), int(height)


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
           lang: str | None, insert_bill: Any = None) -> int:
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
                             insert_bill=insert_bill)
                stop.ui = ui
                if stop.requested:
                    ui.exit_code = 0
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


def demo_main(argv: Sequence[str] | None = None) -> int:
    """`kiosk demo`: emulators and the kiosk in a window; keys 1–8 insert banknotes; receipts become PNGs."""
    args = _parser("kiosk demo", demo=True).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.screenshots is None and not _display_available():
        # A window nobody can see is no demo: show every screen as pictures instead, and say so.
        args.screenshots = args.state_dir.expanduser() / "screenshots"
        print("kiosk demo: no display here (neither DISPLAY nor WAYLAND_DISPLAY is set), so instead of a window "
              f"every screen is rendered to {args.screenshots}. For the payment flow without a display: "
              "kiosk simulate.")
    if args.screenshots is not None:
        os.environ["SDL_VIDEODRIVER"] = "dummy"
        logging.getLogger().setLevel(logging.CRITICAL)  # the walk stages faults and declines on purpose
        from kiosk.screens.screenshots import render_all

        paths = render_all(args.screenshots, size=_size(args.size), themes=[args.theme] if args.theme else None,
                           languages=[args.lang] if args.lang else None)
        print(f"{len(paths)} screenshots written to {args.screenshots}")
        return 0
    from kiosk.demo_stack import DemoStack

    state_dir = args.state_dir.expanduser()
    with DemoStack(state_dir, in_process=args.in_process) as stack:
        print(stack.describe())
        print("keys 1-8 insert 10, 50, 100, 200, 500, 1000, 2000, 5000 RUB; service: tap the terminal number "
              "five times, PIN 1234; Esc or closing the window quits")
        return _serve(stack.config, demo=True, fullscreen=args.fullscreen, size=_size(args.size),
                      theme=args.theme, lang=args.lang, insert_bill=stack.insert_bill)


def run_main(argv: Sequence[str] | None = None, hold: float | None = None) -> int:
    """`kiosk run --config C`: production, full screen as configured, no way out from the UI.

    A start-up failure never prints a traceback: one line, an out-of-service screen where a display works
    (kept `hold` seconds, or by default per kiosk.startup), and an exit status the systemd unit acts on.
    """
    from kiosk import startup

    args = _parser("kiosk run", demo=False).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    terminal: str | None = None
    try:
        config = load_config(args.config)
        terminal = config.terminal
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
    which = sys.argv[1] if len(sys.argv) > 1 else ""
    if which not in ("demo", "run"):
        sys.exit("usage: python -m kiosk.ui_main demo|run [options]")
    sys.exit((demo_main if which == "demo" else run_main)(sys.argv[2:]))
