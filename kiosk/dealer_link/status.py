"""What a running terminal reports in its heartbeats, read from its own snapshots (no device I/O, no payment lock
held for long), and the composition root's one call that starts the heartbeat when the terminal is enrolled."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.dealer_link.commands import restore_lock
from kiosk.errors import KioskError

if TYPE_CHECKING:
    from kiosk.app import Terminal
    from kiosk.dealer_link.client import HeartbeatLoop
    from kiosk.offline_queue.journal import Journal

log = logging.getLogger(__name__)


def identity_folder(terminal: Terminal) -> Path:
    """Where `kiosk enroll` puts this terminal's identity by default: `dealer-link/` next to the journal."""
    return terminal.config.journal_path.parent / "dealer-link"


def terminal_status(terminal: Terminal) -> dict[str, Any]:
    """The heartbeat's report: validator, printer, gateways' breakers, the outbox and what needs a person."""
    from kiosk.dealer_link import config_sync  # only an enrolled terminal reports (see start_heartbeat)

    validator = terminal.validator.status()
    receipts = terminal.receipts
    waiting, waiting_kopecks = terminal.journal.waiting()
    return {
        "terminal": terminal.config.terminal,
        "validator": {"kind": terminal.config.validator.kind, "online": validator.online, "state": validator.state,
                      "detail": validator.detail},
        # the last status the printer chore read (every 5 s): no printer I/O from this thread
        "printer": None if receipts.printer is None else ("ready" if receipts.ready() else "not_ready"),
        "gateways": {name: terminal.router.state(name) for name in terminal.gateways},
        "outbox_depth": waiting,
        "outbox_kopecks": waiting_kopecks,
        "needs_attention": terminal.journal.count("needs_attention"),
        "last_operation": terminal.journal.last_number(),  # the service keeps the highest: restore evidence
        "fault": terminal.session.fault,
        "config_version": config_sync.applied_version(terminal),
    }


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
    restore_lock(terminal, identity_folder(terminal))  # locked by the dealer: locked again before any payer
    if not identity_folder(terminal).is_dir():
        return None  # never enrolled: the link's HTTP and crypto libraries (0.3 s of a cold start) stay unloaded
    from kiosk.dealer_link import config_sync
    from kiosk.dealer_link.client import start_if_enrolled
    from kiosk.dealer_link.command_poller import start_commands

    try:
        terminal.config_sync = config_sync.start(terminal, identity_folder(terminal))
        loop = start_if_enrolled(identity_folder(terminal), status=lambda: terminal_status(terminal),
                                 on_reply=lambda reply: jump_past_numbers_seen(terminal.journal, reply))
    except (KioskError, OSError, ValueError) as exc:
        log.warning("dealer link not started: %s", exc)
        return None
    if loop is not None:
        loop.companions += filter(None, [start_commands(terminal, identity_folder(terminal))])
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
