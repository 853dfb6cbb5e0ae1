"""The running terminal's part in updates: tell systemd it is ready and alive, report itself healthy after a
switch, and run the update agent when enrolled. Called from the composition root with one line each."""

from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.dealer_link.identity import TerminalIdentity
from kiosk.updates.releases import Releases, report_healthy
from kiosk.updates.sdnotify import Watchdog, notify

if TYPE_CHECKING:
    from kiosk.app import Terminal
    from kiosk.updates.agent import UpdateAgent

log = logging.getLogger(__name__)
HEARTBEAT_WAIT_S = 60.0  # how long the health check waits for the first heartbeat's outcome


def updates_root(terminal: Terminal) -> Path:
    """`updates/` next to the journal (as `dealer-link/` is): releases, the current link, the update state."""
    return terminal.config.journal_path.parent / "updates"


def running_release(root: Path, prefix: str | None = None) -> str | None:
    """The release this process runs from (its environment is `releases/<version>/venv`), else None."""
    here = Path(prefix or sys.prefix).resolve()
    releases = (root / "releases").resolve()
    if here.name == "venv" and here.parent.parent == releases:
        return here.parent.name
    return None


def make_watchdog(terminal: Terminal) -> Watchdog:
    """A watchdog fed by the UI loop (its tick) and watching the validator's polling thread."""
    watchdog = Watchdog()
    watchdog.watch("validator", lambda: getattr(terminal.validator, "turned_at", None))
    return watchdog


def _first_heartbeat_ok(terminal: Terminal, wait_s: float) -> tuple[bool, str]:
    link = terminal.dealer_link
    if link is None:
        return True, "not enrolled: no heartbeat expected"
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if link.sent:
            return True, "first heartbeat accepted"
        if link.last_error:
            # The service refusing this release is a fault of the release; the service being away is not.
            if "refused" in link.last_error:
                return False, f"first heartbeat refused: {link.last_error}"
            return True, f"dealer service unreachable ({link.last_error}); payments do not need it"
        time.sleep(0.2)
    return True, "no heartbeat outcome yet; payments do not need it"


def ready(terminal: Terminal, wait_s: float = HEARTBEAT_WAIT_S) -> threading.Thread | None:
    """READY to systemd (journal reconciled, devices opened, screens up), then, in a thread, the health report of a
    release just switched to once its first heartbeat went well."""
    notify("READY=1")
    root = updates_root(terminal)
    version = running_release(root)
    if version is None:
        return None
    releases = Releases(root)

    def check() -> None:
        ok, why = _first_heartbeat_ok(terminal, wait_s)
        if not ok:
            log.error("update: release %s is not healthy: %s", version, why)
            return
        report_healthy(root, version, ["journal reconciled", "devices opened", "ready", why])
        if releases.confirm(version, why):
            log.warning("update: release %s confirmed healthy (%s)", version, why)

    thread = threading.Thread(target=check, name="update-health", daemon=True)
    thread.start()
    return thread


def start_agent(terminal: Terminal, link_folder: Path) -> UpdateAgent | None:
    """The update agent of an enrolled terminal (None when not enrolled). The update root is pinned at enrollment;
    a terminal enrolled before its service had one pins it now, over the same mutually authenticated link."""
    if not TerminalIdentity(link_folder).enrolled():
        return None
    from kiosk.updates.agent import UpdateAgent

    return UpdateAgent(terminal, Releases(updates_root(terminal)), link_folder).start()
