"""The terminal's state changes for the dealer service (validator fault and back, paper out, cassette removed, out
of service and back…), kept in a small file written atomically until a heartbeat's reply acknowledges them: a
terminal offline for a day does not replay its missed heartbeats, but every change reaches the service."""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kiosk.offline_queue.files import write_atomically

log = logging.getLogger(__name__)
MAX_KEPT = 1000  # a terminal offline for weeks keeps its newest changes; older ones go (logged)
PER_HEARTBEAT = 100  # the rest go in the next heartbeats (the service takes at most 200 at once)


def _changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(kind, detail) of each watched fact that differs; a fact seen for the first time counts only when it is not
    the normal one (a terminal that starts with its validator faulty reports it, one that starts well does not)."""
    out = []
    for fact, value in after.items():
        if fact == "encashment" or value is None or before.get(fact) == value:
            continue
        kind, detail = value
        if fact not in before and kind in NORMAL:
            continue
        out.append((str(kind), str(detail)))
    encashment = after.get("encashment")
    if encashment is not None and "encashment" in before and before["encashment"] != encashment:
        number, reason = encashment
        out.append(("cassette_removed" if reason == "cassette removed" else "encashment",
                    f"encashment {number}: {reason}"))
    return out


# Each watched fact's kind in normal operation.
NORMAL = frozenset({"validator_ok", "printer_ready", "paper_ok", "in_service", "unlocked"})


class StateChanges:
    """The durable list of changes not yet acknowledged, and the last facts seen (to tell what changed, also
    across a restart). Thread-safe: the heartbeat thread notes and sends, nothing else needs the file."""

    def __init__(self, path: Path, max_kept: int = MAX_KEPT) -> None:
        self.path, self.max_kept = path, max_kept
        self._lock = threading.Lock()
        self._events: list[dict[str, str]] = []
        self._facts: dict[str, Any] = {}
        self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text())
            self._events = [dict(e) for e in data.get("events", [])]
            self._facts = {k: tuple(v) if isinstance(v, list) else v for k, v in data.get("facts", {}).items()}
        except FileNotFoundError:
            return
        except (OSError, ValueError, TypeError, AttributeError) as exc:  # a damaged file must not stop the link
            log.warning("state changes in %s unreadable (%s): starting afresh", self.path, exc)

    def _save(self) -> None:
        write_atomically(self.path, json.dumps({"events": self._events, "facts": self._facts}).encode())

    def observe(self, facts: Mapping[str, Any], now: datetime | None = None) -> list[dict[str, str]]:
        """Compare the facts now with the last ones seen; note each change (durably). The events noted."""
        at = (now or datetime.now(UTC)).astimezone(UTC).isoformat()
        with self._lock:
            noted = [{"id": secrets.token_hex(8), "at": at, "kind": kind, "detail": detail[:500]}
                     for kind, detail in _changes(self._facts, facts)]
            if not noted and dict(facts) == self._facts:
                return []
            self._events.extend(noted)
            if len(self._events) > self.max_kept:
                dropped = len(self._events) - self.max_kept
                log.warning("dealer link: %d unacknowledged state changes dropped (oldest first)", dropped)
                del self._events[:dropped]
            self._facts = dict(facts)
            self._save()
            return noted

    def pending(self, limit: int = PER_HEARTBEAT) -> list[dict[str, str]]:
        """The oldest changes not yet acknowledged (what the next heartbeat carries)."""
        with self._lock:
            return [dict(e) for e in self._events[:limit]]

    def acknowledge(self, sent: list[dict[str, str]]) -> None:
        """The service stored these: forget them."""
        ids = {e["id"] for e in sent}
        if not ids:
            return
        with self._lock:
            self._events = [e for e in self._events if e["id"] not in ids]
            self._save()
