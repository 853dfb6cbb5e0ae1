"""Shared by the remote-command tests: a real dealer service, an enrolled terminal's identity, commands queued the
way the portal queues them, and a headless screen loop the test turns while it waits."""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # before pygame starts: no window

import datetime as dt
import itertools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from kiosk.dealer_link.enroll import enroll
from provisioning import tenants
from provisioning.commands import service
from provisioning.commands.models import Command
from provisioning.db import Database
from provisioning.db.models import Terminal as DealerTerminal
from provisioning.identity import enrollment
from provisioning.server import DealerServer

_numbers = itertools.count(1)


def enrolled_terminal(server: DealerServer, database: Database, folder: Path, dealer: str = "acme",
                      number: str | None = None) -> int:
    """A new terminal of `dealer`, enrolled into `folder` with a one-time code as `kiosk enroll` does; its id.
    `number`: the terminal's own number (its journal's), where the test uploads that journal."""
    with database.session() as session:
        owner = tenants.dealer_by_slug(session, dealer)
        terminal = tenants.add_terminal(session, owner, number or f"C-{os.getpid()}-{next(_numbers)}", "Test st",
                                        "Europe/Moscow", "", "test")
        code = enrollment.new_enrollment_code(session, terminal, "test", dt.datetime.now(dt.UTC), 1)
        terminal_id = terminal.id
    enroll(server.portal_url, code, server.app.state.services.ca.fingerprint, folder)
    return terminal_id


def queue(server: DealerServer, database: Database, terminal_id: int, kind: str, **arguments: Any) -> str:
    """Queue a command as the portal does (committed, then this server's waiting polls are woken); its id."""
    with database.session() as session:
        terminal = session.get(DealerTerminal, terminal_id)
        assert terminal is not None
        command_id = service.queue(session, terminal, kind, arguments, "admin@acme.test",
                                   dt.datetime.now(dt.UTC)).id
    server.app.state.command_bell.ring(terminal_id)
    return command_id


def command(database: Database, command_id: str) -> Command:
    """A command's row as the service keeps it (with the screenshot's bytes)."""
    with database.session() as session:
        row = session.scalar(select(Command).where(Command.id == command_id))
        assert row is not None
        _ = row.attachment  # loaded while the session is open
        return row


def result(database: Database, command_id: str) -> dict[str, Any]:
    """What the terminal reported."""
    return dict(json.loads(command(database, command_id).result or "{}"))


def turn_until(step: Callable[[], object], predicate: Callable[[], object], seconds: float = 30.0) -> bool:
    """Turn the terminal's loop (as its UI thread would) until predicate() holds; False when time ran out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        step()
        if predicate():
            return True
        time.sleep(0.02)
    return False


def finished(database: Database, command_id: str) -> Callable[[], bool]:
    """A predicate: the command is done, failed or expired."""
    return lambda: command(database, command_id).state in ("done", "failed", "expired")
