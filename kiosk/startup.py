"""When `kiosk run` cannot start: one clear line, an out-of-service screen, and an exit status systemd acts on.

A traceback on a street terminal helps nobody and, with Restart=always, becomes a crash loop behind a black
screen. Instead the error is said once, the screen says the terminal is out of service (with the reason and
the terminal number, so a passer-by can report it), and the exit status tells systemd what to do:

- 78 (EX_CONFIG): the configuration or the journal needs a person; restarting cannot help. The unit has
  RestartPreventExitStatus=78, and the out-of-service screen stays up until the service is stopped.
- 69 (EX_UNAVAILABLE) / 74 (EX_IOERR): a device or the disk is not usable now but may come back (a USB cable, a
  full disk cleaned up). The screen stays up for a while first, so restarts come at most that often.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path

from kiosk.errors import ConfigError, DeviceError, JournalError, KioskError, SchemaTooNewError

log = logging.getLogger(__name__)

EXIT_UNAVAILABLE = 69  # EX_UNAVAILABLE
EXIT_SOFTWARE = 70  # EX_SOFTWARE
EXIT_IOERR = 74  # EX_IOERR
EXIT_CONFIG = 78  # EX_CONFIG — systemd: RestartPreventExitStatus=78
TRANSIENT_HOLD_SECONDS = 60.0  # the screen stays this long before a restart is asked for
FONT = Path(__file__).resolve().parent / "data" / "fonts" / "DejaVuSans.ttf"
BOLD = Path(__file__).resolve().parent / "data" / "fonts" / "DejaVuSans-Bold.ttf"


def exit_status(exc: BaseException) -> int:
    """What systemd should do about this start-up failure, as an exit status."""
    if isinstance(exc, ConfigError | SchemaTooNewError | RecursionError):
        return EXIT_CONFIG
    if isinstance(exc, JournalError):
        text = str(exc).lower()
        if any(word in text for word in ("full", "read-only", "readonly", "not writable", "disk i/o")):
            return EXIT_IOERR
        return EXIT_CONFIG  # a lost or foreign journal needs a person
    if isinstance(exc, DeviceError):
        return EXIT_UNAVAILABLE
    if isinstance(exc, OSError):
        return EXIT_IOERR
    return EXIT_SOFTWARE


def one_line(exc: BaseException) -> str:
    """The error as one line (never empty)."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def fail(exc: BaseException, terminal: str | None, display: bool, hold: float | None = None) -> int:
    """Say why the terminal cannot start, show it on the screen when there is one, return the exit status."""
    status = exit_status(exc)
    line = one_line(exc)
    print(f"kiosk run: error: {line}", file=sys.stderr)
    log.error("cannot start (exit status %d): %s", status, line, exc_info=not isinstance(exc, KioskError))
    if display:
        if hold is None:
            hold = None if status == EXIT_CONFIG else TRANSIENT_HOLD_SECONDS
        try:
            show_out_of_service(line, terminal, hold)
        except Exception as screen_exc:  # no screen is no reason to hide the real error
            log.warning("could not show the out-of-service screen: %s", one_line(screen_exc))
    return status


def screen_lines(reason: str, terminal: str | None) -> list[tuple[str, bool]]:
    """What the out-of-service screen says: (text, bold) lines, in Russian and English."""
    number = terminal or "—"
    return [("Терминал не работает", True), ("Out of service", True), ("", False),
            (f"Терминал № {number} · Terminal {number}", False),
            ("Деньги не принимаются. Сообщите в службу поддержки. No payments are taken; please tell support.",
             False), ("", False), (f"Причина / reason: {reason}", False)]


def show_out_of_service(reason: str, terminal: str | None, hold: float | None) -> None:
    """Full screen, plain and readable; stays until SIGTERM/SIGINT, or for `hold` seconds when given."""
    import pygame

    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGTERM, signal.SIGINT)}
    pygame.display.init()
    pygame.font.init()
    try:
        flags = 0 if os.environ.get("SDL_VIDEODRIVER") == "dummy" else pygame.FULLSCREEN
        surface = pygame.display.set_mode((0, 0) if flags else (1280, 1024), flags)
        render(surface, screen_lines(reason, terminal))
        pygame.display.flip()
        waited = 0.0
        while not stop.is_set() and (hold is None or waited < hold):
            pygame.event.pump()  # keep the compositor convinced we are alive
            stop.wait(0.2)
            waited += 0.2
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        pygame.quit()


def render(surface: object, lines: list[tuple[str, bool]]) -> list[str]:
    """Draw the lines centred on a dark background, wrapping long ones; returns the lines as drawn."""
    import pygame

    assert isinstance(surface, pygame.Surface)
    width, height = surface.get_size()
    surface.fill((30, 30, 36))
    size = max(18, height // 24)
    fonts = {True: pygame.font.Font(str(BOLD), size * 2), False: pygame.font.Font(str(FONT), size)}
    drawn: list[str] = []
    for text, bold in lines:
        drawn += _wrap(text, fonts[bold], width * 9 // 10) if text else [""]
    y = max(0, (height - sum(fonts[False].get_linesize() for _ in drawn)) // 3)
    for text in drawn:
        font = fonts[any(text == line and bold for line, bold in lines)]
        image = font.render(text, True, (240, 240, 240))
        surface.blit(image, ((width - image.get_width()) // 2, y))
        y += font.get_linesize()
    return drawn


def _wrap(text: str, font: object, width: int) -> list[str]:
    out, line = [], ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if line and font.size(candidate)[0] > width:  # type: ignore[attr-defined]
            out.append(line)
            line = word
        else:
            line = candidate
    return out + [line]
