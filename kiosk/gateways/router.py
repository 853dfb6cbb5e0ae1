"""Which gateway to try for a provider, and in what order; the outbox journals each attempt itself.

Health is a circuit breaker per gateway (closed → open after N consecutive failures → half-open after a cool-down,
where a few probes decide) plus the dealer balance a gateway reports. Neither ever hides a pinned gateway: an
attempt whose outcome is unknown is always resolved where it was made.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from kiosk.catalog import Provider
from kiosk.gateways.base import (
    CheckOutcome,
    Gateway,
    PayOutcome,
    RetryLater,
    Route,
    Unknown,
    Unreachable,
)
from kiosk.money import Money

log = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


@dataclass(slots=True)
class Breaker:
    """One gateway's circuit breaker; thresholds come from the gateway's options."""

    failures_to_open: int = 5
    reset_seconds: float = 30.0
    half_open_probes: int = 1
    state: str = CLOSED
    failures: int = 0
    opened_at: float = 0.0
    probes: int = 0  # probes handed out while half-open and not yet answered

    def allows(self, now: float, consume: bool) -> bool:
        """Whether a request may go to this gateway now; a half-open grant is counted when consumed."""
        if self.state == OPEN:
            if now - self.opened_at < self.reset_seconds:
                return False
            self.state, self.probes = HALF_OPEN, 0
        if self.state == HALF_OPEN:
            if self.probes >= self.half_open_probes:
                # a probe that never reported back must not keep the gateway shut forever
                if now - self.opened_at < 2 * self.reset_seconds:
                    return False
                self.opened_at, self.probes = now - self.reset_seconds, 0
            if consume:
                self.probes += 1
        return True

    def success(self) -> None:
        """The gateway answered: close."""
        self.state, self.failures, self.probes = CLOSED, 0, 0

    def failure(self, now: float) -> None:
        """The gateway did not answer usefully: count, and open past the threshold or on a failed probe."""
        self.failures += 1
        if self.state == HALF_OPEN or self.failures >= self.failures_to_open:
            self.state, self.opened_at, self.probes = OPEN, now, 0


def is_failure(outcome: PayOutcome | CheckOutcome) -> bool:
    """Outcomes that say the gateway is unhealthy; any answer about the payment itself is health."""
    return isinstance(outcome, Unreachable | Unknown | RetryLater)


class Router:
    """Orders a provider's routes by health; never decides anything about money on its own."""

    def __init__(self, gateways: Mapping[str, Gateway], clock: Callable[[], float] = time.monotonic) -> None:
        self.gateways = dict(gateways)
        self.clock = clock
        self._lock = threading.Lock()
        self._breakers = {name: _breaker(gw) for name, gw in self.gateways.items()}
        self._balances: dict[str, tuple[float, Money | None]] = {}

    def plan(self, provider: Provider, pinned: str | None = None, amount: Money | None = None) -> list[Route]:
        """Routes to try, in order. With a pinned gateway (an attempt there is unresolved) only that one."""
        if pinned:
            return [r for r in provider.routes if r.gateway == pinned][:1] or [_orphan_route(pinned)]
        return self._healthy(provider, amount, consume=True)

    def record(self, gateway: str, outcome: PayOutcome | CheckOutcome) -> None:
        """Learn from an outcome: feed the gateway's breaker."""
        breaker = self._breakers.get(gateway)
        if breaker is None:
            return
        with self._lock:
            before = breaker.state
            if is_failure(outcome):
                breaker.failure(self.clock())
            else:
                breaker.success()
            after = breaker.state
        if after != before:
            log.warning("gateway %s circuit %s → %s", gateway, before, after)

    def reachable(self, provider: Provider) -> bool:
        """Whether any route of this provider may currently be tried."""
        return bool(self._healthy(provider, None, consume=False))

    def state(self, gateway: str) -> str:
        """The breaker state of a gateway: closed, open or half-open."""
        with self._lock:
            breaker = self._breakers[gateway]
            breaker.allows(self.clock(), consume=False)  # an expired open becomes half-open when looked at
            return breaker.state

    def check(self, provider: Provider, account: str, amount: Money,
              fields: Mapping[str, str]) -> tuple[CheckOutcome, Route | None]:
        """Ask the first gateway that answers; a refusal is an answer, unreachable tries the next route."""
        last: CheckOutcome = Unreachable("no route configured")
        for route in self.plan(provider, amount=amount):
            outcome = self.gateways[route.gateway].check(route, account, amount, fields)
            self.record(route.gateway, outcome)
            if not isinstance(outcome, Unreachable):
                return outcome, route
            last = outcome
        return last, None

    # -- internals ----------------------------------------------------------------------------------
    def _healthy(self, provider: Provider, amount: Money | None, consume: bool) -> list[Route]:
        routes = []
        for route in provider.routes:
            gateway = self.gateways.get(route.gateway)
            if gateway is None:
                continue
            if amount is not None and not self._covers(route.gateway, gateway, amount):
                continue
            with self._lock:
                if not self._breakers[route.gateway].allows(self.clock(), consume):
                    continue
            routes.append(route)
        return routes

    def _covers(self, name: str, gateway: Gateway, amount: Money) -> bool:
        """Whether the dealer balance at this gateway (if it reports one) covers the amount."""
        ttl = float(gateway.options.get("balance_ttl_seconds", 60))
        now = self.clock()
        with self._lock:
            cached = self._balances.get(name)
        if cached is None or now - cached[0] >= ttl:
            try:
                balance = gateway.balance()
            except Exception:  # a balance we cannot read must not take a route away
                log.warning("gateway %s: balance unavailable", name, exc_info=True)
                balance = None
            with self._lock:
                self._balances[name] = (now, balance)
        else:
            balance = cached[1]
        if balance is None or balance.currency != amount.currency:
            return True
        return not balance < amount


def _breaker(gateway: Gateway) -> Breaker:
    options = gateway.options
    return Breaker(failures_to_open=int(options.get("breaker_failures", 5)),
                   reset_seconds=float(options.get("breaker_reset_seconds", 30)),
                   half_open_probes=int(options.get("breaker_half_open_probes", 1)))


def _orphan_route(gateway: str) -> Route:
    # The catalog may have dropped the route since the attempt was made; the attempt must still be resolved there.
    return Route(gateway)
