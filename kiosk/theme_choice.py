"""Which theme the terminal shows: the link between the screens (which draw it) and the dealer link (which
delivers theme packs). No pygame here: a headless terminal has a choice too, and nothing to draw it with.

Delivered packs live in `themes/` beside the journal, each in its own folder; `themes/assigned.json` names the
one the dealer assigned (written atomically), so a restart shows it again before the link is up.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk.offline_queue.files import write_atomically

log = logging.getLogger(__name__)

ASSIGNED = "assigned.json"


class ThemeChoice:
    """The theme on screen and the way to change it (the UI attaches its switch; without a UI nothing is drawn)."""

    def __init__(self, folder: Path, configured: str) -> None:
        self.folder = folder  # delivered packs
        self.configured = configured
        self.assigned = self._read()
        self.shown = self.wanted()
        self._switch: Callable[[str], bool] | None = None

    def wanted(self) -> str:
        """The theme to show: the dealer's delivered pack if there is one, else the configured theme."""
        name = self.assigned.get("folder", "")
        return name if isinstance(name, str) and name and (self.folder / name).is_dir() else self.configured

    def attach(self, switch: Callable[[str], bool], shown: str) -> None:
        """The UI's way to show a theme (called on the UI thread), and what it shows now."""
        self._switch, self.shown = switch, shown

    def show(self, name: str) -> bool:
        """Show a theme now (call it on the UI thread, between payments); False if it cannot be shown."""
        if self._switch is None:
            self.shown = name  # headless: nothing is drawn, the choice still counts
            return True
        if self._switch(name):
            self.shown = name
            return True
        return False

    def record(self, folder_name: str, sha256: str) -> None:
        """Remember a delivered pack as the assigned one (atomically: a power cut keeps the old record or this)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.assigned = {"folder": folder_name, "sha256": sha256}
        write_atomically(self.folder / ASSIGNED, json.dumps(self.assigned).encode())

    def _read(self) -> dict[str, Any]:
        try:
            record = json.loads((self.folder / ASSIGNED).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.error("%s cannot be read, showing the configured theme: %s", self.folder / ASSIGNED, exc)
            return {}
        return record if isinstance(record, dict) else {}
