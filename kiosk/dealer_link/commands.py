"""Remote commands on the terminal: the registry of what each kind does (`HANDLERS`; other parts register their own
kinds, e.g. `sync_now`) and the built-in kinds. Anything that must not happen during a payment (lock, unlock,
restart, reboot, screenshot, a test receipt) runs on the UI thread between payments; reports run where they are."""

from __future__ import annotations

import io
import json
import logging
import shlex
import subprocess
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from kiosk.offline_queue.files import write_atomically

if TYPE_CHECKING:
    from kiosk.app import Terminal

log = logging.getLogger(__name__)
T = TypeVar("T")
LOCK_FILE = "lock.json"  # beside the link identity: a lock outlives restarts
DEFAULT_REBOOT = ("systemctl", "reboot")
LOG_RING = 2000  # log lines kept in memory for `log_tail`


class CommandFailed(Exception):
    """A command that could not be carried out; `error` is a short code, the message says why."""

    def __init__(self, error: str, detail: str) -> None:
        super().__init__(detail)
        self.error, self.detail = error, detail


@dataclass
class CommandContext:
    """What a handler may use: the terminal, where the link keeps its files, and a way to wait for the end of a
    payment. A screenshot handler puts its PNG in `attachment`."""

    terminal: Terminal
    command_id: str
    kind: str
    folder: Path
    stopping: threading.Event
    reboot_command: tuple[str, ...] = DEFAULT_REBOOT
    attachment: bytes | None = None
    exiting: Callable[[], None] = field(default=lambda: None)  # journals that the process now ends on purpose

    def between_payments(self, label: str, work: Callable[[], T]) -> T:
        """Run `work` on the UI thread as soon as no payment is in progress; its value (or its exception)."""
        done = threading.Event()
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["value"] = work()
            except Exception as exc:  # handed to the waiting command, which reports it
                box["error"] = exc
            finally:
                done.set()

        self.terminal.between_payments(f"{label} (command {self.command_id})", run)
        while not done.wait(0.2):
            if self.stopping.is_set() and not done.wait(0.5):
                # the screen loop has stopped: the work never ran and never will in this process
                raise CommandFailed("stopped", "the terminal stopped before it could run the command")
        if "error" in box:
            raise box["error"]
        value: T = box["value"]
        return value


Handler = Callable[[CommandContext, dict[str, Any]], dict[str, Any]]


def _now() -> str:
    return datetime.now(UTC).isoformat()


# -- lock ---------------------------------------------------------------------------------------------------------

def saved_lock(folder: Path) -> str | None:
    """The dealer's lock message kept on disk, None when the terminal is not locked."""
    try:
        data = json.loads((folder / LOCK_FILE).read_text())
    except FileNotFoundError:
        return None
    except ValueError:
        return ""  # a damaged lock file still means locked: the safe reading
    return str(data.get("message", ""))


def restore_lock(terminal: Terminal, folder: Path) -> bool:
    """At start-up: a terminal the dealer locked stays locked (applied before the first payer can start)."""
    message = saved_lock(folder)
    if message is None:
        return False
    terminal.between_payments("restore the dealer's lock", lambda: terminal.session.lock(message))
    return True


def lock(ctx: CommandContext, args: dict[str, Any]) -> dict[str, Any]:
    """Out of service with the dealer's message, once the current payment (if any) has ended; kept over restarts."""
    message = str(args.get("message", ""))[:200]

    def work() -> None:
        # written before the screen changes: a crash in between still comes back locked
        write_atomically(ctx.folder / LOCK_FILE, json.dumps({"message": message, "command": ctx.command_id,
                                                             "at": _now()}).encode())
        ctx.terminal.session.lock(message)

    ctx.between_payments("lock", work)
    return {"locked": True, "message": message, "state": ctx.terminal.session.state, "at": _now()}


def unlock(ctx: CommandContext, args: dict[str, Any]) -> dict[str, Any]:
    """End the dealer's lock: the terminal takes payments again (unless a device fault keeps it out of service)."""

    def work() -> None:
        (ctx.folder / LOCK_FILE).unlink(missing_ok=True)
        ctx.terminal.session.unlock()

    ctx.between_payments("unlock", work)
    session = ctx.terminal.session
    return {"locked": False, "state": session.state, "fault": session.fault, "at": _now()}


# -- restart and reboot -------------------------------------------------------------------------------------------

def restart(ctx: CommandContext, args: dict[str, Any]) -> dict[str, Any]:
    """End the application after the current payment with the exit code systemd (or the demo) restarts."""
    from kiosk.screens.ui import RESTART_EXIT

    def work() -> None:
        request_exit = getattr(ctx.terminal, "request_exit", None)
        if request_exit is None:
            raise CommandFailed("not_available", "no screen loop runs on this terminal to restart")
        ctx.exiting()
        request_exit(RESTART_EXIT)

    ctx.between_payments("restart", work)
    return {"restarting": True, "exit_code": RESTART_EXIT, "at": _now()}


def reboot(ctx: CommandContext, args: dict[str, Any]) -> dict[str, Any]:
    """Reboot the machine with the configured command once no payment is in progress."""

    def work() -> subprocess.CompletedProcess[str]:
        ctx.exiting()
        return subprocess.run(list(ctx.reboot_command), capture_output=True, text=True, timeout=60)

    try:
        done = ctx.between_payments("reboot", work)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CommandFailed("reboot_failed", f"{shlex.join(ctx.reboot_command)}: {exc}") from exc
    if done.returncode != 0:
        raise CommandFailed("reboot_failed", f"{shlex.join(ctx.reboot_command)} exited with {done.returncode}: "
                            f"{(done.stderr or done.stdout).strip()[:500]}")
    return {"rebooting": True, "command": shlex.join(ctx.reboot_command), "at": _now()}


# -- what the terminal shows and knows ----------------------------------------------------------------------------

def screenshot(ctx: CommandContext, args: dict[str, Any]) -> dict[str, Any]:
    """The screen as PNG, taken on the UI thread between payments (so it never shows a payer's account)."""

    def work() -> tuple[bytes, tuple[int, int]]:
        import pygame

        surface = pygame.display.get_surface() if pygame.display.get_init() else None
        if surface is None:
            raise CommandFailed("no_screen", "no screen is shown on this terminal")
        out = io.BytesIO()
        pygame.image.save(surface, out, "screen.png")
        return out.getvalue(), surface.get_size()

    png, (width, height) = ctx.between_payments("screenshot", work)
    ctx.attachment = png
    return {"width": width, "height": height, "bytes": len(png), "state": ctx.terminal.session.state,
            "at": _now()}


class LogRing(logging.Handler):
    """The newest log lines of this process, in memory, for `log_tail`."""

    def __init__(self, size: int = LOG_RING) -> None:
        super().__init__(logging.INFO)
        self.lines: deque[str] = deque(maxlen=size)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a record that cannot be formatted is skipped, as logging itself would
            self.handleError(record)


_RING: LogRing | None = None


def log_ring() -> LogRing:
    """This process's ring of log lines, attached to the root logger on first use."""
    global _RING
    if _RING is None:
        _RING = LogRing()
        logging.getLogger().addHandler(_RING)
    return _RING


def log_tail(ctx: CommandContext, args: dict[str, Any]) -> dict[str, Any]:
    """The last N log lines of the kiosk (secrets are never logged, so none are here)."""
    lines = max(1, min(int(args.get("lines", 200)), LOG_RING))
    return {"lines": list(log_ring().lines)[-lines:]}


def encashment_report(ctx: CommandContext, args: dict[str, Any]) -> dict[str, Any]:
    """The cassette now (bills since the last encashment, from the journal) and the newest encashments."""
    from kiosk.session_view import ServiceMenu

    menu = ServiceMenu(ctx.terminal)
    cassette = menu.cassette()
    return {"cassette": {str(value): count for value, count in sorted(cassette.items())},
            "cassette_count": sum(cassette.values()),
            "cassette_kopecks": sum(value * count for value, count in cassette.items()),
            "encashments": [{k: ({str(d): n for d, n in v.items()} if isinstance(v, dict) else v)
                             for k, v in record.items()} for record in menu.encashments(10)]}


def print_test_receipt(ctx: CommandContext, args: dict[str, Any]) -> dict[str, Any]:
    """Print the printer test page between payments; the printer's outcome."""
    from kiosk.session_view import ServiceMenu

    menu = ServiceMenu(ctx.terminal)
    outcome = ctx.between_payments("test receipt", lambda: menu.print_test_page(ctx.terminal.config.screen.language))
    if outcome is None:
        raise CommandFailed("no_printer", "this terminal has no receipt printer")
    if outcome != "printed":
        raise CommandFailed("not_printed", f"the printer said {outcome}")
    return {"printer": outcome, "at": _now()}


def not_available(ctx: CommandContext, args: dict[str, Any]) -> dict[str, Any]:
    """A kind this terminal knows of but cannot carry out yet (nothing registered for it)."""
    raise CommandFailed("not_available", f"{ctx.kind} is not available on this terminal")


#: kind → handler; other parts of the terminal register their own kinds here (e.g. `sync_now`)
HANDLERS: dict[str, Handler] = {
    "lock": lock,
    "unlock": unlock,
    "restart": restart,
    "reboot": reboot,
    "screenshot": screenshot,
    "log_tail": log_tail,
    "sync_now": not_available,
    "encashment_report": encashment_report,
    "test_receipt": print_test_receipt,
}
