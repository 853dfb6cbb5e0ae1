"""The `kiosk-dealer` command: init, serve, migrate, dealer add, user add, terminal add/code/revoke/list, crl."""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from sqlalchemy import select

from kiosk.dealer_link.identity import write_private
from provisioning import db as dbmod
from provisioning import tenants
from provisioning.charges import cli as charges_cli
from provisioning.config import cli as config_cli
from provisioning.config.vault import vault_of
from provisioning.corrections import cli as corrections_cli
from provisioning.db.models import Terminal, utcnow
from provisioning.identity import enrollment
from provisioning.identity.ca import CAFiles, IdentityError, create_ca
from provisioning.journal.cli import lookup_command
from provisioning.monitor import cli as monitor_cli
from provisioning.registries import cli as registries_cli
from provisioning.settings import Settings, SettingsError, default_state_dir
from provisioning.updates import cli as updates_cli

DEV_DEALER, DEV_ADMIN, DEV_SIGN_IN = "demo", "admin@demo.local", "demo-sign-in"


class CliError(Exception):
    """A command that cannot be carried out, with what to do about it."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk-dealer", description="The dealer service for kiosk terminals.")
    parser.add_argument("--state", type=Path, default=None, help="state folder (default: $KIOSK_DEALER_STATE or "
                                                                  "~/.local/state/kiosk-dealer)")
    parser.add_argument("--db", default=None, help="database URL, e.g. postgresql+psycopg://user@host/db "
                                                   "(default: SQLite in the state folder)")
    sub = parser.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="create the state folder, the CA, a server certificate and the database")
    init.add_argument("--dev", action="store_true", help="loopback demo: plain-HTTP portal on loopback, a demo "
                                                         "dealer and admin whose password is printed")
    init.add_argument("--host", action="append", default=None, help="name or address in the server certificate "
                                                                    "(repeatable; default 127.0.0.1, localhost)")
    serve = sub.add_parser("serve", help="run the portal and the terminal link")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8440, help="portal and enrollment (0: any free port)")
    serve.add_argument("--link-port", type=int, default=8441, help="terminal link, mutual TLS (0: any free port)")
    serve.add_argument("--reuse-port", action="store_true", help="let several server processes share the ports")
    serve.add_argument("--workers", type=int, default=1,
                       help="server processes forked from this one, sharing the ports and the link's TLS session "
                            "tickets (needs --port and --link-port); the periodic jobs get one more of their own")
    serve.add_argument("--ready-file", type=Path, help="write the addresses here as JSON once listening")
    serve.add_argument("--periodic-tick", type=float, default=1.0, help=argparse.SUPPRESS)
    serve.add_argument("--job-period", action="append", default=[], metavar="NAME=SECONDS", help=argparse.SUPPRESS)
    sub.add_parser("migrate", help="bring the database schema to the newest revision")
    dealer = sub.add_parser("dealer", help="tenants").add_subparsers(dest="sub", required=True)
    dealer_add = dealer.add_parser("add", help="add a dealer")
    dealer_add.add_argument("slug")
    dealer_add.add_argument("--name", default="")
    user = sub.add_parser("user", help="portal users").add_subparsers(dest="sub", required=True)
    user_add = user.add_parser("add", help="give a person a role at a dealer (password asked, or on stdin)")
    user_add.add_argument("--dealer", required=True)
    user_add.add_argument("--email", required=True)
    user_add.add_argument("--role", required=True, choices=("admin", "support", "technician"))
    user_add.add_argument("--name", default="")
    user_add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    terminal = sub.add_parser("terminal", help="terminals").add_subparsers(dest="sub", required=True)
    t_add = terminal.add_parser("add", help="add a terminal and print its one-time enrollment code")
    t_add.add_argument("--address", default="")
    t_add.add_argument("--timezone", default="Europe/Moscow")
    t_add.add_argument("--group", default="")
    t_code = terminal.add_parser("code", help="a new one-time enrollment code for a terminal")
    t_revoke = terminal.add_parser("revoke", help="revoke a terminal (refused at once, certificates on the CRL)")
    t_revoke.add_argument("--reason", default="revoked by command")
    t_list = terminal.add_parser("list", help="a dealer's terminals")
    for cmd in (t_add, t_code, t_revoke, t_list):
        cmd.add_argument("--dealer", required=True)
        if cmd is not t_list:
            cmd.add_argument("--number", required=True)
    lookup = sub.add_parser("lookup", help="a payment's whole story from the uploaded journals (support)")
    lookup.add_argument("--terminal", help="the terminal number printed on the receipt")
    lookup.add_argument("--operation", type=int, help="the operation number printed on the receipt")
    lookup.add_argument("--query", help="or: '10001/57', the receipt QR's text, a processing system's id")
    lookup.add_argument("--dealer", help="the dealer (needed when several have a terminal with this number)")
    lookup.add_argument("--format", choices=("text", "json"), default="text")
    lookup.add_argument("--lang", choices=("en", "ru"), default="en", help="the story's language (text format)")
    for option, words in (("--account", "account or phone, any form"), ("--from", "first local date, YYYY-MM-DD"),
                          ("--to", "last local date"), ("--amount", "cash or credited, roubles"),
                          ("--in-state", "e.g. needs_attention"), ("--provider", "provider id"),
                          ("--gateway", "gateway name")):
        lookup.add_argument(option, dest=f"search_{option[2:].replace('-', '_')}", help=f"or search: {words}")
    updates_cli.add_parsers(sub)
    monitor_cli.add_parsers(sub)
    corrections_cli.add_parsers(sub)
    registries_cli.add_parsers(sub)
    charges_cli.add_parsers(sub)
    config_cli.add_parsers(sub)
    crl = sub.add_parser("crl", help="write the certificate revocation list (PEM)")
    crl.add_argument("--output", type=Path, default=None)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.load(args.state or default_state_dir(), args.db)


def _database(settings: Settings) -> dbmod.Database:
    database = dbmod.Database(settings.db_url)
    if dbmod.current_revision(database.engine) is None:
        database.close()
        raise CliError(f"database {settings.db_url.split('@')[-1]} has no schema: run `kiosk-dealer migrate`")
    return database


def init(state: Path, db_url: str | None, dev: bool, hosts: list[str] | None, out: TextIO | None = None) -> Settings:
    """Create settings, CA (encrypted key, 0600), server certificate and schema; --dev adds a demo dealer+admin."""
    out = out or sys.stdout
    settings = Settings(state_dir=state, db_url=db_url or "", dev=dev,
                        hosts=hosts or ["127.0.0.1", "localhost"])
    state.mkdir(parents=True, exist_ok=True)
    os.chmod(state, 0o700)
    files = CAFiles(settings.ca_dir)
    if files.exists():
        raise CliError(f"{files.folder} has a CA already; remove the state folder to start again")
    ca = create_ca()
    passphrase = os.environ.get("KIOSK_DEALER_CA_PASSPHRASE")
    files.save(ca, passphrase.encode() if passphrase else None)
    files.save_server(*ca.issue_server(settings.hosts))
    vault_of(state)  # the key gateway secrets are sealed with (0600), beside the CA's
    settings.save()
    database = dbmod.Database(settings.db_url)
    try:
        dbmod.upgrade(database.engine)
        print(f"kiosk-dealer: state in {state}; database {settings.db_url.split('@')[-1]}", file=out)
        print(f"CA fingerprint: {ca.fingerprint}", file=out)
        if dev:
            password = secrets.token_urlsafe(12)
            with database.session() as session:
                dealer = tenants.create_dealer(session, DEV_DEALER, "Demo dealer", actor="init --dev")
                tenants.add_user(session, dealer, DEV_ADMIN, password, "admin", "init --dev", name="Demo admin")
            # loopback demo only: kept (0600) so the demo can show the sign-in every time it starts
            write_private(state / DEV_SIGN_IN, f"{DEV_ADMIN} {password}\n".encode())
            print(f"demo sign-in: {DEV_ADMIN} / {password}", file=out)
    finally:
        database.close()
    return settings


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        raise CliError("no terminal to ask for the password: use --password-stdin")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise CliError("the passwords differ")
    return first


def _print_code(settings: Settings, database: dbmod.Database, number: str, code: str) -> None:
    fingerprint = CAFiles(settings.ca_dir).load().fingerprint
    print(f"terminal {number}: one-time enrollment code (shown once, expires in {settings.code_hours} h)")
    print(f"  {code}")
    print(f"CA fingerprint: {fingerprint}")
    print(f"on the terminal: kiosk enroll --dealer https://<this host>:<port> --code {code} "
          f"--ca-fingerprint {fingerprint}")


def _terminal(args: argparse.Namespace, settings: Settings, database: dbmod.Database) -> int:
    actor = f"cli:{getpass.getuser()}"
    with database.session() as session:
        dealer = tenants.dealer_by_slug(session, args.dealer)
        if args.sub == "list":
            for t in session.scalars(select(Terminal).where(Terminal.dealer_id == dealer.id).order_by(Terminal.number)):
                seen = t.last_seen_at.isoformat() if t.last_seen_at else "never"
                print(f"{t.number}\t{t.status}\t{'online' if t.online else 'offline'}\t{seen}\t{t.address}")
            return 0
        if args.sub == "add":
            terminal = tenants.add_terminal(session, dealer, args.number, args.address, args.timezone, args.group,
                                            actor)
        else:
            terminal = tenants.terminal_by_number(session, dealer.id, args.number)
        if args.sub == "revoke":
            enrollment.revoke(session, terminal, actor, args.reason, utcnow())
            print(f"terminal {terminal.number} revoked")
            return 0
        code = enrollment.new_enrollment_code(session, terminal, actor, utcnow(), settings.code_hours)
    _print_code(settings, database, args.number, code)
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from provisioning.server import DealerServer

    periods = {}
    for item in args.job_period:
        name, _, seconds = item.partition("=")
        periods[name] = float(seconds)
    if args.workers > 1:
        from provisioning.workers import serve_forked

        if not (args.port and args.link_port):
            raise SystemExit("kiosk-dealer serve --workers: give --port and --link-port (every process binds them)")

        def worker(index: int, shared_tls: ssl.SSLContext) -> None:
            if index == args.workers:  # the jobs in a process of their own, off the servers' event loops
                from provisioning.periodic import run_periodic_process

                run_periodic_process(settings, args.periodic_tick, periods)
                return
            DealerServer(settings, args.host, args.port, args.link_port, reuse_port=True,
                         periodic_tick=args.periodic_tick, periods=periods, shared_tls=shared_tls,
                         periodic=False).run(args.ready_file if index == 0 else None)

        return serve_forked(settings, args.workers + 1, worker)
    server = DealerServer(settings, args.host, args.port, args.link_port, reuse_port=args.reuse_port,
                          periodic_tick=args.periodic_tick, periods=periods)
    print(f"kiosk-dealer: portal {server.portal_url}  terminal link {server.link_url}", flush=True)
    server.run(args.ready_file)
    return 0


def run(args: argparse.Namespace) -> int:
    """Carry out one parsed command."""
    if args.command == "init":
        init(args.state or default_state_dir(), args.db, args.dev, args.host)
        return 0
    settings = _settings(args)
    if args.command == "serve":
        return _serve(args, settings)
    if args.command == "updates":
        return updates_cli.run_updates(args, settings)
    if args.command == "migrate":
        database = dbmod.Database(settings.db_url)
        try:
            dbmod.upgrade(database.engine)
        finally:
            database.close()
        return 0
    database = _database(settings)
    try:
        if args.command == "dealer":
            with database.session() as session:
                tenants.create_dealer(session, args.slug, args.name, actor=f"cli:{getpass.getuser()}")
            return 0
        if args.command == "user":
            password = _password(args)
            with database.session() as session:
                dealer = tenants.dealer_by_slug(session, args.dealer)
                tenants.add_user(session, dealer, args.email, password, args.role, f"cli:{getpass.getuser()}",
                                 name=args.name)
            return 0
        if args.command == "terminal":
            return _terminal(args, settings, database)
        if args.command == "lookup":
            return lookup_command(database, args)
        if args.command == "release":
            return updates_cli.run_release(args, settings, database)
        if args.command == "alerts":
            return monitor_cli.run_alerts(args, settings, database)
        if args.command == "correction":
            return corrections_cli.run(args, database)
        if args.command in ("registry", "reconcile"):
            return registries_cli.run(args, settings, database)
        if args.command == "charges":
            return charges_cli.run_charges(args, settings, database)
        if args.command in ("config", "group"):
            return config_cli.run(args, settings, database)
        if args.command == "crl":
            with database.session() as session:
                pem = enrollment.certificate_revocation_list(session, CAFiles(settings.ca_dir).load())
            if args.output:
                args.output.write_bytes(pem)
            else:
                sys.stdout.write(pem.decode())
            return 0
    finally:
        database.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `kiosk-dealer`."""
    args = _parser().parse_args(argv)
    try:
        return run(args)
    except (CliError, SettingsError, IdentityError, tenants.TenantError, *updates_cli.ERRORS) as exc:
        print(f"kiosk-dealer: error: {exc}", file=sys.stderr)
        return 2
    except config_cli.ERRORS as exc:
        print(f"kiosk-dealer: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
