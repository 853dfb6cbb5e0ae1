"""The outbox: delivers committed operations exactly once, through the router, surviving restarts.

The rules, in the order they are applied to one operation:
1. An attempt is journaled (and its gateway pinned) before the request leaves.
2. A pinned operation is resolved first, at the same gateway, the way that gateway's profile allows: its
   status query, else an identical resend where a repeat cannot book twice, else a person (needs attention;
   never a blind resend to a provider that books every repeat again). Only an answer that the payment was
   never registered unpins it; where that answer also says the session is unknown (CyberPlat ERROR=11), a new
   session is journaled with it, before any request carries it.
3. Unpinned, routes are tried in the router's order. Moving to the next route is allowed only after an
   outcome that proves nothing was booked: RetryLater(not_executed=True), or a decline that is about the route
   (dealer balance, provider unavailable at that gateway) rather than about the payment.
4. Unknown and plain RetryLater keep the pin and come back after an exponential backoff with jitter.
5. A final decline, or a lifetime without delivery, makes the operation needs_attention: money taken, not
   delivered, visible to support. Nothing is ever dropped.

Scheduling: each gateway has its own number of request slots (option `max_concurrency`, default the outbox's
concurrency): at most that many requests are at the gateway at once. Each gateway also has a lane (lanes.py): a
queue of due operations and workers that take the next one the moment they have finished one. The background
loop reads due operations in one query per refill, when a lane runs low, not once per payment, and hands each
worker the row it read; the first write of a delivery checks that the row is still that one (change_seq), so a
row changed since is read again, never acted on.

Where a gateway's profile resolves an unknown outcome by itself (a status query, or a resend that cannot book
twice), the loop also journals the refill's first attempts, all in one write, so its workers (one per slot) only
send; a crash before they leave leaves attempts that the profile resolves on restart, and a stop finishes those
still waiting as not sent. Where an unknown outcome would need a person, each worker journals its own attempt
just before its request, and the lane has twice its slots' workers and two, so some journal while others keep
the gateway busy. Outcomes are written without waiting (nothing acts on one before it is durable) and ride in the
next commit: the loop's refill, a worker's attempt, or the worker's own when its lane runs dry; plain ones share a
statement (journal_batches.py). A request that hangs holds one worker and one slot of its own gateway until its
own deadline; every other operation keeps moving (no head-of-line blocking).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kiosk.catalog import Catalog
from kiosk.gateways.base import (
    Approved,
    Code,
    Declined,
    PaymentRequest,
    PayOutcome,
    RetryLater,
    Route,
    Unknown,
)
from kiosk.gateways.deadline import SERVER_DATES
from kiosk.gateways.profiles import Resolution
from kiosk.gateways.router import Router
from kiosk.offline_queue.journal import COMMITTED, DELIVERED, NEEDS_ATTENTION, Journal, Operation
from kiosk.offline_queue.journal_batches import Finish
from kiosk.offline_queue.journal_writes import PendingWrite
from kiosk.offline_queue.lanes import Lanes, Slots

log = logging.getLogger(__name__)

# Declines that speak about the route, not the payment: another gateway may well book it.
# Beyond this, a signature refused by a server is blamed on the terminal's clock (seconds).
CLOCK_SKEW_LIMIT = 60.0
# A skew that has not moved is journaled again after this long (seconds).
CLOCK_NOTE_SECONDS = 60.0
FAILOVER_CODES = frozenset({Code.DEALER_BALANCE_LOW, Code.PROVIDER_UNAVAILABLE, Code.AUTH_FAILED, Code.TEMPORARY})


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A delivery whose first attempt the loop has journaled already: the routes it planned, and that attempt."""

    op: Operation  # as read before the attempt was journaled
    routes: list[Route]
    attempt: int
    request: PaymentRequest  # the first route's, whose SESSION the attempt names


class _Stale(Exception):
    """The operation changed after the loop read it: the delivery reads it afresh before anything leaves."""


def _request(op: Operation, route: Route) -> PaymentRequest:
    """The gateway request for an operation on a route; accepted when the payer committed it."""
    return op.request(route, datetime.fromisoformat(op.committed_at or op.created_at))


def _new_session(outcome: PayOutcome | None) -> bool:
    """Whether the gateway proved the operation's session unknown and wants a new one (never otherwise)."""
    return isinstance(outcome, RetryLater) and outcome.not_executed and outcome.new_session


def _describe(outcome: PayOutcome) -> tuple[str, str, str, str]:
    """(outcome kind, code, message, external id) for the journal."""
    if isinstance(outcome, Approved):
        return "approved", "", outcome.message, outcome.external_id
    if isinstance(outcome, Declined):
        return "declined", str(outcome.code), outcome.message, ""
    if isinstance(outcome, RetryLater):
        return ("retry_not_executed" if outcome.not_executed else "retry"), outcome.gateway_code, outcome.reason, ""
    return "unknown", "", outcome.reason, ""


class Outbox:
    """Delivers committed operations; one delivery at a time per operation, a bounded number per gateway."""

    def __init__(self, journal: Journal, router: Router, catalog: Catalog, *, concurrency: int = 4,
                 backoff_base: float = 5.0, backoff_max: float = 900.0, lifetime: int = 24 * 3600,
                 rng: random.Random | None = None,
                 on_settled: Callable[[int, str], None] | None = None) -> None:
        self.journal, self.router, self.catalog = journal, router, catalog
        self.backoff_base, self.backoff_max, self.lifetime = backoff_base, backoff_max, lifetime
        self.rng = rng or random.Random()
        self.on_settled = on_settled
        self.limits = {name: max(1, int(gateway.options.get("max_concurrency", concurrency)))
                       for name, gateway in router.gateways.items()}
        self._request_slots = {name: Slots(n) for name, n in self.limits.items()}
        # a lane per gateway. Where the loop journals first attempts ahead (dispatch), a worker only sends: its
        # slots' worth of workers (more would only queue for the slots, a thread switch per payment). Where each
        # worker journals its own attempt (a profile that needs a person for an unknown outcome), as many more
        # and two, so the next request is ready the moment a slot frees even while the disk syncs, and the
        # workers' writes share commits (measured: slots + slots/2 left the slots idle behind the disk).
        # Operations with no route to try have a small lane of their own.
        # A lane journaled ahead holds five workers' worth waiting, so a refill (one read, one write) comes every
        # two and a half rounds of its workers; a crash leaves at most six workers' worth of unsent attempts, each
        # resolved by the profile's status query or resend on restart. (Measured at zero latency: three workers'
        # worth made 10 % more thread switches per payment and half as many payments per commit again.)
        ahead = {name for name, gateway in router.gateways.items()
                 if gateway.profile.resolution("unknown") is not Resolution.ATTENTION}
        lanes: dict[str | None, int] = {name: n if name in ahead else 2 * n + 2 for name, n in self.limits.items()}
        lanes[None] = 2
        self._lanes = Lanes(lanes, self._run, self.kick, {name: 6 * self.limits[name] for name in ahead})
        self._busy_lock = threading.Lock()
        # operations as the loop's one read per refill found them, for their workers: no read per payment (whose
        # lock the workers queued for, ~14 context switches a payment); the first write checks each is unchanged
        self._snapshots: dict[int, Operation] = {}
        self._prepared: dict[int, _Prepared] = {}  # deliveries whose first attempt the loop journaled
        self._worker = threading.local()  # on a lane's worker: release (its delivery's) and pending (its last write)
        self._clock_noted: tuple[float, float] | None = None  # (monotonic, skew) last journaled
        # Server dates are kept per process; one seen before this outbox existed is not this terminal's evidence.
        self._born = time.monotonic()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- policy ---------------------------------------------------------------------------------
    def backoff(self, attempts: int) -> float:
        """Seconds until the next attempt: exponential, capped, with 'equal jitter' against thundering herds."""
        delay = min(self.backoff_max, self.backoff_base * 2 ** max(0, attempts - 1))
        return float(delay / 2 + self.rng.uniform(0, delay / 2))

    def _now_ms(self) -> int:
        return int(self.journal.now().timestamp() * 1000)

    def _schedule(self, op: Operation, unpin: bool, outcome: PayOutcome, finish: Finish | None = None) -> str:
        kind, code, message, _ = _describe(outcome)
        delay_ms = int(self.backoff(op.attempts + 1) * 1000)
        return self._last_write(op.operation, COMMITTED, unpin=unpin, next_attempt_ms=self._now_ms() + delay_ms,
                                finish=finish, last_outcome=kind, last_code=code, last_message=message)

    def _last_write(self, operation: int, leaves: str, **settle: Any) -> str:
        """A delivery cycle's last journal write (settle); returns the state it leaves the operation in.

        On a lane's worker it is queued, not waited for: writes are committed in the order they are queued, so
        the worker's next delivery's first write (its attempt, waited for before that request leaves) carries
        this one in the same transaction, and a worker waits for the disk once per payment instead of twice.
        Nothing acts on this outcome before it is durable: the delivery is complete (its number free again,
        on_settled called) only from the write's callback, after the commit.
        """
        worker = self._worker
        release = getattr(worker, "release", None)
        if release is None:  # not a lane's worker (a direct deliver()): durable before this returns
            self.journal.settle(operation, **settle)
            return leaves
        worker.release = None

        def durable(error: BaseException | None) -> None:
            final = leaves
            if error is not None:
                log.error("operation %d: its delivery's outcome could not be journaled (%s); it stays in the "
                          "outbox", operation, error)
                final = COMMITTED
            try:
                self._notify(operation, final)
            finally:
                release()

        worker.pending = self.journal.settle(operation, then=durable, **settle)
        return leaves

    def _attention(self, op: Operation, reason: str, outcome: PayOutcome | None = None, unpin: bool = True,
                   finish: Finish | None = None) -> str:
        kind, code, message, _ = _describe(outcome) if outcome else ("", "", "", "")
        log.error("operation %d needs attention: %s", op.operation, reason)
        return self._last_write(op.operation, NEEDS_ATTENTION, state=NEEDS_ATTENTION, unpin=unpin,
                                attention_reason=reason, finish=finish, last_outcome=kind or op.last_outcome,
                                last_code=code or op.last_code, last_message=message or op.last_message,
                                new_session=_new_session(outcome))

    # -- one operation --------------------------------------------------------------------------
    def _attempt(self, op: Operation, route: Route, verb: str,
                 expect: int | None = None) -> tuple[PayOutcome, Finish]:
        """One journaled request, holding one of the gateway's request slots while it is at the gateway.

        Returns the outcome and its record for the journal, which the caller writes together with what the
        operation becomes (one transaction instead of two). `expect`: the change_seq of the copy `op` is; if the
        row has changed since, nothing is sent and _Stale is raised.
        """
        request = _request(op, route)
        # Journaled (and pinned) before the slot is taken, so the slot covers only the exchange and the gateway is
        # never idle while the disk syncs; a crash while waiting for the slot leaves an "unknown" that the
        # profile resolves like any other.
        attempt = self.journal.begin_attempt(op.operation, route, verb, request.session_id, expect=expect)
        if not attempt:
            raise _Stale(op.operation)
        return self._exchange(op, route, verb, attempt, request)

    def _exchange(self, op: Operation, route: Route, verb: str, attempt: int,
                  request: PaymentRequest) -> tuple[PayOutcome, Finish]:
        """The request of an attempt journaled already, in one of its gateway's slots; see _attempt."""
        gateway = self.router.gateways[route.gateway]
        slot = self._request_slots.get(route.gateway) or Slots(1)
        with slot:  # waits only for this gateway's own requests, each bounded by its timeout
            try:
                if verb == "pay":
                    outcome = gateway.pay(request)
                elif verb == "resend":
                    outcome = gateway.resend(request)
                else:
                    outcome = gateway.status(request)
            except Exception as exc:  # an adapter bug must not be mistaken for "not booked"
                log.exception("gateway %s raised during %s of operation %d", route.gateway, verb, op.operation)
                outcome = Unknown(f"adapter error: {exc.__class__.__name__}: {exc}")
        self.router.record(route.gateway, outcome)
        finish: Finish = (attempt, *_describe(outcome))  # the attempt's own outcome, whatever it is taken for
        if self._auth_time_fault(outcome):
            # Signatures carry the time: a server refusing them while our clock is off will accept the very
            # same payment once the clock is right. Retry later (nothing was processed); never a decline.
            why = finish[3] or finish[2]
            self.journal.incident("clock", f"{route.gateway} refused authentication ({why}) and the terminal "
                                           "clock is off or unknown; retrying later", op.operation)
            return RetryLater(f"authentication refused, clock suspected: {why}", not_executed=True,
                              gateway_code="clock"), finish
        self._note_clock()
        return outcome, finish

    def _approved(self, op: Operation, route: Route, outcome: Approved, finish: Finish) -> str:
        return self._last_write(op.operation, DELIVERED, state=DELIVERED, unpin=True, gateway=route.gateway,
                                finish=finish, external_id=outcome.external_id, last_outcome="approved",
                                last_code="", last_message=outcome.message)

    def _unresolvable(self, op: Operation, gateway: str, why: str, outcome: PayOutcome | None = None,
                      finish: Finish | None = None) -> str:
        profile = self.router.gateways[gateway].profile.name
        return self._attention(op, f"outcome unknown at {gateway} ({why}); its profile {profile!r} books a "
                                   "repeated pay again and has no status query, so it is not resent: ask the "
                                   "provider whether it was booked", outcome, unpin=False, finish=finish)

    def deliver(self, number: int, snapshot: Operation | None = None, prepared: _Prepared | None = None) -> str:
        """One delivery cycle for one operation; returns its state afterwards.

        `snapshot`: the operation as the loop read it. It is used only for the common case (committed, unpinned,
        in its lifetime, its provider known), and only while the first attempt's write finds the row unchanged;
        otherwise the cycle starts again from the operation as it is now. `prepared`: the loop has journaled the
        first attempt already (on that same condition): the cycle starts with its request.
        """
        if prepared is not None and prepared.op.operation == number:
            return self._pay(prepared.op, prepared.routes, None, prepared)
        if snapshot is not None and snapshot.operation == number:
            try:
                return self._deliver(snapshot, fresh=False)
            except _Stale:
                pass
        op = self.journal.committed(number)  # its own writes are all committed: no wait behind others'
        return self._deliver(op, fresh=True)

    def _deliver(self, op: Operation, fresh: bool) -> str:
        number = op.operation
        if op.state != COMMITTED:
            if not fresh:
                raise _Stale(number)
            return op.state
        provider = self.catalog.providers.get(op.provider)
        if not fresh and (op.pinned_gateway or provider is None or self._expired(op)):
            raise _Stale(number)  # anything but the plain case is decided on the row as it is now
        if self._expired(op):
            return self._expire(op)

        if op.pinned_gateway:
            route, outcome, final, finish = self._ask_pinned(op, "")
            if final is not None or outcome is None:
                return final or NEEDS_ATTENTION
            if not (isinstance(outcome, RetryLater) and outcome.not_executed):
                return self._schedule(self.journal.get(number), unpin=False, outcome=outcome, finish=finish)
            self.journal.settle(number, unpin=True, next_attempt_ms=op.next_attempt_ms, finish=finish,
                                new_session=_new_session(outcome))
            op = self.journal.get(number)

        if provider is None:
            return self._attention(op, f"provider {op.provider} is no longer in the catalog")
        # The amount lets the router skip a gateway whose dealer balance cannot cover this payment.
        return self._pay(op, self.router.plan(provider, amount=op.money(op.credited)),
                         None if fresh else op.change_seq)

    def _pay(self, op: Operation, routes: list[Route], expect: int | None, prepared: _Prepared | None = None) -> str:
        """Pay along the routes in order, moving on only where nothing can have been booked.

        `expect`: the change_seq the first attempt's write must find (a copy read by the loop); `prepared`: that
        attempt is journaled already.
        """
        number = op.operation
        last: PayOutcome | None = None
        for route in routes:
            if prepared is not None:
                outcome, finish = self._exchange(op, route, "pay", prepared.attempt, prepared.request)
                prepared = None
            else:
                outcome, finish = self._attempt(op, route, "pay", expect)
            expect = None  # checked by the first write; later ones follow from it
            if isinstance(outcome, Approved):
                return self._approved(op, route, outcome, finish)
            if isinstance(outcome, Declined):
                if outcome.code not in FAILOVER_CODES:
                    return self._attention(op, f"declined by {route.gateway}: {outcome.message or outcome.code}",
                                           outcome, finish=finish)
            elif isinstance(outcome, Unknown) and self.router.gateways[route.gateway].profile.resolution(
                    "unknown") is Resolution.ATTENTION:
                return self._unresolvable(self.journal.get(number), route.gateway, outcome.reason, outcome, finish)
            elif not (isinstance(outcome, RetryLater) and outcome.not_executed):
                return self._schedule(self.journal.get(number), unpin=False, outcome=outcome, finish=finish)
            self.journal.settle(number, unpin=True, next_attempt_ms=op.next_attempt_ms, finish=finish,
                                new_session=_new_session(outcome))
            if _new_session(outcome):
                op = self.journal.get(number)  # the next route's request carries the SESSION just journaled
            last = outcome
        op = self.journal.get(number)
        if isinstance(last, Declined):
            return self._attention(op, f"declined by every route: {last.message or last.code}", last)
        return self._schedule(op, unpin=True, outcome=last or RetryLater("no route reachable", not_executed=True))

    # -- lifetime -------------------------------------------------------------------------------
    def _expired(self, op: Operation) -> bool:
        # A requeue restarts the lifetime: support asked for a fresh try, not an immediate bounce.
        start = datetime.fromisoformat(op.lifetime_from or op.committed_at or op.created_at)
        return (self.journal.now() - start).total_seconds() > self.lifetime

    def _ask_pinned(self, op: Operation, why: str) -> tuple[Route, PayOutcome | None, str | None, Finish | None]:
        """Resolve the attempt an operation is pinned to, the way its gateway's profile allows: a status query,
        an identical resend, or a person. (route, outcome, final state or None, the attempt's record)."""
        route = op.route() or Route(op.pinned_gateway or "")
        gateway = self.router.gateways.get(route.gateway)
        if gateway is None:
            return route, None, self._attention(op, f"{why}booked: unknown — gateway {route.gateway} left the "
                                                    "configuration with an attempt there unresolved",
                                                unpin=False), None
        attempts = self.journal.attempts(op.operation)
        last = str(attempts[-1]["outcome"] or "unknown") if attempts else "unknown"
        how = gateway.profile.resolution(last)
        if how is Resolution.ATTENTION:
            return route, None, self._unresolvable(op, route.gateway, f"{why}last attempt: {last}"), None
        outcome, finish = self._attempt(op, route, "status" if how is Resolution.STATUS else "resend")
        if isinstance(outcome, Approved):
            return route, outcome, self._approved(op, route, outcome, finish), finish
        if isinstance(outcome, Declined):
            return route, outcome, self._attention(
                op, f"declined by {route.gateway}: {outcome.message or outcome.code}", outcome, finish=finish), finish
        return route, outcome, None, finish

    def _expire(self, op: Operation) -> str:
        """The lifetime is over; an outcome nobody knows is first asked about at the gateway that has it."""
        why = f"not delivered within {self.lifetime / 3600:g} h; "
        if not op.pinned_gateway:
            return self._attention(op, why + "nothing was booked", unpin=False)
        # The clock may simply be ahead: the payment may well be booked. Ask before giving up.
        route, outcome, final, finish = self._ask_pinned(op, why)
        if final is not None or outcome is None:
            return final or NEEDS_ATTENTION
        if isinstance(outcome, RetryLater) and outcome.not_executed:
            return self._attention(op, why + f"{route.gateway} confirms nothing was booked", outcome, unpin=True,
                                   finish=finish)
        return self._attention(op, why + f"booked: unknown — the status query at {route.gateway} got no answer "
                                          f"({_describe(outcome)[2]}); requeue to ask again", outcome, unpin=False,
                               finish=finish)

    # -- clocks -----------------------------------------------------------------------------------
    def _note_clock(self) -> float | None:
        """Journal the skew the newest reply's Date shows; returns it (terminal minus server, seconds).

        Journaled when it moved by a second or more, crossed the limit, or a minute has passed: a durable write
        after every reply would cost the drain a disk sync per payment for a figure that rarely changes.
        """
        latest = SERVER_DATES.latest()
        measured = SERVER_DATES.skew_seconds(self.journal.now())
        if measured is None or latest is None or latest.received_monotonic < self._born:
            return None
        source, skew = measured
        now = time.monotonic()
        with self._busy_lock:
            last = self._clock_noted
            due = (last is None or now - last[0] >= CLOCK_NOTE_SECONDS or abs(skew - last[1]) >= 1.0
                   or (abs(skew) > CLOCK_SKEW_LIMIT) != (abs(last[1]) > CLOCK_SKEW_LIMIT))
            if due:
                self._clock_noted = (now, skew)
        if due:
            self.journal.record_clock_skew(source, skew, CLOCK_SKEW_LIMIT)
        return skew

    def _auth_time_fault(self, outcome: PayOutcome) -> bool:
        """An authentication refusal while the clock is off is the clock's fault, not the payment's."""
        if not (isinstance(outcome, Declined) and outcome.code == Code.AUTH_FAILED):
            return False
        skew = self._note_clock()
        return skew is None or abs(skew) > CLOCK_SKEW_LIMIT

    # -- many operations ------------------------------------------------------------------------
    def _run(self, number: int, release: Callable[[], None]) -> Callable[[], None] | None:
        """One delivery on a lane's worker; a failure leaves the operation in the outbox, never lost.

        Returns None when the delivery is complete, or how to make its last write durable now (see _last_write).
        """
        worker = self._worker
        worker.release, worker.pending = release, None
        try:
            state = self.deliver(number, self._snapshots.pop(number, None), self._prepared.pop(number, None))
        except Exception:
            log.exception("delivery of operation %d failed; it stays in the outbox", number)
            state = COMMITTED
        finally:
            left, worker.release = worker.release, None
            pending, worker.pending = worker.pending, None
        if left is not None:  # no write left waiting for the disk: complete now
            try:
                self._notify(number, state)
            finally:
                left()
            return None
        return functools.partial(self._make_durable, pending)

    def _make_durable(self, pending: PendingWrite) -> None:
        with contextlib.suppress(Exception):  # a failed write has been reported by its own callback
            self.journal.durable(pending)

    def _notify(self, number: int, state: str) -> None:
        if self.on_settled is not None:
            self.on_settled(number, state)

    def submit(self, number: int) -> bool:
        """Deliver one operation next, ahead of the queue (a payer waits for it) unless it is on its way already."""
        op = self.journal.get(number)
        return self._lanes.offer(number, self._target(op.pinned_gateway, op.provider), urgent=True)

    def deliver_next(self, number: int, timeout: float) -> str:
        """Deliver one operation next (or let the delivery on its way finish); its state afterwards (a support
        correction waits for its cycle). A full lane leaves it to the loop: the state is then still 'committed'."""
        self.submit(number)
        if not self._lanes.wait([number], timeout=timeout):
            raise TimeoutError(f"operation {number}: its delivery is still in flight after {timeout:g} s")
        return self.journal.get(number).state

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Block until the deliveries queued or in flight now are over (simulation and tests)."""
        if not self._lanes.wait(timeout=timeout):
            raise TimeoutError(f"outbox deliveries still in flight after {timeout:g} s")

    def _target(self, pinned: str | None, provider_id: str) -> str | None:
        """The gateway an operation's next request will go to: its pin, else its provider's first open route."""
        if pinned:
            return pinned if pinned in self.limits else None
        provider = self.catalog.providers.get(provider_id)
        for route in provider.routes if provider else ():
            if route.gateway in self.router.gateways and self.router.state(route.gateway) != "open":
                return route.gateway
        return None  # no route to try: the cycle only reschedules, on the lane of its own

    def dispatch(self) -> list[int]:
        """Queue due operations on their gateways' lanes while there is room; returns the numbers queued.

        One read for the whole round, and one write: the first attempts of the plain ones (committed, unpinned,
        at gateways whose profile resolves an unknown outcome by itself) are journaled here, together, so their
        workers only send; a crash before they are sent leaves attempts that the profile resolves on restart.
        Each operation's write finds its row as read (change_seq) or skips it; the others' workers check so too.
        """
        room = self._lanes.room()
        if room <= 0:
            return []
        queued: list[int] = []
        starts: list[tuple[int, Route, str, str | None, int | None]] = []
        plans: dict[int, tuple[Operation, list[Route], PaymentRequest]] = {}
        targets: dict[tuple[str | None, str], str | None] = {}  # the breakers are asked once per round
        for op in self.journal.due_operations(self._now_ms(), limit=room, skip=self._lanes.busy_numbers()):
            number, pinned, provider = op.operation, op.pinned_gateway, op.provider
            routes = self._plan_ahead(op)
            if routes:
                target: str | None = routes[0].gateway
            else:
                target = targets.get((pinned, provider), "")
                if target == "":
                    target = targets[pinned, provider] = self._target(pinned, provider)
            if not self._lanes.reserve(number, target):
                continue  # a full lane: the next one may be for another gateway
            queued.append(number)
            if routes:
                request = _request(op, routes[0])
                starts.append((number, routes[0], "pay", request.session_id, op.change_seq))
                plans[number] = (op, routes, request)
            else:
                self._snapshots[number] = op
        try:
            attempts = self.journal.begin_attempts(starts)
        except Exception:
            for number in queued:
                self._snapshots.pop(number, None)
                self._lanes.unreserve(number)
            raise
        for (number, *_), attempt in zip(starts, attempts, strict=True):
            if attempt:  # else the row moved on since it was read: its worker reads it afresh
                op, routes, request = plans[number]
                self._prepared[number] = _Prepared(op, routes, attempt, request)
        for number in queued:
            self._lanes.enqueue(number)
        return queued

    def _plan_ahead(self, op: Operation) -> list[Route] | None:
        """The routes of a plain delivery whose first attempt the loop may journal; None for any other."""
        provider = self.catalog.providers.get(op.provider)
        if op.state != COMMITTED or op.pinned_gateway or provider is None or self._expired(op):
            return None
        for route in provider.routes:  # every route's gateway: a later one may be the first one planned
            gateway = self.router.gateways.get(route.gateway)
            if gateway is not None and gateway.profile.resolution("unknown") is Resolution.ATTENTION:
                return None  # journaled ahead and lost in a crash, it would need a person: the worker journals it
        return self.router.plan(provider, amount=op.money(op.credited)) or None

    def run_due(self, wait: bool = True) -> int:
        """Start every due operation its gateway has room for; with wait, block until they finish."""
        started = self.dispatch()
        if wait:
            self._lanes.wait(started)
        return len(started)

    def kick(self) -> None:
        """Wake the background loop (a new operation was committed)."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                started = self.dispatch()
            except Exception:  # a journal read that failed once must not end delivery for good
                log.exception("the outbox could not read due operations; trying again shortly")
                self._wake.wait(1.0)
                continue
            if started:
                self._wake.wait(0.5)  # more may be due: a lane running low (or a kick) wakes us
                continue
            next_ms, now_ms = self.journal.next_due_ms(), self._now_ms()
            if next_ms is None:
                timeout = 5.0
            elif next_ms <= now_ms:
                timeout = 0.5  # due but not queued (in flight, or its lane is full): a lane running low wakes us
            else:
                timeout = min(5.0, (next_ms - now_ms) / 1000)
            self._wake.wait(timeout)

    def start(self) -> None:
        """Deliver in the background until stop()."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="outbox-loop", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the loop and wait for attempts in flight to be journaled (queued ones stay due in the journal)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        for number in self._lanes.close():
            prepared = self._prepared.pop(number, None)
            if prepared is not None:  # no worker took it: its journaled attempt provably never left
                with contextlib.suppress(Exception):  # else its profile resolves it as an unknown one on restart
                    self.journal.settle(number, unpin=True, next_attempt_ms=prepared.op.next_attempt_ms,
                                        finish=(prepared.attempt, "retry_not_executed", "not-sent",
                                                "not sent: the outbox stopped before its turn", ""))
        self._snapshots.clear()  # what waited in the lanes is read again when it is next due
