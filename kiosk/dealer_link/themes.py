"""The terminal's side of theme packs: ask the dealer service which pack to show, fetch it over the authenticated
link, check it with the same code the service used (kiosk/screens/theme_pack.py), install it atomically beside
the journal, and switch to it between payments — never during one.

A pack the terminal refuses is reported in the log and the heartbeat's `theme` stays what is on screen; the
terminal keeps its current theme. The loop runs in its own thread, at the heartbeat's interval.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.dealer_link.client import DealerLink
from kiosk.dealer_link.identity import LinkError
from kiosk.screens.theme_pack import ThemePackError, check_pack, install_pack

if TYPE_CHECKING:
    from kiosk.app import Terminal

log = logging.getLogger(__name__)


class ThemeSync:
    """Keeps the terminal's theme what the dealer assigned."""

    def __init__(self, terminal: Terminal, folder: Path, interval: float | None = None) -> None:
        self.terminal = terminal
        self.link = DealerLink(folder)
        self.interval = float(interval or self.link.settings.heartbeat_interval)
        self.last_error = ""
        self.applied = 0  # switches posted to run between payments
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dealer-themes", daemon=True)

    def start(self) -> ThemeSync:
        """Start asking (the first time at once)."""
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sync_now()
                self.last_error = ""
            except (LinkError, ThemePackError, OSError) as exc:
                self.last_error = str(exc)
                log.warning("theme not updated: %s", exc)
            self._stop.wait(self.interval)

    def sync_now(self) -> dict[str, Any]:
        """Ask once; install a new pack and post its switch. Returns what happened (for a `sync_now` command)."""
        choice = self.terminal.theme
        have = str(choice.assigned.get("sha256", ""))
        reply = self.link.request("GET", f"{self.link.terminal_path}/theme?have={have}")
        if not reply.get("assigned"):
            return {"theme": choice.shown, "changed": False}
        sha256, encoded = str(reply.get("sha256", "")), str(reply.get("pack", ""))
        if sha256 == have or not encoded:
            return {"theme": choice.shown, "changed": False}
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ThemePackError(f"the pack is not valid base64: {exc}") from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ThemePackError("the pack's SHA-256 is not the one the service named")
        name = install_pack(check_pack(data), choice.folder, str(reply.get("id", "")))
        choice.record(name, sha256)
        self.terminal.between_payments(f"theme {name}", lambda: self._show(name))
        self.applied += 1
        return {"theme": name, "changed": True}

    def _show(self, name: str) -> None:
        """On the UI thread, with no payment in progress."""
        if not self.terminal.theme.show(name):
            log.error("delivered theme %s cannot be shown; the current theme stays", name)

    def close(self) -> None:
        """Stop the loop and close the connection."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
        self.link.close()


def start_themes(terminal: Terminal, folder: Path) -> ThemeSync | None:
    """The theme loop of an enrolled terminal (None when the link cannot be used: payments never depend on it)."""
    try:
        return ThemeSync(terminal, folder).start()
    except (LinkError, OSError, ValueError) as exc:
        log.warning("theme delivery not started: %s", exc)
        return None
