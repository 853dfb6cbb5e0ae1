"""`kiosk-dealer config …` and `kiosk-dealer group …`: configuration documents, versions, diffs, assignment,
validation (the terminal's own loaders, as in the portal), the signing key's rotation, gateway secrets' deletion,
and terminal groups — each change audited under `cli:<user>`."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioning import groups, tenants
from provisioning.config import bundles, store
from provisioning.config.models import ConfigAssignment, ConfigDocument, ConfigVersion
from provisioning.config.vault import vault_of
from provisioning.db import Database
from provisioning.db.models import Dealer, Terminal, TerminalGroup
from provisioning.identity.ca import CAFiles
from provisioning.settings import Settings


class ConfigCliError(Exception):
    """A config or group command that cannot be carried out, naming what is wrong."""


def add_parsers(sub: Any) -> None:
    """The `config` and `group` commands and their subcommands."""
    config = sub.add_parser("config", help="configuration documents pushed to terminals").add_subparsers(
        dest="sub", required=True)
    listing = config.add_parser("list", help="documents with their newest version, and what is assigned where")
    show = config.add_parser("show", help="a version's text (the newest unless --version)")
    show.add_argument("name")
    show.add_argument("--version", type=int)
    diff = config.add_parser("diff", help="what changed between two versions (unified diff; --keys: key by key)")
    diff.add_argument("name")
    diff.add_argument("old", type=int)
    diff.add_argument("new", type=int)
    diff.add_argument("--keys", action="store_true")
    assign = config.add_parser("assign", help="assign a version to a terminal or a group")
    assign.add_argument("name")
    assign.add_argument("--version", type=int, help="the version number (default: the newest)")
    target = assign.add_mutually_exclusive_group(required=True)
    target.add_argument("--terminal")
    target.add_argument("--group")
    validate = config.add_parser("validate", help="check a TOML file with the terminal's own loaders (with "
                                                  "--save NAME, store it as the document's next version)")
    validate.add_argument("file", type=Path)
    validate.add_argument("--save", metavar="NAME", help="save it as a new version of this document (made if new)")
    validate.add_argument("--comment", default="")
    rotate = config.add_parser("rotate-key", help="replace the dealer's bundle-signing key (terminals re-pin the new "
                                                  "one with their next bundle and refuse the old)")
    secret = config.add_parser("delete-secret", help="delete a terminal's gateway secret (the terminal drops it)")
    secret.add_argument("--terminal", required=True)
    secret.add_argument("gateway")
    secret.add_argument("secret_name", metavar="name")
    group = sub.add_parser("group", help="terminal groups").add_subparsers(dest="sub", required=True)
    g_list = group.add_parser("list", help="groups with their terminal counts and configuration")
    g_create = group.add_parser("create", help="a new empty group")
    g_create.add_argument("name")
    g_rename = group.add_parser("rename", help="rename a group")
    g_rename.add_argument("name")
    g_rename.add_argument("new_name")
    g_delete = group.add_parser("delete", help="delete an empty group")
    g_delete.add_argument("name")
    g_move = group.add_parser("move", help="move terminals into a group (--none: out of any group)")
    g_move.add_argument("numbers", nargs="+", metavar="terminal")
    where = g_move.add_mutually_exclusive_group(required=True)
    where.add_argument("--to")
    where.add_argument("--none", action="store_true")
    g_theme = group.add_parser("theme", help="give every terminal now in the group a theme pack")
    g_theme.add_argument("name")
    g_theme.add_argument("--pack", type=int, required=True, help="the theme pack's id (see the portal's Themes)")
    for cmd in (listing, show, diff, assign, rotate, secret, g_list, g_create, g_rename, g_delete, g_move, g_theme):
        cmd.add_argument("--dealer", required=True)
    validate.add_argument("--dealer", help="the dealer (needed with --save)")


def _document(session: Session, dealer: Dealer, name: str) -> ConfigDocument:
    document = session.scalar(select(ConfigDocument).where(ConfigDocument.dealer_id == dealer.id,
                                                           ConfigDocument.name == name))
    if document is None:
        raise ConfigCliError(f"no configuration named {name!r} (see `kiosk-dealer config list --dealer "
                             f"{dealer.slug}`)")
    return document


def _version(session: Session, document: ConfigDocument, number: int | None) -> ConfigVersion:
    found = store.versions(session, document)
    chosen = found[0] if number is None and found else next((v for v in found if v.number == number), None)
    if chosen is None:
        raise ConfigCliError(f"configuration {document.name!r} has no version {number} (it has "
                             f"{', '.join(str(v.number) for v in reversed(found))})")
    return chosen


def _terminal(session: Session, dealer: Dealer, number: str) -> Terminal:
    terminal = session.scalar(select(Terminal).where(Terminal.dealer_id == dealer.id, Terminal.number == number))
    if terminal is None:
        raise ConfigCliError(f"no terminal {number!r} at dealer {dealer.slug}")
    return terminal


def _labels(session: Session, dealer: Dealer) -> dict[int, str]:
    rows = session.execute(select(ConfigVersion.id, ConfigDocument.name, ConfigVersion.number)
                           .join(ConfigDocument, ConfigVersion.document_id == ConfigDocument.id)
                           .where(ConfigVersion.dealer_id == dealer.id)).all()
    return {vid: f"{name} v{number}" for vid, name, number in rows}


def _list(session: Session, dealer: Dealer) -> None:
    labels = _labels(session, dealer)
    for document in session.scalars(select(ConfigDocument).where(ConfigDocument.dealer_id == dealer.id)
                                    .order_by(ConfigDocument.name)):
        newest = store.latest(session, document)
        print(f"{document.name}\tv{newest.number if newest else 0}\t{newest.author if newest else ''}")
    names: dict[tuple[str, int | None], str] = {("terminal", i): f"terminal {n}" for i, n in session.execute(
        select(Terminal.id, Terminal.number).where(Terminal.dealer_id == dealer.id))}
    names.update({("group", i): f"group {n}" for i, n in session.execute(
        select(TerminalGroup.id, TerminalGroup.name).where(TerminalGroup.dealer_id == dealer.id))})
    for row in session.scalars(select(ConfigAssignment).where(ConfigAssignment.dealer_id == dealer.id)
                               .order_by(ConfigAssignment.id)):
        target = ("terminal", row.terminal_id) if row.terminal_id else ("group", row.group_id)
        print(f"assigned\t{names.get(target, '?')}\t{labels.get(row.version_id, '?')}")


def _validate(args: argparse.Namespace, session: Session | None, actor: str) -> int:
    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigCliError(f"{args.file}: cannot read it: {exc}") from None
    try:
        store.validated(text)
    except store.StoreError as exc:
        print(f"{args.file}: {exc.field}: {exc.message}" if exc.field else f"{args.file}: {exc.message}",
              file=sys.stderr)
        return 1
    if session is None:
        print(f"{args.file}: valid")
        return 0
    dealer = tenants.dealer_by_slug(session, args.dealer)
    document = session.scalar(select(ConfigDocument).where(ConfigDocument.dealer_id == dealer.id,
                                                           ConfigDocument.name == args.save))
    if document is None:
        document = store.create_document(session, dealer.id, args.save, actor, text, args.comment)
        version = store.versions(session, document)[0]
    else:
        version = store.save_version(session, document, text, actor, args.comment)
    print(f"{args.file}: valid; saved as {document.name} v{version.number}")
    return 0


def _config(args: argparse.Namespace, settings: Settings, session: Session, actor: str) -> int:
    dealer = tenants.dealer_by_slug(session, args.dealer)
    if args.sub == "list":
        _list(session, dealer)
    elif args.sub == "show":
        sys.stdout.write(store.hide(_version(session, _document(session, dealer, args.name), args.version).body))
    elif args.sub == "diff":
        document = _document(session, dealer, args.name)
        old, new = _version(session, document, args.old), _version(session, document, args.new)
        if args.keys:
            for key, before, after in store.field_diff(old.body, new.body):
                print(f"{key}\t{before or '(absent)'}\t{after or '(absent)'}")
        else:
            sys.stdout.write(store.unified_diff(old.body, new.body, (f"{document.name} v{old.number}",
                                                                     f"{document.name} v{new.number}")))
    elif args.sub == "assign":
        version = _version(session, _document(session, dealer, args.name), args.version)
        if args.terminal:
            store.assign(session, dealer.id, version.id, actor, terminal_id=_terminal(session, dealer, args.terminal).id)
        else:
            store.assign(session, dealer.id, version.id, actor, group_id=groups.by_name(session, dealer.id,
                                                                                         args.group).id)
        print(f"{args.name} v{version.number} assigned to "
              f"{'terminal ' + args.terminal if args.terminal else 'group ' + args.group}")
    elif args.sub == "rotate-key":
        generation = bundles.rotate_signing_key(session, CAFiles(settings.ca_dir).load(), dealer,
                                                vault_of(settings.state_dir), actor)
        print(f"dealer {dealer.slug}: bundle-signing key generation {generation}; terminals take it with their next "
              "bundle and then refuse the older keys")
    elif args.sub == "delete-secret":
        store.delete_secret(session, _terminal(session, dealer, args.terminal), args.gateway, args.secret_name, actor)
        print(f"terminal {args.terminal}: secret {args.gateway}.{args.secret_name} deleted")
    return 0


def _group(args: argparse.Namespace, session: Session, actor: str) -> int:
    dealer = tenants.dealer_by_slug(session, args.dealer)
    if args.sub == "list":
        labels = _labels(session, dealer)
        assigned = dict(session.execute(select(ConfigAssignment.group_id, ConfigAssignment.version_id)
                                        .where(ConfigAssignment.dealer_id == dealer.id)).all())
        for group, count in groups.listing(session, dealer.id):
            print(f"{group.name}\t{count} terminal(s)\t{labels.get(assigned.get(group.id, 0), '-')}")
    elif args.sub == "create":
        groups.create(session, dealer.id, args.name, actor)
    elif args.sub == "rename":
        groups.rename(session, groups.by_name(session, dealer.id, args.name), args.new_name, actor)
    elif args.sub == "delete":
        groups.delete(session, groups.by_name(session, dealer.id, args.name), actor)
    elif args.sub == "move":
        target = None if args.none else groups.by_name(session, dealer.id, args.to)
        moved = groups.move(session, dealer.id, args.numbers, target, actor)
        print(f"{moved} terminal(s) moved to {'no group' if target is None else 'group ' + target.name}")
    elif args.sub == "theme":
        count = groups.assign_theme(session, groups.by_name(session, dealer.id, args.name), args.pack, actor)
        print(f"theme pack {args.pack} assigned to {count} terminal(s) of group {args.name}")
    return 0


def run(args: argparse.Namespace, settings: Settings, database: Database) -> int:
    """Carry out `kiosk-dealer config …` or `group …`; 1 when a file does not validate."""
    actor = f"cli:{getpass.getuser()}"
    try:
        if args.command == "config" and args.sub == "validate" and not args.save:
            return _validate(args, None, actor)
        with database.session() as session:
            if args.command == "group":
                return _group(args, session, actor)
            if args.sub == "validate":
                if not args.dealer:
                    raise ConfigCliError("--save needs --dealer")
                return _validate(args, session, actor)
            return _config(args, settings, session, actor)
    except (store.StoreError, groups.GroupError) as exc:
        raise ConfigCliError(str(exc)) from None


ERRORS = (ConfigCliError,)
