"""How support reads an operation: roubles, provider names, local times, incidents, the processing ids."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, TextIO

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


def write_lookup(out: TextIO, op: Operation, bills: list[int], attempts: list[dict[str, Any]],
                 incidents: list[dict[str, Any]], providers: Mapping[str, Provider], journal: str) -> None:
    """One operation, as support reads it to a payer on the phone."""
    cur = op.currency
    key, txn, session = op.request_ids()
    lines = [
        f"Terminal {op.terminal}, operation {op.operation}        (journal {journal})",
        f"  state        {op.state} — {STATE_WORDS.get(op.state, op.state)}",
        f"  booked       {op.booked()}",
    ]
    if op.attention_reason:
        lines.append(f"  why          {op.attention_reason}")
    lines += [
        f"  provider     {provider_name(op.provider, providers)}",
        f"  account      {op.account or '—'}",
        f"  cash         {amount(op.cash, cur)}    fee {amount(op.fee, cur)}    credited {amount(op.credited, cur)}",
        f"  bills        {', '.join(Money(b, cur).decimal_text() for b in bills) or 'none'}",
        f"  created      {local_time(op.created_at)}",
        f"  committed    {local_time(op.committed_at)}" + (f"  ({op.commit_reason})" if op.commit_reason else ""),
        f"  finished     {local_time(op.finished_at)}",
        f"  receipt      {op.receipt_status}",
        "  ids at the processing systems (these tell two payments with the same number apart):",
        f"    idempotency key {key}   OSMP txn_id {txn}   CyberPlat SESSION {session}",
    ]
    if op.gateway or op.external_id:
        lines.append(f"    delivered via {op.gateway or '—'}; its id (prv_txn / TRANSID / payment id): "
                     f"{op.external_id or '—'}")
    if op.pinned_gateway:
        lines.append(f"    an attempt at {op.pinned_gateway} is unresolved: the next step asks its status there")
    lines.append(f"  delivery attempts: {len(attempts) or 'none'}")
    for index, attempt in enumerate(attempts, 1):
        detail = " ".join(filter(None, (attempt.get("code"), attempt.get("message"))))
        external = f", id {attempt['external_id']}" if attempt.get("external_id") else ""
        # after the centre forgot a SESSION, each attempt says which one it carried
        carried = f" [SESSION {attempt['session']}]" if op.session and attempt.get("session") else ""
        lines.append(f"    {index}. {attempt['verb']} at {attempt['gateway']}, {local_time(attempt['started_at'])}"
                     f"{carried} → {attempt.get('outcome') or 'no outcome (interrupted)'}{external}"
                     + (f" — {detail}" if detail else ""))
    lines.append(f"  incidents: {len(incidents) or 'none'}")
    for incident in incidents:
        money = f" [{amount(incident['amount'], cur)}]" if incident.get("amount") else ""
        lines.append(f"    {local_time(incident['at'])} {incident['kind']}{money}: {incident['detail']}")
    out.write("\n".join(lines) + "\n")


def row(op: Operation) -> str:
    """One line of a list of operations."""
    def money(minor: int | None) -> str:
        return "" if minor is None else Money(minor, op.currency).decimal_text()

    return (f"{op.operation:>8}  {local_time(op.created_at)[:19]:<19}  {op.provider:<12} {op.account:<20} "
            f"{money(op.cash):>10} {money(op.fee):>8} {money(op.credited):>10}  {op.state}")


HEADER = (f"{'op':>8}  {'created (local)':<19}  {'provider':<12} {'account':<20} {'cash':>10} {'fee':>8} "
          f"{'credited':>10}  state")
