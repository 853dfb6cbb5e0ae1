"""Configuration pushed by the dealer service: pulled on a schedule and on "sync now", checked (the dealer's
signature through the pinned CA, then the terminal's own loaders), kept on disk with the previous one, applied
between payments, and reported (applied, or refused with the reason; a refused bundle changes nothing).

On disk, in `dealer-config/` beside the journal (0700, files 0600: gateway secrets are inside): `current.json`
(the signed bundle in force), `previous.json` (not kept when it holds a secret the dealer has since deleted) and
`trust.json` (the pinned key generation and the sequence in force: kiosk.dealer_link.trust). Each is replaced by an atomic rename, so a crash at any moment
leaves a complete bundle in `current.json`, old or new; at start-up the terminal re-checks it and falls back to
`previous.json`, then to its own file, if it no longer checks out.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.catalog import Catalog
from kiosk.config import Config
from kiosk.config_document import apply_to
from kiosk.dealer_link import commands, trust
from kiosk.dealer_link.bundle import BundleRefused, Opened, open_signed
from kiosk.dealer_link.identity import LINK_FOLDER, LinkError, TerminalIdentity, write_private
from kiosk.errors import ConfigError, KioskError

if TYPE_CHECKING:
    import httpx

    from kiosk.app import Terminal
    from kiosk.dealer_link.client import DealerLink

log = logging.getLogger(__name__)

FOLDER, CURRENT, PREVIOUS = "dealer-config", "current.json", "previous.json"
DEFAULT_INTERVAL = 300.0


@dataclass(frozen=True)
class Checked:
    """A bundle that verified and validated: what the terminal would run with."""

    body: bytes
    version: int
    label: str
    config: Config
    catalog: Catalog
    opened: Opened

    @property
    def etag(self) -> str:
        """The strong ETag the service gives these bytes."""
        return f'"{hashlib.sha256(self.body).hexdigest()}"'


def _folders(config: Config) -> tuple[Path, Path]:
    state = config.journal_path.parent
    return state / LINK_FOLDER, state / FOLDER


def check(body: bytes, base: Config, identity: TerminalIdentity) -> Checked:
    """A bundle verified through the pinned CA and validated by the terminal's loaders (else BundleRefused, ConfigError)."""
    settings = identity.settings()
    opened = open_signed(body, identity.ca.read_bytes(), settings.dealer, settings.number)
    payload = opened.payload
    config, catalog = apply_to(base, payload["document"], payload.get("secrets") or {})
    return Checked(body, int(payload.get("version") or 0), str(payload.get("label") or ""), config, catalog, opened)


def _unverified_payload(body: bytes) -> dict[str, Any]:
    """A bundle's payload read without any check (only for labels and housekeeping, never to run); {} if none."""
    import base64
    import json

    try:
        payload = json.loads(base64.b64decode(json.loads(body)["payload"]))
    except (ValueError, KeyError, TypeError):
        return {}
    return payload if isinstance(payload, dict) else {}


def _secret_names(body: bytes) -> set[tuple[str, str]]:
    """(gateway, name) of each secret a stored bundle holds (to decide what may be kept)."""
    secrets = _unverified_payload(body).get("secrets")
    if not isinstance(secrets, dict):
        return set()
    return {(str(gateway), str(name)) for gateway, options in secrets.items() if isinstance(options, dict)
            for name in options}


def install(folder: Path, body: bytes) -> None:
    """Make `body` the current bundle, the one in force so far the previous (each step an atomic rename) —
    unless that one holds a secret `body` no longer has: a deleted secret leaves no copy on the terminal."""
    current, previous = folder / CURRENT, folder / PREVIOUS
    if current.exists():
        outgoing = current.read_bytes()
        if _secret_names(outgoing) <= _secret_names(body):
            write_private(previous, outgoing)
        else:
            previous.unlink(missing_ok=True)
    write_private(current, body)


def pushed_at_start(config: Config, catalog: Catalog | None) -> tuple[Config, Catalog | None, Checked | None]:
    """At start-up: (config, catalog, bundle) from the stored bundle, else the previous one, else as given."""
    link_dir, folder = _folders(config)
    identity = TerminalIdentity(link_dir)
    if not (folder / CURRENT).exists() and not (folder / PREVIOUS).exists():
        return config, catalog, None
    for name in (CURRENT, PREVIOUS):
        path = folder / name
        if not path.exists():
            continue
        try:
            checked = check(path.read_bytes(), config, identity)
        except (KioskError, OSError, ValueError) as exc:
            log.error("pushed configuration %s not used: %s", path, exc)
            continue
        log.info("running the pushed configuration %s (%s)", checked.label, path.name)
        return checked.config, checked.catalog, checked
    return config, catalog, None


def applied_version(terminal: Terminal) -> int | None:
    """The id of the pushed configuration version in force (the heartbeat's `config_version`), None if none."""
    checked: Checked | None = getattr(terminal, "pushed_config", None)
    return None if checked is None else checked.version


class ConfigSync:
    """Pulls the bundle on a schedule (its own thread) and on `sync_now`; applies between payments."""

    def __init__(self, terminal: Terminal, link: DealerLink, interval: float = DEFAULT_INTERVAL) -> None:
        self.terminal, self.link, self.interval = terminal, link, interval
        self.base = terminal.config  # every value a document does not set is the terminal's own
        link_dir, self.folder = _folders(terminal.config)
        self.identity = TerminalIdentity(link_dir)
        current: Checked | None = terminal.pushed_config
        self.etag = current.etag if current else ""
        self.trust = trust.load(self.folder)
        if current is not None and self.trust.after(current.opened) != self.trust:  # stored, not yet pinned
            self.trust = self.trust.after(current.opened)
            trust.save(self.folder, self.trust)
        self.last_error = ""
        self.pulls = 0
        self._unreported: list[dict[str, Any]] = []
        self._lock = threading.Lock()  # one pull at a time (the loop and a "sync now")
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dealer-config", daemon=True)

    def start(self) -> ConfigSync:
        """Start pulling (the first pull goes at once)."""
        self._thread.start()
        return self

    def pull(self, wait: float = 0.0) -> dict[str, Any]:
        """One pull now: unchanged, none (nothing assigned), refused (with the reason) or applying/applied."""
        with self._lock:
            self.pulls += 1
            self._report_pending()
            reply = self._fetch({"If-None-Match": self.etag} if self.etag else {})
            if reply.status_code == 304:
                return {"outcome": "unchanged", "etag": self.etag}
            if reply.status_code == 204:
                return {"outcome": "none"}
            if reply.status_code != 200:
                raise LinkError(f"configuration refused ({reply.status_code}): {reply.text[:300]}")
            etag = reply.headers.get("etag", "")
            try:
                checked = check(reply.content, self.base, self.identity)
                self.trust.judge(checked.opened)
            except (BundleRefused, ConfigError) as exc:
                self.etag = etag  # the same bundle is not fetched (nor reported) again until the dealer changes it
                log.error("pushed configuration refused, keeping the one in force: %s", exc)
                self._queue({"version": _version_of(reply.content), "etag": etag, "outcome": "refused",
                             "reason": str(exc)})
                return {"outcome": "refused", "reason": str(exc)}
            self.etag = etag
            done = threading.Event()
            self.terminal.between_payments(f"configuration {checked.label}", lambda: self._apply(checked, done))
        applied = done.wait(wait)
        if applied:
            with self._lock:
                self._report_pending()
        return {"outcome": "applied" if applied else "applying", "version": checked.version, "label": checked.label}

    def _fetch(self, headers: dict[str, str]) -> httpx.Response:
        """GET the bundle (signed, over the link); the reply with its body read, whatever its status."""
        with self.link.stream(f"{self.link.terminal_path}/config", headers) as reply:
            reply.read()
            return reply

    def _apply(self, checked: Checked, done: threading.Event) -> None:
        """On the UI thread, no payment in progress: switch (all or nothing), then store (the previous kept)."""
        try:
            self.trust.judge(checked.opened)  # a newer bundle may have gone in while this one waited
        except BundleRefused as exc:
            self._queue({"version": checked.version, "etag": checked.etag, "outcome": "refused", "reason": str(exc)})
            done.set()
            return
        try:
            self.terminal.reconfigure(checked.config, checked.catalog)
        except Exception as exc:  # a gateway adapter that cannot be built: the terminal runs on as it was
            # Only the kind of fault: an adapter's message may quote the option it choked on, a secret perhaps.
            reason = f"cannot run it: a gateway adapter failed to start ({type(exc).__name__})"
            log.error("pushed configuration %s %s", checked.label, reason)
            self._queue({"version": checked.version, "etag": checked.etag, "outcome": "refused", "reason": reason})
        else:
            self.terminal.pushed_config = checked
            self.trust = self.trust.after(checked.opened)
            try:
                install(self.folder, checked.body)
                trust.save(self.folder, self.trust)
            except OSError as exc:  # in force now, but a restart would not find it: fetch and store it again
                log.error("pushed configuration %s applied but not stored: %s", checked.label, exc)
                self.etag = ""
            log.info("pushed configuration %s applied", checked.label)
            self._queue({"version": checked.version, "etag": checked.etag, "outcome": "applied", "reason": ""})
        done.set()
        self._wake.set()  # the loop reports it now rather than at the next scheduled pull

    def _queue(self, report: dict[str, Any]) -> None:
        self._unreported.append({**report, "reason": report["reason"][:1000]})  # the service takes up to 2000

    def _report_pending(self) -> None:
        """Tell the service what happened to each bundle (kept for the next pull while it is unreachable)."""
        while self._unreported:
            self.link.request("POST", f"{self.link.terminal_path}/config/report", self._unreported[0])
            self._unreported.pop(0)

    def sync_now(self, wait: float = 0.0) -> dict[str, Any]:
        """Pull at once (a remote "sync now"); waits up to `wait` seconds for the apply between payments."""
        try:
            return self.pull(wait)
        except KioskError as exc:
            return {"outcome": "failed", "reason": str(exc)}

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.pull()
                self.last_error = ""
            except KioskError as exc:  # the service is away: try again next time, the terminal runs on
                self.last_error = str(exc)
                log.warning("dealer configuration: %s", exc)
            self._wake.wait(self.interval)
            self._wake.clear()

    def close(self) -> None:
        """Stop pulling and close the connection (idempotent)."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self.link.close()


def _version_of(body: bytes) -> int | None:
    """The version a refused bundle claims, for the report (unverified: only a label)."""
    version = _unverified_payload(body).get("version")
    return version if isinstance(version, int) else None


def start(terminal: Terminal, folder: Path, interval: float | None = None) -> ConfigSync | None:
    """The pull loop for an enrolled terminal, or None (never a reason for the terminal not to run)."""
    identity = TerminalIdentity(folder)
    if not identity.enrolled():
        return None
    from kiosk.dealer_link.client import DealerLink  # the HTTP stack only for an enrolled terminal

    try:
        link = DealerLink(folder)
    except (KioskError, OSError, ValueError) as exc:
        log.warning("dealer configuration sync not started: %s", exc)
        return None
    return ConfigSync(terminal, link, interval or float(link.settings.config_interval)).start()


def sync_now(terminal: Terminal, wait: float = 0.0) -> dict[str, Any]:
    """For the remote "sync now" command: pull the configuration at once."""
    sync: ConfigSync | None = getattr(terminal, "config_sync", None)
    if sync is None:
        return {"outcome": "failed", "reason": "this terminal is not enrolled with a dealer service"}
    return sync.sync_now(wait)


def _sync_now_command(ctx: commands.CommandContext, args: dict[str, Any]) -> dict[str, Any]:
    """The remote "sync now" command: pull the configuration and the theme at once (applied between payments)."""
    result = sync_now(ctx.terminal)
    if result["outcome"] == "failed":
        raise commands.CommandFailed("sync_failed", result["reason"])
    themes = getattr(ctx.terminal, "theme_sync", None)
    if themes is not None:
        # a theme that cannot be fetched now does not undo the configuration just pulled: it is reported beside it
        try:
            result["theme"] = themes.sync_now()
        except (KioskError, OSError, ValueError) as exc:
            result["theme_error"] = str(exc)
    return result


commands.HANDLERS["sync_now"] = _sync_now_command
