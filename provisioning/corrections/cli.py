"""`kiosk-dealer correction …`: request, approve, reject, list and show corrections from the command line, under the
same rules as the portal (the actor is a portal user's e-mail; a second person approves what moves money)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from sqlalchemy import select

from provisioning import tenants
from provisioning.corrections import service
from provisioning.corrections.models import KINDS
from provisioning.db import Database
from provisioning.db.models import Terminal, utcnow


def add_parsers(sub: Any) -> None:
    """The `correction` command and its subcommands."""
    correction = sub.add_parser("correction", help="corrections of payments (support; a second person approves "
                                                   "refunds, re-routes and account changes of booked payments)")
    verbs = correction.add_subparsers(dest="sub", required=True)
    ask = verbs.add_parser("request", help="request a correction of one uploaded payment")
    ask.add_argument("--terminal", required=True)
    ask.add_argument("--operation", type=int, required=True)
    ask.add_argument("--kind", choices=KINDS, required=True)
    ask.add_argument("--gateway", default="", help="reroute: the gateway to pay through instead")
    ask.add_argument("--account", default="", help="account: the payer's right account")
    ask.add_argument("--how", choices=service.REFUND_WAYS, help="refund: how the cash went back")
    ask.add_argument("--returned-by", default="", help="refund: who gave the cash back")
    ask.add_argument("--returned-at", default="", help="refund: when (ISO with zone; default now)")
    ask.add_argument("--note", default="")
    approve = verbs.add_parser("approve", help="approve a correction someone else requested")
    reject = verbs.add_parser("reject", help="reject a correction someone else requested")
    show = verbs.add_parser("show", help="one correction with its steps")
    for cmd in (approve, reject, show):
        cmd.add_argument("id", type=int)
    listing = verbs.add_parser("list", help="a dealer's corrections, waiting approvals first")
    listing.add_argument("--pending", action="store_true", help="only those waiting for approval")
    for cmd in (ask, approve, reject, show, listing):
        cmd.add_argument("--dealer", required=True)
        cmd.add_argument("--format", choices=("text", "json"), default="text")
    for cmd in (ask, approve, reject):
        cmd.add_argument("--as", dest="actor", required=True, help="your portal e-mail (audited)")


def _print(args: argparse.Namespace, found: list[tuple[Any, str]]) -> None:
    if args.format == "json":
        print(json.dumps([service.as_json(c, number) for c, number in found], ensure_ascii=False, indent=2))
        return
    for c, number in found:
        print(f"{c.id:>5}  {number}/{c.operation}  {c.kind:<9}  {c.state:<9}  requested by {c.requested_by}"
              + (f", decided by {c.decided_by}" if c.decided_by else ""))
        if args.sub in ("show", "request", "approve", "reject"):
            for step in service.steps(c):
                print(f"       {step['at']:%Y-%m-%d %H:%M:%S} UTC  {step['step']}  {step['who']}  {step.get('detail', '')}")


def run(args: argparse.Namespace, database: Database) -> int:
    """Carry out `kiosk-dealer correction …`; 2 when it is refused (the reason on stderr)."""
    now = utcnow()
    try:
        with database.session() as session:
            dealer = tenants.dealer_by_slug(session, args.dealer)
            if args.sub == "list":
                found = [(c, n) for c, n in service.listing(session, dealer.id, now)
                         if not args.pending or c.state == "requested"]
            elif args.sub == "request":
                terminal = session.scalar(select(Terminal).where(Terminal.dealer_id == dealer.id,
                                                                 Terminal.number == args.terminal))
                if terminal is None:
                    raise service.CorrectionError(f"dealer {args.dealer} has no terminal {args.terminal}")
                given = {"gateway": args.gateway, "account": args.account, "how": args.how or "",
                         "returned_by": args.returned_by, "returned_at": args.returned_at}
                made = service.request(session, terminal, args.operation, args.kind, given, args.note,
                                       args.actor, now, "cli")
                found = [(made, terminal.number)]
            else:
                correction = service.one(session, dealer.id, args.id, now)
                if args.sub == "approve":
                    service.approve(session, correction, args.actor, now, "cli")
                elif args.sub == "reject":
                    service.reject(session, correction, args.actor, now, "cli")
                terminal_row = session.get(Terminal, correction.terminal_id)
                found = [(correction, terminal_row.number if terminal_row else "")]
            _print(args, found)
    except service.CorrectionError as exc:
        print(f"kiosk-dealer: correction refused: {exc}", file=sys.stderr)
        return 2
    return 0
