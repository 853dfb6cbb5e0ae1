"""`kiosk-dealer registry build|list|set` and `kiosk-dealer reconcile`: a provider's daily registry built, kept and
written out; the archive listed; a provider's registry settings; the processing system's registry reconciled."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioning import tenants
from provisioning.db import Database
from provisioning.db.models import Dealer
from provisioning.monitor.delivery import DeliveryFailed
from provisioning.registries import build as builder
from provisioning.registries.delivery import inside_root, queue
from provisioning.registries.importer import FormatError, ImportFormat, ImportRejected
from provisioning.registries.models import RegistryFile, RegistryProfile
from provisioning.registries.reconcile import reconcile
from provisioning.settings import Settings


def add_parsers(sub: Any) -> None:
    """The `registry` and `reconcile` commands."""
    registry = sub.add_parser("registry", help="providers' daily payment registries").add_subparsers(
        dest="sub", required=True)
    make = registry.add_parser("build", help="build a provider's registry for a day (kept in the archive)")
    make.add_argument("--provider", required=True)
    make.add_argument("--date", required=True, type=date.fromisoformat, help="the provider's local date, YYYY-MM-DD")
    make.add_argument("--format", choices=builder.FORMATS, default="csv")
    make.add_argument("--output", type=Path, help="also write the file here ('-': standard output)")
    make.add_argument("--send", action="store_true", help="queue its delivery (e-mail, drop folder) as scheduled")
    listing = registry.add_parser("list", help="the archive of built registries, newest first")
    listing.add_argument("--provider", default="")
    setting = registry.add_parser("set", help="a provider's registry settings (only the options given change)")
    setting.add_argument("--provider", required=True)
    for option, words in (("--name", "the provider's name on the registry"), ("--timezone", "e.g. Asia/Omsk"),
                          ("--at", "local time of day to build yesterday's registry, HH:MM"),
                          ("--formats", "csv, xlsx or csv,xlsx"), ("--encoding", "CSV: utf-8 or windows-1251"),
                          ("--emails", "addresses the registry is mailed to"),
                          ("--drop-dir", "a folder the registry is written into"),
                          ("--import-format", "reconciliation: JSON (columns, delimiter, encoding, amount_unit, "
                                              "time_format, window_minutes, header)")):
        setting.add_argument(option, help=words)
    setting.add_argument("--schedule", choices=("on", "off"), help="build every day at --at")
    check = sub.add_parser("reconcile", help="match a processing system's registry with the uploaded payments")
    check.add_argument("--provider", required=True)
    check.add_argument("--date", required=True, type=date.fromisoformat, help="the provider's local date")
    check.add_argument("file", type=Path)
    check.add_argument("--format", choices=("text", "json"), default="text")
    for cmd in (make, listing, setting, check):
        cmd.add_argument("--dealer", help="the dealer's slug (needed when there are several)")


def _dealer(session: Session, slug: str | None) -> Dealer:
    if slug:
        return tenants.dealer_by_slug(session, slug)
    dealers = list(session.scalars(select(Dealer).order_by(Dealer.slug)).all())
    if len(dealers) != 1:
        raise tenants.TenantError("--dealer", f"there are {len(dealers)} dealers: name one")
    return dealers[0]


def _set(session: Session, dealer: Dealer, args: argparse.Namespace, drop_root: str) -> None:
    profile = session.scalar(select(RegistryProfile).where(RegistryProfile.dealer_id == dealer.id,
                                                           RegistryProfile.provider == args.provider))
    if profile is None:
        profile = builder.profile_of(session, dealer.id, args.provider)
        session.add(profile)
    changes = {"name": args.name, "timezone": args.timezone, "build_at": args.at, "formats": args.formats,
               "encoding": args.encoding, "emails": args.emails, "drop_dir": args.drop_dir,
               "import_format": args.import_format}
    for key, value in changes.items():
        if value is not None:
            setattr(profile, key, value)
    if args.schedule:
        profile.scheduled = args.schedule == "on"
    check_profile(profile, drop_root)


def check_profile(profile: RegistryProfile, drop_root: str) -> None:
    """A RegistryError or FormatError naming the first setting that cannot work."""
    builder.check_provider(profile.provider)
    builder.zone_of(profile.timezone)
    if len(profile.build_at) != 5 or profile.build_at[2] != ":" or not profile.build_at.replace(":", "").isdigit() \
            or int(profile.build_at[:2]) > 23 or int(profile.build_at[3:]) > 59:
        raise builder.RegistryError(f"time of day {profile.build_at!r}: expected HH:MM")
    formats = [f.strip() for f in profile.formats.split(",") if f.strip()]
    if not formats or set(formats) - set(builder.FORMATS):
        raise builder.RegistryError(f"formats {profile.formats!r}: expected csv, xlsx or csv,xlsx")
    if profile.encoding not in builder.ENCODINGS:
        raise builder.RegistryError(f"encoding {profile.encoding!r}: expected utf-8 or windows-1251")
    if profile.drop_dir.strip():
        try:
            inside_root(profile.drop_dir.strip(), drop_root)
        except DeliveryFailed as exc:
            raise builder.RegistryError(str(exc)) from exc
    ImportFormat.from_json(profile.import_format)


def _report_text(report: dict[str, Any], out: Any) -> None:
    print(f"their lines: {report['theirs_rows']}; matched: {report['matched']} "
          f"({report['matched_ours'] / 100:.2f} ours, {report['matched_theirs'] / 100:.2f} theirs); "
          f"discrepancies: {report['discrepancies']}", file=out)
    titles = (("mismatches", "amount differs"), ("not_booked_here", "booked there, not delivered here"),
              ("missing_ours", "only in their registry"), ("missing_theirs", "only in ours"))
    for key, title in titles:
        for item in report[key]:
            who = (f"terminal {item['terminal']} operation {item['operation']}" if item.get("terminal")
                   else f"account {item.get('account') or '-'} id {item.get('external_id') or '-'}")
            amounts = "  ".join(f"{side} {item[side] / 100:.2f}" for side in ("ours", "theirs") if side in item)
            line = f"  line {item['line']}" if "line" in item else ""
            print(f"{title}: {who}  {amounts}{line}", file=out)


def run(args: argparse.Namespace, settings: Settings, database: Database) -> int:
    """Carry out `registry …` or `reconcile`; 1 when reconciliation found discrepancies or the file was refused."""
    actor = f"cli:{getpass.getuser()}"
    try:
        with database.session() as session:
            dealer = _dealer(session, args.dealer)
            if args.command == "reconcile":
                run_row = reconcile(session, dealer.id, args.provider, args.date, args.file.read_bytes(),
                                    args.file.name, actor)
                report = json.loads(run_row.report)
                if args.format == "json":
                    json.dump(report, sys.stdout, ensure_ascii=False, indent=2)
                    print()
                else:
                    _report_text(report, sys.stdout)
                return 1 if report["discrepancies"] else 0
            if args.sub == "set":
                _set(session, dealer, args, settings.registry_drop_root)
                return 0
            if args.sub == "list":
                query = select(RegistryFile).where(RegistryFile.dealer_id == dealer.id)
                if args.provider:
                    query = query.where(RegistryFile.provider == args.provider)
                for f in session.scalars(query.order_by(RegistryFile.day.desc(), RegistryFile.id.desc()).limit(500)):
                    print(f"{f.id}\t{f.provider}\t{f.day.isoformat()}\t{f.format}\tv{f.version}\t{f.payments}\t"
                          f"{f.amount / 100:.2f}\t{f.built_at.isoformat(timespec='seconds')}\t{f.file_name}")
                return 0
            file = builder.build(session, dealer.id, args.provider, args.date, args.format, actor)
            if args.send:
                queue(session, file)
            content = file.content
    except ImportRejected as exc:
        print(f"kiosk-dealer reconcile: {args.file}: refused, nothing imported:", file=sys.stderr)
        for error in exc.errors:
            print(f"  {error}", file=sys.stderr)
        return 1
    except (builder.RegistryError, FormatError, OSError) as exc:
        print(f"kiosk-dealer {args.command}: {exc}", file=sys.stderr)
        return 2
    if args.output and str(args.output) == "-":
        sys.stdout.buffer.write(content)
    elif args.output:
        args.output.write_bytes(content)
    print(f"{file.file_name}: {file.payments} payments, {file.amount / 100:.2f} credited, {file.fee / 100:.2f} fees "
          f"(archive id {file.id})", file=sys.stderr)
    return 0
