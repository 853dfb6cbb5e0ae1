"""`kiosk-dealer lookup`: the payment's story from the uploaded journals, as text for people or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from typing import Any

from sqlalchemy import select

from kiosk.errors import KioskError
from kiosk.money import Money
from provisioning import tenants
from provisioning.corrections import service as correction_service
from provisioning.db import Database
from provisioning.db.models import Dealer, Terminal, utcnow
from provisioning.journal import lookup


def lookup_command(database: Database, args: argparse.Namespace) -> int:
    """Print every story the arguments name; 1 when none is found, 2 when the arguments do not name one."""
    if args.query:
        text = args.query
    elif args.terminal and args.operation is not None:
        text = f"{args.terminal}/{args.operation}"
    elif any(getattr(args, f"search_{name}") for name in SEARCH):
        return search_command(database, args)
    else:
        print("kiosk-dealer lookup: give --terminal and --operation, --query, or search options", file=sys.stderr)
        return 2
    with database.session() as session:
        if args.dealer:
            dealers = [tenants.dealer_by_slug(session, args.dealer)]
        else:
            dealers = list(session.scalars(select(Dealer).order_by(Dealer.slug)))
        found = [(dealer, pair) for dealer in dealers for pair in lookup.find(session, dealer.id, text)]
        if not found:
            print(f"kiosk-dealer lookup: nothing uploaded matches {text!r}"
                  + (f" at dealer {args.dealer}" if args.dealer else ""), file=sys.stderr)
            return 1
        stories: list[Any] = []
        for dealer, (terminal, op) in found:
            story = lookup.story(session, terminal, op)
            story.corrections = correction_service.story_of(session, terminal.id, op.operation, utcnow())
            if args.format == "json":
                stories.append({"dealer": dealer.slug, **story.as_json(),
                                "versions": _versions(session, terminal, op)})
            else:
                print(f"dealer {dealer.slug}, terminal {terminal.number} ({terminal.address or 'no address'}, "
                      f"{terminal.timezone})")
                story.lang = args.lang
                print("\n".join(story.lines()))
                print()
    if args.format == "json":
        json.dump(stories[0] if len(stories) == 1 else stories, sys.stdout, ensure_ascii=False, indent=2,
                  default=str)
        print()
    return 0


SEARCH = ("account", "from", "to", "amount", "in_state", "provider", "gateway")


def search_command(database: Database, args: argparse.Namespace) -> int:
    """Payments matching every given search option (with --dealer, or across dealers), newest first."""
    try:
        since, until = (date.fromisoformat(v) if v else None for v in (args.search_from, args.search_to))
        amount = Money.parse(args.search_amount, "RUB").minor if args.search_amount else None
    except (ValueError, KioskError) as exc:
        print(f"kiosk-dealer lookup: {exc}", file=sys.stderr)
        return 2
    query = lookup.Search(account=args.search_account or "", since=since, until=until, amount=amount,
                          state=args.search_in_state or "", provider=args.search_provider or "",
                          gateway=args.search_gateway or "", terminal=args.terminal or "")
    with database.session() as session:
        dealers = ([tenants.dealer_by_slug(session, args.dealer)] if args.dealer
                   else list(session.scalars(select(Dealer).order_by(Dealer.slug))))
        rows = [(dealer, terminal, op) for dealer in dealers
                for terminal, op in lookup.search(session, dealer.id, query)]
    for dealer, terminal, op in rows:
        record = {"dealer": dealer.slug, "terminal": terminal.number, "operation": op.operation,
                  "created_at": op.created_at, "provider": op.provider, "account": op.account, "cash": op.cash,
                  "state": op.state, "gateway": op.gateway}
        if args.format == "json":
            print(json.dumps(record, ensure_ascii=False))
        else:
            print(f"{dealer.slug:<10} {terminal.number:>8}/{op.operation:<8} {op.created_at[:19].replace('T', ' ')}  "
                  f"{op.provider:<12} {op.account:<16} {Money(op.cash, op.currency).decimal_text():>10} {op.state}")
    print(f"{len(rows)} payments found", file=sys.stderr)
    return 0 if rows else 1


def _versions(session: Any, terminal: Terminal, op: Any) -> list[dict[str, Any]]:
    return [{**v, "received_at": v["received_at"].isoformat()} for v in lookup.versions(session, terminal, op)]
