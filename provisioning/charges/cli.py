"""`kiosk-dealer charges`: load a provider's charge registry, list uploads, show an account, manage lookup keys."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioning import tenants
from provisioning.charges import booking, store
from provisioning.config.vault import vault_of
from provisioning.db import Database
from provisioning.db.models import Dealer
from provisioning.settings import Settings


def add_parsers(sub: Any) -> None:
    """The `charges` command and its subcommands."""
    charges = sub.add_parser("charges", help="utility providers' charge registries and the debt lookup"
                             ).add_subparsers(dest="sub", required=True)
    load = charges.add_parser("load", help="validate and load a charge registry (CSV or XLSX); refused whole, "
                                           "with every row-level error, or accepted whole")
    load.add_argument("file", type=Path)
    load.add_argument("--provider", required=True, help="the provider code terminals' routes use")
    load.add_argument("--split", choices=store.SPLITS, default="proportional",
                      help="how a partial payment is split across services")
    listing = charges.add_parser("list", help="uploaded registries, newest first")
    listing.add_argument("--provider", default="")
    show = charges.add_parser("show", help="an account's current debt and its history")
    show.add_argument("--provider", required=True)
    show.add_argument("--account", required=True)
    show.add_argument("--format", choices=("text", "json"), default="text")
    key = charges.add_parser("key", help="keys terminals sign the debt lookup with")
    key.add_argument("action", choices=("add", "list", "revoke"))
    key.add_argument("--provider", default="")
    key.add_argument("--terminal", default="", help="bind the key to one terminal (its number)")
    key.add_argument("--key-id", default="", help="the key to revoke")
    for command in (load, listing, show, key):
        command.add_argument("--dealer", default="", help="the dealer (may be left out when there is only one)")


def _dealer(session: Session, slug: str) -> Dealer:
    if slug:
        return tenants.dealer_by_slug(session, slug)
    dealers = list(session.scalars(select(Dealer).limit(2)))
    if len(dealers) != 1:
        raise store.ChargesError("dealer", "give --dealer: the service has " + ("no dealer" if not dealers else "several"))
    return dealers[0]


def run_charges(args: argparse.Namespace, settings: Settings, database: Database) -> int:
    """Carry out one `charges` subcommand; 1 when a registry is refused or an account is not found."""
    actor = f"cli:{getpass.getuser()}"
    with database.session() as session:
        dealer = _dealer(session, args.dealer)
        if args.sub == "load":
            loaded = store.load(session, dealer.id, args.provider, args.file.name, args.file.read_bytes(), actor,
                                args.split)
            row = loaded.registry
            if not loaded.accepted:
                print(f"kiosk-dealer charges: {args.file.name} refused, nothing loaded "
                      f"({len(loaded.errors) + loaded.more} errors):", file=sys.stderr)
                for error in loaded.errors:
                    print(f"  {error}", file=sys.stderr)
                if loaded.more:
                    print(f"  … and {loaded.more} more", file=sys.stderr)
                return 1
            print(f"registry {row.id}: provider {row.provider}, period {row.period}, {row.accounts} accounts, "
                  f"debt {store.rub(row.total)} RUB")
            return 0
        if args.sub == "list":
            for row in store.registries(session, dealer.id, args.provider):
                print(f"{row.id}\t{row.uploaded_at.isoformat()}\t{row.provider}\t{row.period or '-'}\t{row.status}\t"
                      f"{row.accounts}\t{store.rub(row.total)}\t{row.filename}")
            return 0
        if args.sub == "show":
            return _show(session, dealer, args)
        return _key(session, settings, dealer, args, actor)


def _show(session: Session, dealer: Dealer, args: argparse.Namespace) -> int:
    found = store.history(session, dealer.id, args.provider, args.account)
    if not found:
        print(f"kiosk-dealer charges: account {args.account} is in no registry of {args.provider}", file=sys.stderr)
        return 1
    if args.format == "json":
        json.dump([{"registry": r.id, **store.debt_object(a, r)} for a, r in found], sys.stdout,
                  ensure_ascii=False, indent=2)
        print()
        return 0
    for index, (account, registry) in enumerate(found):
        debt = store.debt_object(account, registry)
        print(f"{'current' if index == 0 else 'earlier'}: period {debt['period']} (registry {registry.id}), "
              f"{debt['payer']}, {debt['address']}: debt {store.rub(debt['total'])} RUB")
        for service in debt["services"]:
            print(f"  {service['service']:<16} {service['name']:<30} {store.rub(service['amount']):>12}")
        for meter in debt["meters"]:
            print(f"  meter {meter['meter']} ({meter['name']}, {meter['unit']}): {meter['previous']} "
                  f"on {meter['previous_date'] or '-'}")
    return 0


def _key(session: Session, settings: Settings, dealer: Dealer, args: argparse.Namespace, actor: str) -> int:
    if args.action == "list":
        for row in booking.keys(session, dealer.id):
            print(f"{row.key_id}\t{row.provider}\t{'revoked' if row.revoked_at else 'live'}\t{row.created_at}")
        return 0
    if args.action == "revoke":
        if not booking.revoke_key(session, dealer.id, args.key_id, actor):
            raise store.ChargesError("key", f"dealer {dealer.slug} has no key {args.key_id!r}")
        print(f"key {args.key_id} revoked")
        return 0
    store.check_provider(args.provider)
    terminal = tenants.terminal_by_number(session, dealer.id, args.terminal) if args.terminal else None
    key_id, secret = booking.create_key(session, vault_of(settings.state_dir), dealer.id, args.provider, actor,
                                        terminal)
    print(f"key for provider {args.provider}{f' (terminal {args.terminal} only)' if terminal else ''}; "
          "the secret is shown once:")
    print(f"  key_id = {key_id}")
    print(f"  hmac_secret = {secret}")
    print("on the terminal: a gateway with protocol json, url https://<this host>:<portal port>/api/processing")
    return 0
