"""The outbox: delivers committed operations exactly once, through the router, surviving restarts.

The rules, in the order they are applied to one operation:
1. An attempt is journaled (and its gateway pinned) before the request leaves.
2. A pinned operation is resolved first, at the same gateway, with a status query (which may resend the
   identical request). Only an answer that the payment was never registered unpins it.
3. Unpinned, routes are tried in the router's order. Moving to the next route is allowed only after an
   outcome that proves nothing was booked: RetryLater(not_executed=True), or a decline that is about the route
   (dealer balance, provider unavailable at that gateway) rather than about the payment.
4. Unknown and plain RetryLater keep the pin and come back after an exponential backoff with jitter.
5. A final decline, or a lifetime without delivery, makes the operation needs_attention: money taken, not
   delivered, visible to support. Nothing is ever dropped.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime

from kiosk.catalog import Catalog
from kiosk.gateways.base import Approved, Code, Declined, PayOutcome, RetryLater, Route, Unknown
from kiosk.gateways.deadline import SERVER_DATES
from kiosk.gateways.router import Router
from kiosk.offline_queue.journal import COMMITTED, DELIVERED, NEEDS_ATTENTION, Journal, Operation

log = logging.getLogger(__name__)

# Declines that speak about the route, not the payment: another gateway may well book it.
# Beyond this, a signature refused by a server is blamed on the terminal's clock (seconds).
CLOCK_SKEW_LIMIT = 60.0
FAILOVER_CODES = frozenset({Code.DEALER_BALANCE_LOW, Code.PROVIDER_UNAVAILABLE, Code.AUTH_FAILED, Code.TEMPORARY})


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
    """Delivers committed operations; one delivery at a time per operation, a bounded number at once."""

    def __init__(self, journal: Journal, router: Router, catalog: Catalog, *, concurrency: int = 4,
                 backoff_base: float = 5.0, backoff_max: float = 900.0, lifetime: int = 24 * 3600,
                 rng: random.Random | None = None,
                 on_settled: Callable[[int, str], None] | None = None) -> None:
        self.journal, self.router, self.catalog = journal, router, catalog
        self.backoff_base, self.backoff_max, self.lifetime = backoff_base, backoff_max, lifetime
        self.rng = rng or random.Random()
        self.on_settled = on_settled
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="outbox")
        self._concurrency = concurrency
        self._busy: set[int] = set()
        self._futures: set[Future[str]] = set()
        self._busy_lock = threading.Lock()
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

    def _schedule(self, op: Operation, unpin: bool, outcome: PayOutcome) -> str:
        kind, code, message, _ = _describe(outcome)
        delay_ms = int(self.backoff(op.attempts + 1) * 1000)
        self.journal.settle(op.operation, unpin=unpin, next_attempt_ms=self._now_ms() + delay_ms,
                            last_outcome=kind, last_code=code, last_message=message)
        return COMMITTED

    def _attention(self, op: Operation, reason: str, outcome: PayOutcome | None = None, unpin: bool = True) -> str:
        kind, code, message, _ = _describe(outcome) if outcome else ("", "", "", "")
        self.journal.settle(op.operation, state=NEEDS_ATTENTION, unpin=unpin, attention_reason=reason,
                            last_outcome=kind or op.last_outcome, last_code=code or op.last_code,
                            last_message=message or op.last_message)
        log.error("operation %d needs attention: %s", op.operation, reason)
        return NEEDS_ATTENTION

    # -- one operation --------------------------------------------------------------------------
    def _attempt(self, op: Operation, route: Route, verb: str) -> PayOutcome:
        gateway = self.router.gateways[route.gateway]
        request = op.request(route, datetime.fromisoformat(op.committed_at or op.created_at))
        attempt = self.journal.begin_attempt(op.operation, route, verb)
        try:
            outcome = gateway.pay(request) if verb == "pay" else gateway.status(request)
        except Exception as exc:  # an adapter bug must not be mistaken for "not booked"
            log.exception("gateway %s raised during %s of operation %d", route.gateway, verb, op.operation)
            outcome = Unknown(f"adapter error: {exc.__class__.__name__}: {exc}")
        kind, code, message, external_id = _describe(outcome)
        self.journal.finish_attempt(attempt, kind, code, message, external_id)
        self.router.record(route.gateway, outcome)
        if self._auth_time_fault(outcome):
            # Signatures carry the time: a server refusing them while our clock is off will accept the very
            # same payment once the clock is right. Retry later (nothing was processed); never a decline.
            self.journal.incident("clock", f"{route.gateway} refused authentication ({message or code}) and the "
                                           "terminal clock is off or unknown; retrying later", op.operation)
            return RetryLater(f"authentication refused, clock suspected: {message or code}", not_executed=True,
                              gateway_code="clock")
        self._note_clock()
        return outcome

    def _approved(self, op: Operation, route: Route, outcome: Approved) -> str:
        self.journal.settle(op.operation, state=DELIVERED, unpin=True, gateway=route.gateway,
                            external_id=outcome.external_id, last_outcome="approved", last_code="",
                            last_message=outcome.message)
        return DELIVERED

    def deliver(self, number: int) -> str:
        """One delivery cycle for one operation; returns its state afterwards."""
        op = self.journal.get(number)
        if op.state != COMMITTED:
            return op.state
        provider = self.catalog.providers.get(op.provider)
        if self._expired(op):
            return self._expire(op)

        if op.pinned_gateway:
            route, outcome, final = self._ask_pinned(op, "")
            if final is not None or outcome is None:
                return final or NEEDS_ATTENTION
            if not (isinstance(outcome, RetryLater) and outcome.not_executed):
                return self._schedule(self.journal.get(number), unpin=False, outcome=outcome)
            self.journal.settle(number, unpin=True, next_attempt_ms=op.next_attempt_ms)
            op = self.journal.get(number)

        if provider is None:
            return self._attention(op, f"provider {op.provider} is no longer in the catalog")
        last: PayOutcome | None = None
        # The amount lets the router skip a gateway whose dealer balance cannot cover this payment.
        for route in self.router.plan(provider, amount=op.money(op.credited)):
            outcome = self._attempt(op, route, "pay")
            if isinstance(outcome, Approved):
                return self._approved(op, route, outcome)
            if isinstance(outcome, Declined):
                if outcome.code not in FAILOVER_CODES:
                    return self._attention(op, f"declined by {route.gateway}: {outcome.message or outcome.code}",
                                           outcome)
            elif not (isinstance(outcome, RetryLater) and outcome.not_executed):
                return self._schedule(self.journal.get(number), unpin=False, outcome=outcome)
            self.journal.settle(number, unpin=True, next_attempt_ms=op.next_attempt_ms)
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

    def _ask_pinned(self, op: Operation, why: str) -> tuple[Route, PayOutcome | None, str | None]:
        """A status query at the gateway an unresolved attempt is pinned to: (route, outcome, final state or None)."""
        route = op.route() or Route(op.pinned_gateway or "")
        if route.gateway not in self.router.gateways:
            return route, None, self._attention(op, f"{why}booked: unknown — gateway {route.gateway} left the "
                                                    "configuration with an attempt there unresolved", unpin=False)
        outcome = self._attempt(op, route, "status")
        if isinstance(outcome, Approved):
            return route, outcome, self._approved(op, route, outcome)
        if isinstance(outcome, Declined):
            return route, outcome, self._attention(
                op, f"declined by {route.gateway}: {outcome.message or outcome.code}", outcome)
        return route, outcome, None

    def _expire(self, op: Operation) -> str:
        """The lifetime is over; an outcome nobody knows is first asked about at the gateway that has it."""
        why = f"not delivered within {self.lifetime / 3600:g} h; "
        if not op.pinned_gateway:
            return self._attention(op, why + "nothing was booked", unpin=False)
        # The clock may simply be ahead: the payment may well be booked. Ask before giving up.
        route, outcome, final = self._ask_pinned(op, why)
        if final is not None or outcome is None:
            return final or NEEDS_ATTENTION
        if isinstance(outcome, RetryLater) and outcome.not_executed:
            return self._attention(op, why + f"{route.gateway} confirms nothing was booked", outcome, unpin=True)
        return self._attention(op, why + f"booked: unknown — the status query at {route.gateway} got no answer "
                                          f"({_describe(outcome)[2]}); requeue to ask again", outcome, unpin=False)

    # -- clocks -----------------------------------------------------------------------------------
    def _note_clock(self) -> float | None:
        """Journal the skew the newest reply's Date shows; returns it (terminal minus server, seconds)."""
        measured = SERVER_DATES.skew_seconds(self.journal.now())
        if measured is None:
            return None
        source, skew = measured
        self.journal.record_clock_skew(source, skew, CLOCK_SKEW_LIMIT)
        return skew

    def _auth_time_fault(self, outcome: PayOutcome) -> bool:
        """An authentication refusal while the clock is off is the clock's fault, not the payment's."""
        if not (isinstance(outcome, Declined) and outcome.code == Code.AUTH_FAILED):
            return False
        skew = self._note_clock()
        return skew is None or abs(skew) > CLOCK_SKEW_LIMIT

    # -- many operations ------------------------------------------------------------------------
    def _run(self, number: int) -> str:
        try:
            state = self.deliver(number)
        except Exception:
            log.exception("delivery of operation %d failed; it stays in the outbox", number)
            state = COMMITTED
        finally:
            with self._busy_lock:
                self._busy.discard(number)
        if self.on_settled is not None:
            self.on_settled(number, state)
        return state

    def submit(self, number: int) -> Future[str] | None:
        """Start delivering one operation unless it is already on its way."""
        with self._busy_lock:
            if number in self._busy:
                return None
            self._busy.add(number)
        future = self._pool.submit(self._run, number)
        with self._busy_lock:
            self._futures.add(future)
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: Future[str]) -> None:
        with self._busy_lock:
            self._futures.discard(future)

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Block until no delivery is in flight (simulation and tests)."""
        with self._busy_lock:
            pending = list(self._futures)
        for future in pending:
            future.result(timeout=timeout)

    def run_due(self, wait: bool = True) -> int:
        """Start every due operation (bounded by the pool); with wait, block until they finish."""
        futures = [f for n in self.journal.due(self._now_ms(), limit=self._concurrency * 4)
                   if (f := self.submit(n)) is not None]
        if wait:
            for future in futures:
                future.result()
        return len(futures)

    def kick(self) -> None:
        """Wake the background loop (a new operation was committed)."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = self.run_due(wait=True)
            if started:
                continue
            next_ms = self.journal.next_due_ms()
            timeout = 5.0 if next_ms is None else max(0.05, min(5.0, (next_ms - self._now_ms()) / 1000))
            self._wake.wait(timeout)
            self._wake.clear()

    def start(self) -> None:
        """Deliver in the background until stop()."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="outbox-loop", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the loop and wait for attempts in flight to be journaled."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self._pool.shutdown(wait=True)
