"""`kiosk-dealer alerts`: a dealer's alerts on the command line, and a test message through its channels (to see
that the webhook and the SMTP server take what alerts will send, before an alert needs them)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sqlalchemy import select

from provisioning import tenants
from provisioning.db import Database
from provisioning.db.models import Terminal, utcnow
from provisioning.monitor.delivery import DeliveryFailed, Message, send_email, send_webhook
from provisioning.monitor.models import Alert, AlertChannel
from provisioning.settings import Settings


def add_parsers(sub: Any) -> None:
    """The `alerts` command and its subcommands."""
    alerts = sub.add_parser("alerts", help="a dealer's alerts").add_subparsers(dest="sub", required=True)
    listing = alerts.add_parser("list", help="open alerts (with --all, the latest closed ones too)")
    listing.add_argument("--all", action="store_true")
    test = alerts.add_parser("test", help="send a test message to the dealer's webhook and e-mail addresses now")
    for cmd in (listing, test):
        cmd.add_argument("--dealer", required=True)


def _line(alert: Alert, number: str) -> str:
    closed = f"  closed {alert.closed_at.isoformat()} ({alert.close_detail})" if alert.closed_at else ""
    return f"{alert.opened_at.isoformat()}  terminal {number}  {alert.kind}: {alert.detail}{closed}"


def run_alerts(args: argparse.Namespace, settings: Settings, database: Database) -> int:
    """Carry out `kiosk-dealer alerts …`; the exit status (1: a test message was not taken)."""
    with database.session() as session:
        dealer = tenants.dealer_by_slug(session, args.dealer)
        if args.sub == "list":
            query = select(Alert, Terminal.number).join(Terminal, Alert.terminal_id == Terminal.id).where(
                Alert.dealer_id == dealer.id)
            if not args.all:
                query = query.where(Alert.closed_at.is_(None))
            for alert, number in session.execute(query.order_by(Alert.opened_at.desc()).limit(500)):
                print(_line(alert, number))
            return 0
        channel = session.get(AlertChannel, dealer.id)
    now = utcnow()
    msg = Message(f"test-{int(now.timestamp())}", {"id": f"test-{int(now.timestamp())}", "event": "test",
                                                   "dealer": dealer.slug, "sent_at": now.isoformat()},
                  f"[kiosk {dealer.slug}] test message", "A test of the alert channels: nothing is wrong.\n")
    sends = []
    if channel is not None and channel.webhook_url:
        sends.append(("webhook", lambda: send_webhook(channel.webhook_url, channel.webhook_secret, msg, now)))
    recipients = [a.strip() for a in (channel.emails if channel else "").split(",") if a.strip()]
    if recipients:
        sends.append(("e-mail", lambda: send_email(settings, recipients, msg)))
    if not sends:
        print(f"dealer {dealer.slug} has no webhook and no e-mail address (set them under Alert rules in the "
              "portal)", file=sys.stderr)
        return 1
    failed = 0
    for name, send in sends:
        try:
            send()
            print(f"{name}: taken")
        except DeliveryFailed as exc:
            failed += 1
            print(f"{name}: not taken: {exc}")
    return 1 if failed else 0
