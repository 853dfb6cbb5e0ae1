"""Remote commands on the service side: queue one (audited), hand queued ones to the terminal that polls (marked
delivered), record the terminal's result once, and expire what nobody collected in time."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, text
from sqlalchemy.orm import Session

from provisioning import audit
from provisioning.commands.models import FINISHED, KINDS, Command
from provisioning.db.models import Terminal

CHANNEL = "kiosk_commands"  # PostgreSQL NOTIFY channel; the payload is the terminal's id
DEFAULT_TTL = timedelta(hours=1)
#: a command delivered but not answered for this long is handed out again: the reply may have been lost on the way,
#: and the terminal runs a command id at most once, so a repeat only fetches its stored result
REDELIVER_AFTER = timedelta(seconds=60)
MAX_MESSAGE = 200
MAX_RESULT = 64 * 1024  # bytes of JSON kept; a screenshot's PNG goes to the attachment column
MAX_LOG_LINES = 1000


class CommandError(ValueError):
    """A command that cannot be queued or a result that cannot be recorded, saying why."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Delivery:
    """What the terminal receives for one command."""

    id: str
    kind: str
    arguments: dict[str, Any]
    expires_at: str

    def as_json(self) -> dict[str, Any]:
        """The command as the poll's reply lists it."""
        return {"id": self.id, "kind": self.kind, "arguments": self.arguments, "expires_at": self.expires_at}


def check_arguments(kind: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """The arguments a kind takes, checked and normalised; anything else is refused with the reason."""
    if kind not in KINDS:
        raise CommandError(f"unknown command {kind!r}; expected one of {', '.join(KINDS)}")
    if kind == "lock":
        message = str(arguments.get("message", "")).strip()
        if len(message) > MAX_MESSAGE:
            raise CommandError(f"message: at most {MAX_MESSAGE} characters")
        return {"message": message}
    if kind == "log_tail":
        try:
            lines = int(arguments.get("lines", 200))
        except (TypeError, ValueError) as exc:
            raise CommandError("lines: expected a whole number") from exc
        if not 1 <= lines <= MAX_LOG_LINES:
            raise CommandError(f"lines: from 1 to {MAX_LOG_LINES}")
        return {"lines": lines}
    if kind == "fiscal_resolve":
        return _fiscal_resolve(arguments)
    return {}


def _fiscal_resolve(arguments: dict[str, Any]) -> dict[str, Any]:
    """Which fiscal intent, and whether the old fiscal drive made it (then its FD, FP and zoned date-time)."""
    try:
        intent = int(arguments["intent"])
        made = arguments.get("made")
        if not isinstance(made, bool):
            raise ValueError("made: true (the old drive has the document) or false (print it on the new one)")
        if not made:
            return {"intent": intent, "made": False}
        fd, fp, at = int(arguments["fd"]), int(arguments["fp"]), str(arguments["at"])
        if datetime.fromisoformat(at).tzinfo is None:
            raise ValueError("at: a date-time with its zone")
    except (KeyError, TypeError, ValueError) as exc:
        raise CommandError(f"fiscal_resolve: intent, made, and when made fd, fp, at ({exc})") from exc
    return {"intent": intent, "made": True, "fd": fd, "fp": fp, "at": at}


def queue(session: Session, terminal: Terminal, kind: str, arguments: dict[str, Any], actor: str, now: datetime,
          ttl: timedelta = DEFAULT_TTL, remote: str = "", checked: bool = False) -> Command:
    """A new queued command for a terminal, audited; on PostgreSQL every server's waiting poll hears of it at commit.
    `checked`: the caller's own area checked the arguments (e.g. corrections), so they are sent as given."""
    if terminal.status == "revoked":
        raise CommandError("the terminal is revoked")
    args = dict(arguments) if checked else check_arguments(kind, arguments)
    if kind == "fiscal_resolve":
        args["by"] = actor[:200]  # the terminal journals who settled the fiscal intent
    command = Command(dealer_id=terminal.dealer_id, terminal_id=terminal.id, kind=kind, arguments=json.dumps(args),
                      state="queued", created_by=actor[:200], created_at=now, expires_at=now + ttl, result="",
                      attachment_type="", deliveries=0)
    session.add(command)
    session.flush()
    audit.record(session, actor=actor, action="command.queue", dealer_id=terminal.dealer_id,
                 target=f"terminal {terminal.number}", after={"id": command.id, "kind": kind, **args}, remote=remote)
    if session.get_bind().dialect.name == "postgresql":
        # sent when the transaction commits, so a poll never wakes before the row is visible
        session.execute(text("SELECT pg_notify(:channel, :payload)"),
                        {"channel": CHANNEL, "payload": str(terminal.id)})
    return command


def claim(session: Session, terminal_id: int, now: datetime) -> list[Delivery]:
    """The terminal's commands to hand out now, marked delivered: queued ones, and delivered ones left unanswered
    for REDELIVER_AFTER. Expired ones are never handed out, whatever the periodic job has done so far."""
    rows = session.scalars(
        select(Command).where(Command.terminal_id == terminal_id, Command.expires_at > now,
                              or_(Command.state == "queued",
                                  (Command.state == "delivered") & (Command.delivered_at <= now - REDELIVER_AFTER)))
        .order_by(Command.created_at, Command.id).with_for_update(skip_locked=True)).all()
    out = []
    for command in rows:
        command.state, command.delivered_at, command.deliveries = "delivered", now, command.deliveries + 1
        out.append(Delivery(command.id, command.kind, json.loads(command.arguments or "{}"),
                            command.expires_at.isoformat()))
    return out


def record_result(session: Session, terminal_id: int, command_id: str, state: str, result: dict[str, Any],
                  now: datetime, attachment: bytes | None = None, attachment_type: str = "") -> Command:
    """The terminal's outcome of a command, recorded once: a repeat (a reply lost on the way back) changes nothing.
    A late result for a command that expired after delivery is what really happened, so it replaces `expired`."""
    if state not in ("done", "failed"):
        raise CommandError(f"state: expected done or failed, got {state!r}")
    command = session.scalar(select(Command).where(Command.id == command_id, Command.terminal_id == terminal_id)
                             .with_for_update())
    if command is None:
        raise CommandError(f"no command {command_id} for this terminal", 404)
    if command.state in ("done", "failed") or (command.state == "expired" and command.delivered_at is None):
        return command
    before = command.state
    encoded = json.dumps(result, ensure_ascii=False, default=str)
    if len(encoded.encode()) > MAX_RESULT:
        encoded = json.dumps({"truncated": True, "text": encoded[:MAX_RESULT // 2]}, ensure_ascii=False)
    command.state, command.finished_at, command.result = state, now, encoded
    if attachment is not None:
        command.attachment, command.attachment_type = attachment, attachment_type
    terminal = session.get(Terminal, terminal_id)
    audit.record(session, actor=f"terminal {terminal.number if terminal else terminal_id}", action="command.result",
                 dealer_id=command.dealer_id, target=f"terminal {terminal.number if terminal else terminal_id}",
                 before={"id": command.id, "state": before},
                 after={"id": command.id, "kind": command.kind, "state": state,
                        **({"error": result["error"]} if "error" in result else {})})
    return command


def expire(session: Session, now: datetime) -> int:
    """Commands past their expiry and not finished become `expired` (each audited); how many."""
    stale = session.scalars(select(Command).where(Command.state.not_in(FINISHED), Command.expires_at <= now)
                            .with_for_update(skip_locked=True)).all()
    for command in stale:
        before = command.state
        command.state, command.finished_at = "expired", now
        command.result = json.dumps({"error": "not delivered before it expired" if before == "queued"
                                     else "delivered, but no result before it expired"})
        terminal = session.get(Terminal, command.terminal_id)
        audit.record(session, actor="service", action="command.expire", dealer_id=command.dealer_id,
                     target=f"terminal {terminal.number if terminal else command.terminal_id}",
                     before={"id": command.id, "kind": command.kind, "state": before}, after={"state": "expired"})
    return len(stale)


def recent(session: Session, terminal_id: int, limit: int = 50) -> list[Command]:
    """A terminal's newest commands (without screenshots' bytes)."""
    return list(session.scalars(select(Command).where(Command.terminal_id == terminal_id)
                                .order_by(Command.created_at.desc(), Command.id).limit(limit)))
