"""Corrections on the terminal (issue 15): the dealer service sends them as the remote command `correction`; they run
between payments, exactly once by command id, with the outbox's gateways (credentials) and the operation's pinned
attempt, and never pay twice:

- reprocess — resolve an unknown / needs-attention payment at the same gateway with the same ids (the outbox's own
  rule: status query, identical resend, or a person, as the gateway's profile says);
- reroute — pay at another gateway, only after every gateway that got this payment proved by a status query
  (`Gateway.executed`) that it was NOT executed;
- account — a new account: before booking the same cash goes to it once the old request proved unbooked; after
  booking, only once the provider reversed the first payment (`Gateway.cancel`), and under new request ids;
- refund — the payer got the cash back (who, when, how); a delivered payment must be reversed at the provider first.

Every step is journaled (attempts for each request, the operation's `details["corrections"]`, an incident), so the
journal upload brings the result to the dealer service with the command's own result.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from kiosk.dealer_link.commands import HANDLERS, CommandContext, CommandFailed
from kiosk.errors import JournalError
from kiosk.gateways.base import Approved, Declined, Execution, PayOutcome, RetryLater, Route, Unknown
from kiosk.offline_queue.journal import COMMITTED, DELIVERED, NEEDS_ATTENTION, Journal, Operation
from kiosk.offline_queue.journal_corrections import REISSUED_AFTER
from kiosk.offline_queue.operation import NOT_SENT, REISSUED_NONCE
from kiosk.offline_queue.outbox import Outbox, _describe

log = logging.getLogger(__name__)
KINDS = ("reprocess", "reroute", "account", "refund")
REFUND_WAYS = ("cash", "transfer", "other")
DELIVERY_WAIT = 120.0  # seconds a re-process waits for its delivery cycle


class Corrector:
    """Carries out corrections on one terminal's journal with its outbox's router and catalog."""

    def __init__(self, journal: Journal, outbox: Outbox) -> None:
        self.journal, self.outbox = journal, outbox
        self.router = outbox.router

    # -- the four corrections ---------------------------------------------------------------------------------
    def run(self, kind: str, args: dict[str, Any]) -> dict[str, Any]:
        """One correction by kind; a refusal raises CommandFailed with the reason."""
        op = self._operation(args)
        entry = {"correction": args.get("correction"), "kind": kind, "by": str(args.get("requested_by", ""))[:200],
                 "approved_by": str(args.get("approved_by", ""))[:200]}
        if kind == "reprocess":
            return self.reprocess(op, entry)
        if kind == "reroute":
            return self.reroute(op, str(args.get("gateway", "")), entry)
        if kind == "account":
            return self.change_account(op, str(args.get("account", "")), bool(args.get("approved")), entry)
        if kind == "refund":
            return self.refund(op, args, entry)
        raise CommandFailed("unknown_kind", f"no correction {kind!r}; expected one of {', '.join(KINDS)}")

    def reprocess(self, op: Operation, entry: dict[str, Any]) -> dict[str, Any]:
        """Back into the outbox with the same ids; one delivery cycle now (status first where the profile has it)."""
        if op.state == NEEDS_ATTENTION and self._booked(op):
            raise CommandFailed("reversal_pending", "a reversal of this booked payment is unanswered: repeat the "
                                                    "refund or account change that asked for it")
        if op.state == NEEDS_ATTENTION and op.last_outcome == NOT_SENT:
            raise CommandFailed("not_sent", "the money is held as owed and was never sent: change the account "
                                            "or refund it")
        if op.state == NEEDS_ATTENTION:
            self.journal.requeue(op.operation)
            self.journal.note_correction(op.operation, entry, "correction: re-process at the same gateway with "
                                                              "the same ids")
        elif op.state != COMMITTED:
            raise CommandFailed("wrong_state", f"operation {op.operation} is {op.state}; only one that needs "
                                               "attention or waits in the outbox can be re-processed")
        state = self.outbox.deliver_next(op.operation, DELIVERY_WAIT)
        return self._summary(self.journal.get(op.operation), state=state)

    def reroute(self, op: Operation, gateway: str, entry: dict[str, Any]) -> dict[str, Any]:
        """Pay at another gateway once every earlier one proved it did not execute the payment."""
        self._needs_attention(op, "re-routed")
        if gateway not in self.router.gateways:
            raise CommandFailed("no_gateway", f"this terminal has no gateway {gateway!r}")
        route = self._route_at(op, gateway)
        self._prove_not_executed(op, entry, f"re-route to {gateway}")
        op = self.journal.get(op.operation)
        self.journal.note_correction(op.operation, {**entry, "gateway": gateway},
                                     f"correction: re-routed to {gateway} (earlier gateways proved it not executed)")
        outcome, finish = self._request(op, route, "pay")
        kind, code, message, _ = _describe(outcome)
        if isinstance(outcome, Approved):
            self.journal.settle(op.operation, state=DELIVERED, unpin=True, gateway=gateway, finish=finish,
                                external_id=outcome.external_id, last_outcome="approved", last_code="",
                                last_message=outcome.message)
        elif isinstance(outcome, Declined) or (isinstance(outcome, RetryLater) and outcome.not_executed):
            self.journal.settle(op.operation, unpin=True, finish=finish, last_outcome=kind, last_code=code,
                                last_message=message, attention_reason=f"re-routed to {gateway}: not booked "
                                                                       f"({message or code})")
        else:  # the pin stays: a re-process asks this gateway what became of it
            self.journal.settle(op.operation, finish=finish, last_outcome=kind, last_code=code, last_message=message,
                                attention_reason=f"re-routed to {gateway}: outcome unknown ({message}); "
                                                 "re-process to ask its status")
        return self._summary(self.journal.get(op.operation))

    def change_account(self, op: Operation, account: str, approved: bool, entry: dict[str, Any]) -> dict[str, Any]:
        """The cash to a new account: before booking once unbooked is proved, after booking once reversed."""
        account = account.strip()
        if not account or len(account) > 100 or any(ch.isspace() or not ch.isprintable() for ch in account):
            raise CommandFailed("bad_account", "the new account must be 1 to 100 printable characters, no spaces")
        entry = {**entry, "old_account": op.account, "account": account}
        text = f"correction: account {op.account} → {account}"
        if self._booked(op):
            if not approved:
                raise CommandFailed("needs_approval", "the payment is booked: changing its account reverses it at "
                                                      "the provider, which needs a second person's approval")
            self._reverse(op, entry, "account change")
            self.journal.reopen_corrected(op.operation, entry, text + " after the provider reversed the first "
                                          "payment; new request ids", account=account, reissue=True,
                                          was_delivered=True)
        else:
            self._needs_attention(op, "sent to another account", owed_ok=True)
            if op.last_outcome != NOT_SENT:
                self._prove_not_executed(op, entry, "account change")
            # new ids whenever an earlier request carried the old account: a provider keeps what a key was for
            self.journal.reopen_corrected(op.operation, entry, text + " before booking", account=account,
                                          reissue=self.journal.get(op.operation).attempts > 0)
        state = self.outbox.deliver_next(op.operation, DELIVERY_WAIT)
        return self._summary(self.journal.get(op.operation), state=state)

    def refund(self, op: Operation, args: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
        """Record that the payer got the cash back; a booked payment is reversed at the provider first."""
        how = str(args.get("how", ""))
        by, at = str(args.get("returned_by", "")).strip()[:200], str(args.get("returned_at", ""))
        if how not in REFUND_WAYS or not by:
            raise CommandFailed("bad_refund", f"a refund says who returned the cash and how ({', '.join(REFUND_WAYS)})")
        try:
            if datetime.fromisoformat(at).tzinfo is None:
                raise ValueError("no time zone")
        except ValueError as exc:
            raise CommandFailed("bad_refund", f"returned_at: an ISO time with its zone ({exc})") from exc
        if not args.get("approved"):
            raise CommandFailed("needs_approval", "a refund moves money: it needs a second person's approval")
        entry = {**entry, "returned_by": by, "returned_at": at, "how": how, "note": str(args.get("note", ""))[:500]}
        text = (f"refunded {op.money(op.cash)}: returned by {by} at {at} ({how})"
                + (f" — {entry['note']}" if entry["note"] else ""))
        if self._booked(op):
            self._reverse(op, entry, "refund")
            self.journal.refund_corrected(op.operation, entry, text + "; the provider reversed the payment",
                                          was_delivered=True)
        else:
            self._needs_attention(op, "refunded", owed_ok=True)
            if op.last_outcome != NOT_SENT:
                self._prove_not_executed(op, entry, "refund")
            self.journal.refund_corrected(op.operation, entry, text, was_delivered=False)
        return self._summary(self.journal.get(op.operation))

    # -- what every correction relies on ----------------------------------------------------------------------
    def _operation(self, args: dict[str, Any]) -> Operation:
        try:
            op = self.journal.get(int(args["operation"]))
        except (KeyError, TypeError, ValueError, JournalError) as exc:
            raise CommandFailed("not_found", f"no such operation on this terminal: {args.get('operation')}") from exc
        if args.get("op_key") and args["op_key"] != op.idempotency_key:
            raise CommandFailed("not_found", f"operation {op.operation} here is {op.idempotency_key}, not "
                                             f"{args['op_key']} (a number reused after a restore)")
        return op

    def _needs_attention(self, op: Operation, what: str, owed_ok: bool = False) -> None:
        if op.state != NEEDS_ATTENTION:
            raise CommandFailed("wrong_state", f"operation {op.operation} is {op.state}; only a payment that needs "
                                               f"attention can be {what}")
        if op.last_outcome == NOT_SENT and not owed_ok:
            raise CommandFailed("not_sent", "the money is held as owed and was never sent: change the account or "
                                            "refund it")

    def _route_at(self, op: Operation, gateway: str) -> Route:
        provider = self.outbox.catalog.providers.get(op.provider)
        for route in provider.routes if provider else ():
            if route.gateway == gateway:
                return route
        raise CommandFailed("no_route", f"provider {op.provider} has no route at {gateway}")

    def _asked(self, op: Operation) -> dict[str, Route]:
        """The gateways that got a pay (or resend) under the operation's current ids, with the route they got."""
        # after new ids, only requests under them count (the old ones were reversed or proved unbooked)
        cut = int(op.details.get(REISSUED_AFTER, 0)) if REISSUED_NONCE in op.details else 0
        return {a["gateway"]: _route(a["route"]) for a in self.journal.attempt_routes(op.operation)
                if a["id"] > cut and a["verb"] in ("pay", "resend")}

    def _prove_not_executed(self, op: Operation, entry: dict[str, Any], what: str) -> None:
        """Ask every gateway that got this payment whether it executed it; refuse unless each says NOT executed."""
        for name, route in self._asked(op).items():
            gateway = self.router.gateways.get(name)
            if gateway is None:
                raise CommandFailed("cannot_prove", f"{what} refused: gateway {name} got this payment and is no "
                                                    "longer configured, so nobody can prove it was not executed")
            request = op.request(route, _accepted(op))
            attempt = self.journal.begin_attempt(op.operation, route, "status", request.session_id)
            try:
                answer = gateway.executed(request)
            except Exception as exc:  # an adapter bug is no proof of anything
                log.exception("executed() at %s raised for operation %d", name, op.operation)
                answer, why = Execution.UNKNOWN, f"{type(exc).__name__}: {exc}"
            else:
                why = ""
            finish = (attempt, {Execution.EXECUTED: "approved", Execution.NOT_EXECUTED: "retry_not_executed",
                                Execution.UNKNOWN: "unknown"}[answer], "", why or f"correction: {answer}", "")
            if answer is Execution.NOT_EXECUTED:
                self.journal.settle(op.operation, unpin=True, finish=finish)
                continue
            # executed or unknown: the pin stays, so a re-process settles what the gateway says
            self.journal.settle(op.operation, finish=finish, attention_reason=(
                f"{what} refused: the status query at {name} says "
                + ("it WAS executed; re-process to record the booking" if answer is Execution.EXECUTED
                   else "nothing certain; re-process or ask the provider")))
            self.journal.note_correction(op.operation, {**entry, "refused": str(answer), "gateway": name},
                                         f"correction refused ({what}): status at {name} → {answer}")
            raise CommandFailed("executed" if answer is Execution.EXECUTED else "not_proved",
                                f"{what} refused: the status query at {name} answered {answer}, not "
                                "'not executed'")

    def _reverse(self, op: Operation, entry: dict[str, Any], what: str) -> None:
        """Ask the gateway that booked the payment to reverse it; refuse unless it confirms."""
        name = op.gateway or ""
        gateway = self.router.gateways.get(name)
        if gateway is None or not gateway.cancellable:
            raise CommandFailed("not_cancellable", f"{what} refused: the payment was booked at {name or '—'}, "
                                                   "whose protocol cannot reverse a payment; ask the provider")
        route = self._booked_route(op, name)
        request = op.request(route, _accepted(op))
        attempt = self.journal.begin_attempt(op.operation, route, "cancel", request.session_id)
        try:
            outcome: PayOutcome = gateway.cancel(request, op.external_id or "")
        except Exception as exc:  # an adapter bug is not a reversal
            log.exception("cancel at %s raised for operation %d", name, op.operation)
            outcome = RetryLater(f"adapter error: {type(exc).__name__}: {exc}")
        finish = (attempt, *_describe(outcome))
        kind, code, message, _ = finish[1:]
        if isinstance(outcome, Approved):
            self.journal.settle(op.operation, unpin=True, finish=finish)
            return
        if isinstance(outcome, Declined):  # a definite no: nothing was reversed, the payment stays as it was
            self.journal.settle(op.operation, unpin=op.state == DELIVERED, finish=finish)
            why = f"{name} refused the reversal ({message or code}); the payment stays booked"
        else:  # nobody knows whether it was reversed: a person must see it, and a repeat asks again
            self.journal.settle(op.operation, state=NEEDS_ATTENTION, finish=finish, attention_reason=(
                f"{what}: the reversal at {name} is unknown ({message or code}); repeat the correction to ask again"))
            why = f"the reversal at {name} is unknown ({kind}: {message or code}); repeat the correction"
        self.journal.note_correction(op.operation, {**entry, "refused": kind},
                                     f"correction refused ({what}): cancel at {name} → {kind} {message or code}")
        raise CommandFailed("not_cancelled", f"{what} refused: {why}")

    def _booked(self, op: Operation) -> bool:
        """Delivered, or delivered and then asked to reverse without an answer (the pin is on the cancel)."""
        if op.state == DELIVERED:
            return True
        attempts = self.journal.attempts(op.operation) if op.state == NEEDS_ATTENTION and op.pinned_gateway else []
        return bool(attempts) and attempts[-1]["verb"] == "cancel" and bool(op.external_id)

    def _booked_route(self, op: Operation, gateway: str) -> Route:
        """The route the booking at `gateway` was made on (the cancel must name the same provider code)."""
        for attempt in reversed(self.journal.attempt_routes(op.operation)):
            if attempt["gateway"] == gateway and attempt["outcome"] == "approved" and attempt["verb"] in (
                    "pay", "resend", "status"):
                return _route(attempt["route"])
        return self._route_at(op, gateway)

    def _request(self, op: Operation, route: Route, verb: str) -> tuple[PayOutcome, tuple[int, str, str, str, str]]:
        """One journaled request at a gateway (pinned before it leaves), like the outbox's own attempts."""
        gateway = self.router.gateways[route.gateway]
        request = op.request(route, _accepted(op))
        attempt = self.journal.begin_attempt(op.operation, route, verb, request.session_id)
        try:
            outcome: PayOutcome = gateway.pay(request)
        except Exception as exc:  # an adapter bug must not be mistaken for "not booked"
            log.exception("gateway %s raised during a correction of operation %d", route.gateway, op.operation)
            outcome = Unknown(f"adapter error: {type(exc).__name__}: {exc}")
        self.router.record(route.gateway, outcome)
        return outcome, (attempt, *_describe(outcome))

    def _summary(self, op: Operation, state: str | None = None) -> dict[str, Any]:
        key, txn, session = op.request_ids()
        return {"operation": op.operation, "state": state or op.state, "booked": op.booked(), "account": op.account,
                "gateway": op.gateway, "external_id": op.external_id, "attention_reason": op.attention_reason,
                "request_ids": {"key": key, "txn_id": txn, "session": session}}


def _accepted(op: Operation) -> datetime:
    return datetime.fromisoformat(op.committed_at or op.created_at)


def _route(data: dict[str, Any]) -> Route:
    return Route(data["gateway"], data["provider_code"], data["options"])


def correction(ctx: CommandContext, args: dict[str, Any]) -> dict[str, Any]:
    """The remote command `correction`: run it between payments with the terminal's outbox."""
    kind = str(args.get("kind", ""))
    if kind not in KINDS:
        raise CommandFailed("unknown_kind", f"no correction {kind!r}; expected one of {', '.join(KINDS)}")
    terminal = ctx.terminal
    result = ctx.between_payments(f"correction {kind}", lambda: Corrector(terminal.journal, terminal.outbox)
                                  .run(kind, args))
    fiscal = terminal.receipts.fiscal
    if kind == "refund" and fiscal is not None and fiscal.makes_refunds:  # cash went back: return of income
        op = terminal.journal.get(int(args["operation"]))
        result["fiscal_refund"] = ctx.between_payments("fiscal refund receipt", lambda: fiscal.refund(op))
    return result


HANDLERS["correction"] = correction
