"""The terminal's update cycle: report, refresh the verified metadata, take the newest release its channels offer
(never an older one, never one marked bad), download, install side by side — then switch only between payments
and let systemd start the new release, which must confirm itself healthy or be rolled back."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.dealer_link.client import DealerLink, package_version
from kiosk.dealer_link.identity import LinkError
from kiosk.updates.client import UpdateClient, UpdateRefused, pin_root, version_key
from kiosk.updates.fetch import LinkFetcher
from kiosk.updates.releases import Releases, UpdateError

if TYPE_CHECKING:
    from kiosk.app import Terminal

log = logging.getLogger(__name__)
Report = Callable[[dict[str, Any]], list[str]]  # a step → the channels the terminal follows
CHECK_INTERVAL = 15 * 60.0


def running_version(releases: Releases) -> str:
    """The version running: this process's release folder, else the one `current` names, when that is a version
    number; else (the factory release, a developer's checkout) the installed kiosk package's version."""
    from kiosk.updates.health import running_release

    for name in (running_release(releases.root), releases.current()):
        if name is not None:
            try:
                version_key(name)
            except UpdateRefused:
                continue
            return name
    return package_version()


def check_once(releases: Releases, client: UpdateClient, report: Report, running: str) -> str | None:
    """One cycle; returns a version installed and ready to switch to, or None. Every step is reported."""
    state = releases.state()
    for event in state.events:
        report({"running": running, "step": event["step"], "version": event["version"],
                "detail": event.get("detail", ""), "bad": state.bad})
    releases.take_events()
    channels = report({"running": running, "step": "checked", "bad": state.bad})
    try:
        client.refresh()
        offer = client.offer(channels)
        if offer is None or version_key(offer.version) <= version_key(running) or offer.version in state.bad:
            return None
        if releases.complete(offer.version):
            return offer.version
        report({"running": running, "step": "downloading", "version": offer.version,
                "detail": f"{offer.target.length} bytes", "bad": state.bad})
        bundle = client.download(offer.target)
        report({"running": running, "step": "downloaded", "version": offer.version, "bad": state.bad})
        releases.install(bundle, offer.version)
        bundle.unlink()  # installed: the environment is what counts now (a failed install keeps it for a retry)
    except (UpdateRefused, UpdateError) as exc:
        report({"running": running, "step": "failed", "version": "", "detail": str(exc)[:500], "bad": state.bad})
        raise
    report({"running": running, "step": "installed", "version": offer.version, "bad": state.bad})
    releases.prune()
    return offer.version


def link_report(link: DealerLink) -> Report:
    """Steps reported over the authenticated link; the reply names the channels."""

    def report(step: dict[str, Any]) -> list[str]:
        reply = link.request("POST", f"{link.terminal_path}/updates", step)
        return [str(c) for c in reply.get("channels", ["stable"])]

    return report


def link_client(link: DealerLink, folder: Path) -> UpdateClient:
    """The TUF client over the link."""
    return UpdateClient(folder, f"{link.settings.link_url}{link.terminal_path}/tuf", LinkFetcher(link))


def fetch_root(link: DealerLink) -> bytes:
    """The service's newest update root, over the mutually authenticated, signed link."""
    with link.stream(f"{link.terminal_path}/tuf/metadata/root.json") as reply:
        if reply.status_code != 200:
            raise LinkError(f"the dealer service has no update root ({reply.status_code})")
        return reply.read()


def switch_and_restart(releases: Releases, version: str) -> None:
    """Between payments: make the new release current and end this process (systemd starts the new one). A
    process not run from `releases/` (the demo, a developer's checkout) switches the link and keeps running."""
    from kiosk.updates.health import running_release

    releases.switch(version)
    if running_release(releases.root) is None:
        log.warning("update: %s is current; this process does not run from %s, so it goes on as it is", version,
                    releases.releases)
        return
    log.warning("update: switched to %s; restarting", version)
    os.kill(os.getpid(), signal.SIGTERM)


class UpdateAgent:
    """Runs the update cycle in its own thread every interval; the switch is posted between payments."""

    def __init__(self, terminal: Terminal, releases: Releases, link_folder: Path, interval: float = CHECK_INTERVAL,
                 on_installed: Callable[[str], None] | None = None) -> None:
        self.terminal, self.releases, self.interval = terminal, releases, interval
        self.link = DealerLink(link_folder)
        self.folder = link_folder / "updates"
        self.on_installed = on_installed or (lambda version: terminal.between_payments(
            "update", lambda: switch_and_restart(releases, version)))
        self.last_error = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="update-agent", daemon=True)

    def start(self) -> UpdateAgent:
        """Start checking (the first check goes at once)."""
        self._thread.start()
        return self

    def check(self) -> str | None:
        """One cycle now."""
        try:
            if not (self.folder / "metadata" / "root.json").is_file():
                pin_root(self.folder, fetch_root(self.link))
            version = check_once(self.releases, link_client(self.link, self.folder), link_report(self.link),
                                 running_version(self.releases))
        except (UpdateRefused, UpdateError, LinkError, OSError) as exc:
            self.last_error = str(exc)
            log.warning("update: %s", exc)
            return None
        self.last_error = ""
        if version is not None:
            self.on_installed(version)
        return version

    def _run(self) -> None:
        while not self._stop.is_set():
            self.check()
            self._stop.wait(self.interval)

    def close(self) -> None:
        """Stop the thread and the link."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=60)
        self.link.close()
