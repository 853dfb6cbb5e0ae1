"""What a running terminal reports in its heartbeats, read from its own snapshots (no device I/O, no payment lock
held for long), and the composition root's one call that starts the heartbeat when the terminal is enrolled."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.dealer_link.client import HeartbeatLoop, start_if_enrolled
from kiosk.errors import KioskError

if TYPE_CHECKING:
    from kiosk.app import Terminal

log = logging.getLogger(__name__)


def identity_folder(terminal: Terminal) -> Path:
    """Where `kiosk enroll` puts this terminal's identity by default: `dealer-link/` next to the journal."""
    return terminal.config.journal_path.parent / "dealer-link"


def terminal_status(terminal: Terminal) -> dict[str, Any]:
    """The heartbeat's report: validator, printer, gateways' breakers, the outbox and what needs a person."""
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
        "fault": terminal.session.fault,
    }


def start_heartbeat(terminal: Terminal) -> HeartbeatLoop | None:
    """Start the dealer link's heartbeat for an enrolled terminal (None when not enrolled or the identity is
    unusable: payments never depend on the dealer service)."""
    try:
        return start_if_enrolled(identity_folder(terminal), status=lambda: terminal_status(terminal))
    except (KioskError, OSError, ValueError) as exc:
        log.warning("dealer link not started: %s", exc)
        return None
