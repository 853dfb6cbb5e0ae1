"""What a running terminal reports in its heartbeats, read from its own snapshots (no device I/O, no payment lock
held for long), and the composition root's one call that starts the heartbeat when the terminal is enrolled."""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.dealer_link.commands import restore_lock
from kiosk.dealer_link.identity import LINK_FOLDER
from kiosk.dealer_link.state_changes import StateChanges
from kiosk.errors import KioskError

if TYPE_CHECKING:
    from kiosk.app import Terminal
    from kiosk.dealer_link.client import HeartbeatLoop
    from kiosk.offline_queue.journal import Journal

log = logging.getLogger(__name__)


def identity_folder(terminal: Terminal) -> Path:
    """Where `kiosk enroll` puts this terminal's identity by default: `dealer-link/` next to the journal."""
    return terminal.config.journal_path.parent / LINK_FOLDER


_PAPER = {"ok": "ok", "near_end": "low", "out": "out"}  # the printer's words → the heartbeat's (unknown: null)


def _utc(stamp: str | None) -> datetime | None:
    return None if not stamp else datetime.fromisoformat(stamp).astimezone(UTC)


def terminal_status(terminal: Terminal, now: datetime | None = None,
                    figures: dict[str, Any] | None = None) -> dict[str, Any]:
    """The heartbeat's report (the keys the dealer service's fleet pages read): devices from their last known
    status, figures from one short journal read; no device I/O."""
    from kiosk.dealer_link import config_sync  # only an enrolled terminal reports (see start_heartbeat)

    now = now or datetime.now(UTC)
    validator = terminal.validator.status()
    known = terminal.receipts.known_status
    figures = figures or terminal.journal.fleet_figures()
    skew = terminal.journal.clock_skew()
    oldest, last_payment = _utc(figures["outbox_oldest"]), _utc(figures["last_payment"])
    capacity = terminal.config.validator.options.get("cassette_capacity")
    printer = None
    if terminal.receipts.printer is not None:  # the last status the printer chore read (every 5 s)
        printer = ("paper_out" if known is not None and known.paper == "out" else
                   "ready" if terminal.receipts.ready() else "not_ready")
    fiscal_drive = None
    if terminal.receipts.fiscal is not None:  # the validity date the fiscal upkeep last read (FF03), days left now
        from kiosk.fiscal.validity import known_validity

        fiscal_drive = known_validity(terminal.journal, now, terminal.config.timezone)
    try:
        free_disk: int | None = shutil.disk_usage(terminal.config.journal_path.parent).free
    except OSError:
        free_disk = None
    return {
        "terminal": terminal.config.terminal,
        "validator": {"kind": terminal.config.validator.kind, "online": validator.online, "state": validator.state,
                      "detail": validator.detail},
        "printer": printer,
        "paper": None if known is None else _PAPER.get(known.paper),
        "cassette": {"count": figures["cassette_bills"], "kopecks": figures["cassette_kopecks"],
                     "capacity": capacity if isinstance(capacity, int) else None},
        "gateways": {name: terminal.router.state(name) for name in terminal.gateways},
        "outbox_depth": figures["outbox_depth"],
        "outbox_kopecks": figures["outbox_kopecks"],
        "outbox_oldest_s": None if oldest is None else max(0, int((now - oldest).total_seconds())),
        "needs_attention": figures["needs_attention"],
        "uncertain_bills": figures["uncertain_bills"],
        "last_payment_at": None if last_payment is None else last_payment.isoformat(),
        "free_disk_bytes": free_disk,
        "clock_skew_s": None if skew is None else float(skew["seconds"]),
        "config_version": config_sync.applied_version(terminal),
        "theme": terminal.theme.shown,  # the theme on screen (a delivered pack shows after the payment on screen)
        "locked": getattr(terminal.session, "lock_message", None) is not None,  # the dealer's remote lock
        "last_operation": terminal.journal.last_number(),  # the service keeps the highest: restore evidence
        "fault": terminal.session.fault,
        "fiscal_drive": fiscal_drive,  # {"fn", "valid_until", "days_left"} with a fiscal registrar, else null
    }


def watched_facts(report: dict[str, Any], session_state: str, encashment: dict[str, Any] | None) -> dict[str, Any]:
    """The facts whose changes are events, as (kind, detail), from a report and the session's state."""
    validator = report["validator"]
    facts: dict[str, Any] = {
        "validator": ("validator_ok", "") if validator["online"] and not report["fault"] else
        ("validator_fault", report["fault"] or validator["detail"] or validator["state"]),
        "service": ("out_of_service", report["fault"] or "") if session_state == "out_of_service" else
        ("in_service", ""),
        "printer": None if report["printer"] is None else (f"printer_{report['printer']}", ""),
        "paper": None if report["paper"] is None else (f"paper_{report['paper']}", ""),
        "lock": None if report["locked"] is None else ("locked" if report["locked"] else "unlocked", ""),
        "encashment": None if encashment is None else (encashment["id"], encashment["reason"]),
    }
    return facts


class Reporter:
    """What the heartbeat loop calls: `watch()` every few seconds notes state changes durably, `status()` is the
    next heartbeat's report with the changes not yet acknowledged, `on_reply()` forgets those the service stored."""

    def __init__(self, terminal: Terminal, changes: StateChanges) -> None:
        self.terminal, self.changes = terminal, changes
        self._sent: list[dict[str, str]] = []

    def watch(self) -> dict[str, Any]:
        """Read the report now and note what changed since the last look; the report."""
        figures = self.terminal.journal.fleet_figures()
        report = terminal_status(self.terminal, figures=figures)
        self.changes.observe(watched_facts(report, self.terminal.session.state, figures["last_encashment"]))
        return report

    def status(self) -> dict[str, Any]:
        """The heartbeat's body (without version and uptime, which the loop adds)."""
        report = self.watch()
        self._sent = self.changes.pending()
        return {**report, "events": self._sent} if self._sent else report  # none: the body is stored as sent

    def on_reply(self, reply: dict[str, Any]) -> None:
        """Forget the changes the service acknowledged; act on restore evidence."""
        if reply.get("events_acknowledged") == len(self._sent):
            self.changes.acknowledge(self._sent)
        self._sent = []
        jump_past_numbers_seen(self.terminal.journal, reply)


def jump_past_numbers_seen(journal: Journal, reply: dict[str, Any]) -> int | None:
    """Restore evidence from the dealer service: it saw an operation number higher than anything this journal
    knows, so the state was restored from an older copy; number past it (once: afterwards the journal knows it).
    Returns the new floor, or None when the reply shows nothing new."""
    seen = reply.get("highest_operation")
    if isinstance(seen, bool) or not isinstance(seen, int):
        return None  # a service older than this field
    known = journal.last_number()
    if seen <= known:
        return None
    return journal.restore_detected(f"the dealer service saw operation {seen} from this terminal, but its journal "
                                    f"knows only up to {known}: the state was restored from an older copy",
                                    jump_to=seen)


def start_heartbeat(terminal: Terminal) -> HeartbeatLoop | None:
    """Start the dealer link's heartbeat for an enrolled terminal (None when not enrolled or the identity is
    unusable: payments never depend on the dealer service)."""
    folder = identity_folder(terminal)
    restore_lock(terminal, folder)  # locked by the dealer: locked again before any payer
    if not folder.is_dir():
        return None  # never enrolled: the link's HTTP and crypto libraries (0.3 s of a cold start) stay unloaded
    from kiosk.dealer_link import config_sync
    from kiosk.dealer_link.client import start_if_enrolled
    from kiosk.dealer_link.command_poller import start_commands
    from kiosk.dealer_link.themes import start_themes
    from kiosk.dealer_link.upload import start_upload

    try:
        terminal.config_sync = config_sync.start(terminal, folder)
        reporter = Reporter(terminal, StateChanges(folder / "state-changes.json"))
        loop = start_if_enrolled(folder, status=reporter.status, on_reply=reporter.on_reply, watch=reporter.watch)
    except (KioskError, OSError, ValueError) as exc:
        log.warning("dealer link not started: %s", exc)
        return None
    if loop is not None:
        terminal.theme_sync = start_themes(terminal, folder)  # "sync now" asks it too
        loop.companions += filter(None, [start_commands(terminal, folder), terminal.theme_sync])
        loop.companions.append(start_upload(loop.link, terminal.config.journal_path, terminal.config.terminal))
    return loop


def start_update_agent(terminal: Terminal) -> Any:
    """The update agent of an enrolled terminal with a pinned update root (None otherwise)."""
    if not identity_folder(terminal).is_dir():
        return None  # never enrolled: nothing pinned, and no TUF or crypto imports on the way to the first frame
    from kiosk.updates.health import start_agent

    try:
        return start_agent(terminal, identity_folder(terminal))
    except (KioskError, OSError, ValueError) as exc:
        log.warning("updates not started: %s", exc)
        return None
