"""Which gateway to try for a provider, and in what order; the outbox journals each attempt itself."""

from __future__ import annotations

from collections.abc import Mapping

from kiosk.catalog import Provider
from kiosk.gateways.base import CheckOutcome, Gateway, PayOutcome, Route, Unreachable
from kiosk.money import Money


class Router:
    """Orders a provider's routes by health; never decides anything about money on its own."""

    def __init__(self, gateways: Mapping[str, Gateway]) -> None:
        self.gateways = dict(gateways)

    def plan(self, provider: Provider, pinned: str | None = None) -> list[Route]:
        """Routes to try, in order. With a pinned gateway (an attempt there is unresolved) only that one."""
        if pinned:
            return [r for r in provider.routes if r.gateway == pinned][:1] or [_orphan_route(pinned)]
        return [r for r in provider.routes if r.gateway in self.gateways]

    def record(self, gateway: str, outcome: PayOutcome | CheckOutcome) -> None:
        """Learn from an outcome (health); the plain router keeps no state."""

    def reachable(self, provider: Provider) -> bool:
        """Whether any route of this provider may currently be tried."""
        return bool(self.plan(provider))

    def check(self, provider: Provider, account: str, amount: Money,
              fields: Mapping[str, str]) -> tuple[CheckOutcome, Route | None]:
        """Ask the first gateway that answers; a refusal is an answer, unreachable tries the next route."""
        last: CheckOutcome = Unreachable("no route configured")
        for route in self.plan(provider):
            outcome = self.gateways[route.gateway].check(route, account, amount, fields)
            self.record(route.gateway, outcome)
            if not isinstance(outcome, Unreachable):
                return outcome, route
            last = outcome
        return last, None


def _orphan_route(gateway: str) -> Route:
    # The catalog may have dropped the route since the attempt was made; the attempt must still be resolved there.
    return Route(gateway)
