"""Corrections on the service side: request one for an uploaded payment (checked, audited), approve or reject it (a
second person, where money moves), send it to the terminal as the remote command `correction`, and take the
terminal's result from that command once it is in. The terminal checks everything again against its own journal and
the gateways before any money moves; the service decides only who may ask and who must agree."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioning import audit
from provisioning.commands import service as commands
from provisioning.commands.models import FINISHED, Command
from provisioning.corrections.models import KINDS, Correction
from provisioning.db.models import Terminal
from provisioning.journal.lookup import by_number, reversal
from provisioning.journal.models import JournalOperation

COMMAND = "correction"  # the remote command's kind (the terminal's HANDLERS)
TTL = timedelta(days=2)  # a correction waits this long for an offline terminal
REFUND_WAYS = ("cash", "transfer", "other")
#: the states of a payment each correction is offered for (the terminal decides again on its own journal)
OFFERED: dict[str, tuple[str, ...]] = {
    "reprocess": ("needs_attention", "committed"),
    "reroute": ("needs_attention",),
    "account": ("needs_attention", "delivered"),
    "refund": ("needs_attention", "delivered"),
}


class CorrectionError(ValueError):
    """A correction that cannot be requested, approved or rejected, saying why (`key`: the portal's words)."""

    def __init__(self, message: str, key: str = "correction_refused", status: int = 400) -> None:
        super().__init__(message)
        self.key, self.status = key, status


#: while the provider has not answered a reversal, only repeating the correction that asked for it can settle it
#: (the terminal refuses a re-process or re-route then: the payment may still be booked)
AFTER_REVERSAL = ("account", "refund")


def offered(state: str, reversal_pending: bool = False) -> list[str]:
    """The corrections a payment in this state may be given."""
    return [kind for kind in KINDS if state in OFFERED[kind] and (not reversal_pending or kind in AFTER_REVERSAL)]


def moves_money(kind: str, state: str, booked_id: str | None = None) -> bool:
    """Whether a second person must approve: a refund, a re-route, an account change of a booked payment (delivered,
    or holding a processing system's id: a reversal of it is under way)."""
    return kind in ("refund", "reroute") or (kind == "account" and (state == "delivered" or bool(booked_id)))


def check_arguments(kind: str, given: dict[str, Any], now: datetime) -> dict[str, Any]:
    """What each kind needs, checked and normalised; anything missing or malformed is refused with the reason."""
    if kind not in KINDS:
        raise CorrectionError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "reroute":
        gateway = str(given.get("gateway", "")).strip()
        if not gateway or len(gateway) > 64:
            raise CorrectionError("gateway: the gateway to pay through instead (its name in the terminal's config)")
        return {"gateway": gateway}
    if kind == "account":
        account = str(given.get("account", "")).strip()
        if not account or len(account) > 100 or any(ch.isspace() for ch in account):
            raise CorrectionError("account: the payer's right account, 1 to 100 characters without spaces")
        return {"account": account}
    if kind == "refund":
        how, by = str(given.get("how", "")), str(given.get("returned_by", "")).strip()
        if how not in REFUND_WAYS:
            raise CorrectionError(f"how: one of {', '.join(REFUND_WAYS)}")
        if not by or len(by) > 200:
            raise CorrectionError("returned_by: who gave the cash back (up to 200 characters)")
        at_text = str(given.get("returned_at", "")).strip()
        try:
            at = datetime.fromisoformat(at_text) if at_text else now
        except ValueError as exc:
            raise CorrectionError("returned_at: a date and time like 2026-11-30T12:00+03:00") from exc
        if at.tzinfo is None:
            raise CorrectionError("returned_at: give the time zone too, like 2026-11-30T12:00+03:00")
        return {"how": how, "returned_by": by, "returned_at": at.isoformat()}
    return {}


def _payment(session: Session, terminal: Terminal, operation: int) -> JournalOperation:
    found = by_number(session, terminal.dealer_id, terminal.number, operation)
    if not found:
        raise CorrectionError(f"terminal {terminal.number} has not uploaded an operation {operation}", "not_found", 404)
    return found[-1][1]  # a number reused after a restore: the newest payment with it


def request(session: Session, terminal: Terminal, operation: int, kind: str, given: dict[str, Any], note: str,
            actor: str, now: datetime, remote: str = "") -> Correction:
    """A new correction (audited); one that moves no money is sent to the terminal at once."""
    if terminal.status == "revoked":
        raise CorrectionError("the terminal is revoked")
    arguments = check_arguments(kind, given, now)
    payment = _payment(session, terminal, operation)
    if payment.state not in OFFERED[kind]:
        raise CorrectionError(f"operation {operation} is {payment.state}: a {kind} correction is only for a payment "
                              f"that is {' or '.join(OFFERED[kind])}", "correction_wrong_state")
    waiting = reversal(session, payment)
    if waiting is not None and kind not in AFTER_REVERSAL:
        raise CorrectionError(f"operation {operation} waits for {waiting.gateway}'s answer to a reversal asked for "
                              f"at {waiting.since}: only repeating the account change or refund that asked for it "
                              "can settle it", "correction_wrong_state")
    open_one = session.scalar(select(Correction.id).where(
        Correction.terminal_id == terminal.id, Correction.operation == operation,
        Correction.state.in_(("requested", "sent"))))
    if open_one is not None:
        raise CorrectionError(f"correction {open_one} of this payment is not finished yet", "correction_open")
    correction = Correction(dealer_id=terminal.dealer_id, terminal_id=terminal.id, operation=operation,
                            op_key=payment.op_key, kind=kind, arguments=json.dumps(arguments, ensure_ascii=False),
                            note=note.strip()[:1000], state="requested",
                            needs_approval=moves_money(kind, payment.state, payment.external_id), requested_by=actor[:200],
                            requested_at=now, result="")
    session.add(correction)
    session.flush()
    audit.record(session, actor=actor, action="correction.request", dealer_id=terminal.dealer_id,
                 target=f"terminal {terminal.number} operation {operation}",
                 after={"id": correction.id, "kind": kind, **arguments, "needs_approval": correction.needs_approval},
                 remote=remote)
    if not correction.needs_approval:
        _send(session, correction, terminal, actor, now, remote)
    return correction


def approve(session: Session, correction: Correction, actor: str, now: datetime, remote: str = "") -> Correction:
    """A second person agrees: the correction goes to the terminal. The requester cannot approve their own."""
    _decidable(correction, actor)
    correction.decided_by, correction.decided_at = actor[:200], now
    terminal = _terminal(session, correction)
    audit.record(session, actor=actor, action="correction.approve", dealer_id=correction.dealer_id,
                 target=f"terminal {terminal.number} operation {correction.operation}",
                 before={"id": correction.id, "state": "requested"}, after={"state": "approved"}, remote=remote)
    _send(session, correction, terminal, actor, now, remote)
    return correction


def reject(session: Session, correction: Correction, actor: str, now: datetime, remote: str = "") -> Correction:
    """A second person refuses: nothing is sent."""
    _decidable(correction, actor)
    correction.decided_by, correction.decided_at = actor[:200], now
    correction.state, correction.finished_at = "rejected", now
    terminal = _terminal(session, correction)
    audit.record(session, actor=actor, action="correction.reject", dealer_id=correction.dealer_id,
                 target=f"terminal {terminal.number} operation {correction.operation}",
                 before={"id": correction.id, "state": "requested"}, after={"state": "rejected"}, remote=remote)
    return correction


def _decidable(correction: Correction, actor: str) -> None:
    if correction.state != "requested" or not correction.needs_approval:
        raise CorrectionError(f"correction {correction.id} is {correction.state}: nothing to approve",
                              "correction_not_pending")
    if actor.strip().lower() == correction.requested_by.strip().lower():
        raise CorrectionError("the person who requested a correction cannot approve it: a second person must",
                              "correction_own", 403)


def _terminal(session: Session, correction: Correction) -> Terminal:
    terminal = session.get(Terminal, correction.terminal_id)
    if terminal is None:
        raise CorrectionError("the terminal is gone", "not_found", 404)
    return terminal


def _send(session: Session, correction: Correction, terminal: Terminal, actor: str, now: datetime,
          remote: str) -> None:
    arguments = {"kind": correction.kind, "correction": correction.id, "operation": correction.operation,
                 "op_key": correction.op_key, "requested_by": correction.requested_by,
                 "approved_by": correction.decided_by or "", "approved": correction.decided_by is not None,
                 "note": correction.note, **json.loads(correction.arguments)}
    try:
        command = commands.queue(session, terminal, COMMAND, arguments, actor, now, TTL, remote, checked=True)
    except commands.CommandError as exc:
        raise CorrectionError(str(exc)) from exc
    correction.command_id, correction.sent_at, correction.state = command.id, now, "sent"


def refresh(session: Session, correction: Correction, now: datetime) -> Correction:
    """Take the terminal's result once its command has finished (done, failed, or expired without a result)."""
    if correction.state != "sent" or correction.command_id is None:
        return correction
    command = session.get(Command, correction.command_id)
    if command is None or command.state not in FINISHED:
        return correction
    try:
        result = json.loads(command.result) if command.result else {}
    except ValueError:
        result = {"text": command.result}
    if command.state == "expired":  # delivered or not, nobody knows it ran: the story on the terminal's upload tells
        result = {**result, "outcome": "unknown" if command.delivered_at else "not run"}
    correction.state = "done" if command.state == "done" else "failed"
    correction.finished_at = command.finished_at or now
    correction.result = json.dumps(result, ensure_ascii=False, default=str)
    terminal = _terminal(session, correction)
    audit.record(session, actor=f"terminal {terminal.number}", action="correction.result",
                 dealer_id=correction.dealer_id, target=f"terminal {terminal.number} operation {correction.operation}",
                 before={"id": correction.id, "state": "sent"},
                 after={"state": correction.state, **({"error": result["error"]} if "error" in result else {})})
    return correction


def one(session: Session, dealer_id: int, correction_id: int, now: datetime) -> Correction:
    """A correction of the dealer's, brought up to date; CorrectionError(404) for anyone else's."""
    found = session.get(Correction, correction_id)
    if found is None or found.dealer_id != dealer_id:
        raise CorrectionError(f"no correction {correction_id}", "not_found", 404)
    return refresh(session, found, now)


def listing(session: Session, dealer_id: int, now: datetime, limit: int = 200) -> list[tuple[Correction, str]]:
    """The dealer's corrections (pending approvals first, then newest first) with their terminal's number."""
    rows = session.execute(select(Correction, Terminal.number).join(Terminal, Terminal.id == Correction.terminal_id)
                           .where(Correction.dealer_id == dealer_id)
                           .order_by(Correction.requested_at.desc(), Correction.id.desc()).limit(limit)).all()
    out = [(refresh(session, c, now), number) for c, number in rows]
    return sorted(out, key=lambda pair: pair[0].state != "requested")


def for_payment(session: Session, terminal_id: int, operation: int, now: datetime) -> list[Correction]:
    """Every correction of one payment, oldest first, brought up to date."""
    rows = session.scalars(select(Correction).where(Correction.terminal_id == terminal_id,
                                                    Correction.operation == operation)
                           .order_by(Correction.requested_at, Correction.id)).all()
    return [refresh(session, c, now) for c in rows]


def as_json(correction: Correction, terminal_number: str) -> dict[str, Any]:
    """A correction for programs (API, CLI --format json)."""
    def stamp(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {"id": correction.id, "terminal": terminal_number, "operation": correction.operation,
            "op_key": correction.op_key, "kind": correction.kind, "arguments": json.loads(correction.arguments),
            "note": correction.note, "state": correction.state, "needs_approval": correction.needs_approval,
            "requested_by": correction.requested_by, "requested_at": stamp(correction.requested_at),
            "decided_by": correction.decided_by, "decided_at": stamp(correction.decided_at),
            "command_id": correction.command_id, "sent_at": stamp(correction.sent_at),
            "finished_at": stamp(correction.finished_at),
            "result": json.loads(correction.result) if correction.result else None}


def steps(correction: Correction) -> list[dict[str, Any]]:
    """Each step with who and when, for the payment's story: requested, approved / rejected, sent, done / failed."""
    out: list[dict[str, Any]] = [{"at": correction.requested_at, "step": "requested", "who": correction.requested_by}]
    if correction.decided_at is not None:
        out.append({"at": correction.decided_at, "who": correction.decided_by,
                    "step": "rejected" if correction.state == "rejected" else "approved"})
    if correction.sent_at is not None:
        out.append({"at": correction.sent_at, "step": "sent to the terminal", "who": ""})
    if correction.finished_at is not None and correction.state in ("done", "failed"):
        result = json.loads(correction.result) if correction.result else {}
        why = result.get("detail") or result.get("state") or ""
        out.append({"at": correction.finished_at, "step": correction.state, "who": "terminal", "detail": why})
    return out


def story_events(corrections: list[Correction]) -> list[dict[str, Any]]:
    """The steps of a payment's corrections as lines of its story (kiosk.story.Story.corrections)."""
    out = []
    for correction in corrections:
        for step in steps(correction):
            who = f" by {step['who']}" if step["who"] else ""
            detail = f" — {step['detail']}" if step.get("detail") else ""
            out.append({"at": step["at"].isoformat(),
                        "text": f"correction {correction.id} ({correction.kind}): {step['step']}{who}{detail}"})
    return out


def story_of(session: Session, terminal_id: int, operation: int, now: datetime) -> list[dict[str, Any]]:
    """A payment's correction steps for its story (every correction of it, up to date)."""
    return story_events(for_payment(session, terminal_id, operation, now))
