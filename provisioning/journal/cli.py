"""`kiosk-dealer lookup`: the payment's story from the uploaded journals, as text for people or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from sqlalchemy import select

from provisioning import tenants
from provisioning.db import Database
from provisioning.db.models import Dealer, Terminal
from provisioning.journal import lookup


def lookup_command(database: Database, args: argparse.Namespace) -> int:
    """Print every story the arguments name; 1 when none is found, 2 when the arguments do not name one."""
    if args.query:
        text = args.query
    elif args.terminal and args.operation is not None:
        text = f"{args.terminal}/{args.operation}"
    else:
        print("kiosk-dealer lookup: give --terminal and --operation, or --query", file=sys.stderr)
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
            if args.format == "json":
                stories.append({"dealer": dealer.slug, **story.as_json(),
                                "versions": _versions(session, terminal, op)})
            else:
                print(f"dealer {dealer.slug}, terminal {terminal.number} ({terminal.address or 'no address'}, "
                      f"{terminal.timezone})")
                print("\n".join(story.lines()))
                print()
    if args.format == "json":
        json.dump(stories[0] if len(stories) == 1 else stories, sys.stdout, ensure_ascii=False, indent=2,
                  default=str)
        print()
    return 0


def _versions(session: Any, terminal: Terminal, op: Any) -> list[dict[str, Any]]:
    return [{**v, "received_at": v["received_at"].isoformat()} for v in lookup.versions(session, terminal, op)]
