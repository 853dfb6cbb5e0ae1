"""How support reads an operation: roubles, provider names, local times, incidents, the processing ids."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from kiosk.catalog import Provider
from kiosk.money import Money
from kiosk.offline_queue.operation import Operation

# What each state means to a person holding a receipt.
STATE_WORDS = {
    "collecting": "taking cash (the payer is at the terminal, or it was interrupted)",
    "committed": "waiting in the outbox to be delivered",
    "delivered": "delivered to the provider",
    "needs_attention": "NEEDS ATTENTION: money taken, not delivered",
    "cancelled": "cancelled without money",
    "refunded": "refunded: the cash went back to the payer (a correction)",
}


def local_time(stamp: str | None) -> str:
    """'2026-01-15 15:00:01 (UTC+03:00)' from the journal's ISO time (kept in the terminal's zone)."""
    if not stamp:
        return "—"
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    offset = when.strftime("%z")
    zone = f" (UTC{offset[:3]}:{offset[3:]})" if offset else ""
    return when.strftime("%Y-%m-%d %H:%M:%S") + zone


def amount(minor: int | None, currency: str) -> str:
    """'150.00 RUB', or '—' when not fixed yet."""
    return "—" if minor is None else f"{Money(minor, currency).decimal_text()} {currency}"


def provider_name(provider_id: str, providers: Mapping[str, Provider]) -> str:
    """'MTS (mts)' when the catalog knows it, the id otherwise."""
    provider = providers.get(provider_id)
    if provider is None:
        return provider_id
    name = provider.name.get("en") or provider.name.get("ru") or next(iter(provider.name.values()), provider_id)
    return f"{name} ({provider_id})"


def row(op: Operation) -> str:
    """One line of a list of operations."""
    def money(minor: int | None) -> str:
        return "" if minor is None else Money(minor, op.currency).decimal_text()

    return (f"{op.operation:>8}  {local_time(op.created_at)[:19]:<19}  {op.provider:<12} {op.account:<20} "
            f"{money(op.cash):>10} {money(op.fee):>8} {money(op.credited):>10}  {op.state}")


HEADER = (f"{'op':>8}  {'created (local)':<19}  {'provider':<12} {'account':<20} {'cash':>10} {'fee':>8} "
          f"{'credited':>10}  state")
