"""`kiosk-dealer updates …` (the TUF repository's keys) and `kiosk-dealer release …` (bundles and channels)."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from securesystemslib.signer import CryptoSigner, Signer

from provisioning import audit, tenants
from provisioning import db as dbmod
from provisioning.settings import Settings
from provisioning.updates import service
from provisioning.updates.bundle import BundleError, build_bundle
from provisioning.updates.repository import (
    Repository,
    RepositoryError,
    describe,
    dumps,
    load_signer,
    save_signer,
)

ERRORS = (RepositoryError, BundleError)


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `updates` and `release` sub-commands."""
    updates = sub.add_parser("updates", help="the signed update repository (TUF)").add_subparsers(
        dest="sub", required=True)
    init = updates.add_parser("init", help="create the keys and the first metadata; root keys go to files "
                                           "that you move offline")
    init.add_argument("--root-key-dir", type=Path, required=True, help="where to write the root keys (0600)")
    init.add_argument("--root-keys", type=int, default=2, help="how many root keys (default 2)")
    init.add_argument("--threshold", type=int, default=1, help="root signatures needed (default 1)")
    rotate = updates.add_parser("rotate-root", help="a new root signed by the current root keys")
    revoke = updates.add_parser("revoke-key", help="remove a key from the root (an online role's key is replaced)")
    revoke.add_argument("keyid")
    for cmd in (rotate, revoke):
        cmd.add_argument("--root-key", type=Path, action="append", required=True,
                         help="a current root key file (repeat up to the threshold)")
    rotate.add_argument("--new-root-keys", type=int, default=0, help="add this many new root keys")
    rotate.add_argument("--root-key-dir", type=Path, help="where to write the new root keys")
    rotate.add_argument("--threshold", type=int, default=None)
    rotate.add_argument("--drop", action="append", default=[], metavar="KEYID", help="remove this root key")
    updates.add_parser("refresh", help="re-sign snapshot and timestamp when due (the service does it periodically)")
    updates.add_parser("status", help="versions, expiry and keys of each role (JSON)")

    release = sub.add_parser("release", help="releases and channels").add_subparsers(dest="sub", required=True)
    add = release.add_parser("add", help="sign a bundle of the kiosk wheel and all its dependency wheels")
    add.add_argument("dist", nargs="+", type=Path, help="wheel files (the kiosk wheel and every dependency)")
    add.add_argument("--version", required=True)
    add.add_argument("--channel", choices=service.CHANNELS, default="stable")
    add.add_argument("--no-check", action="store_true", help="skip the check that the wheels install alone")
    promote = release.add_parser("promote", help="a pilot release becomes the stable one")
    promote.add_argument("version")
    pilot = release.add_parser("pilot", help="set a dealer's pilot group (terminals that take pilot releases)")
    pilot.add_argument("--dealer", required=True)
    pilot.add_argument("--group", required=True, help='a terminal group ("" for none)')
    theme = release.add_parser("theme", help="sign a theme pack into the dealer's delegated role")
    theme.add_argument("--dealer", required=True)
    theme.add_argument("pack", type=Path, help="the theme pack file")
    release.add_parser("list", help="every release")


def _root_signers(paths: list[Path]) -> list[Signer]:
    return [load_signer(p) for p in paths]


def _new_root_keys(count: int, folder: Path | None) -> list[Signer]:
    if count and folder is None:
        raise RepositoryError("--root-key-dir is needed to write the new root keys")
    signers: list[Signer] = []
    for _ in range(count):
        signer = CryptoSigner.generate_ed25519()
        assert folder is not None
        path = folder / f"root-{signer.public_key.keyid[:12]}.pem"
        save_signer(path, signer)
        print(f"new root key: {path} (move it offline)")
        signers.append(signer)
    return signers


def _audit(settings: Settings, action: str, after: dict[str, object]) -> None:
    database = dbmod.Database(settings.db_url)
    try:
        with database.session() as session:
            audit.record(session, actor=f"cli:{getpass.getuser()}", action=action, target="update repository",
                         after=after)
    finally:
        database.close()


def run_updates(args: argparse.Namespace, settings: Settings) -> int:
    """Carry out `kiosk-dealer updates …` (key changes are audited)."""
    repo = Repository(settings.state_dir / "updates")
    if args.sub != "status":
        database = dbmod.Database(settings.db_url)
        try:
            if dbmod.current_revision(database.engine) is None:
                raise RepositoryError("the database has no schema (for the audit log): run `kiosk-dealer migrate`")
        finally:
            database.close()
    if args.sub == "init":
        for path in repo.init(args.root_key_dir, args.root_keys, args.threshold):
            print(f"root key: {path} (move it offline; {args.threshold} of {args.root_keys} sign a new root)")
        print(f"update repository in {repo.folder}")
        _audit(settings, "updates.init", {"root_keys": args.root_keys, "threshold": args.threshold})
        return 0
    if not repo.exists():
        raise RepositoryError("no update repository: run `kiosk-dealer updates init` first")
    if args.sub == "rotate-root":
        old = _root_signers(args.root_key)
        root = repo.new_root(old, _new_root_keys(args.new_root_keys, args.root_key_dir), args.threshold,
                             revoke=args.drop)
        print(f"root version {root.signed.version} signed")
        _audit(settings, "updates.rotate_root", {"version": root.signed.version,
                                                 "root_keys": root.signed.roles["root"].keyids})
    elif args.sub == "revoke-key":
        root = repo.new_root(_root_signers(args.root_key), revoke=[args.keyid])
        print(f"key {args.keyid} revoked; root version {root.signed.version}")
        _audit(settings, "updates.revoke_key", {"keyid": args.keyid, "version": root.signed.version})
    elif args.sub == "refresh":
        print("re-signed: " + (", ".join(repo.refresh()) or "nothing due"))
    elif args.sub == "status":
        print(dumps(describe(repo)))
    return 0


def run_release(args: argparse.Namespace, settings: Settings, database: dbmod.Database) -> int:
    """Carry out `kiosk-dealer release …`."""
    repo = Repository(settings.state_dir / "updates")
    if not repo.exists():
        raise RepositoryError("no update repository: run `kiosk-dealer updates init` first")
    actor = f"cli:{getpass.getuser()}"
    with database.session() as session:
        if args.sub == "add":
            bundle = build_bundle(args.dist, args.version, check=not args.no_check)
            release = service.add_release(session, repo, bundle, args.version, args.channel, actor)
            print(f"release {release.version} signed into channel {release.channel}: {release.target}, "
                  f"{release.size} bytes, sha256 {release.sha256}")
        elif args.sub == "promote":
            service.promote(session, repo, args.version, actor)
            print(f"release {args.version} is stable")
        elif args.sub == "pilot":
            dealer = tenants.dealer_by_slug(session, args.dealer)
            service.set_pilot_group(session, dealer.id, args.group, actor)
            print(f"dealer {dealer.slug}: pilot group {args.group or '(none)'}")
        elif args.sub == "theme":
            dealer = tenants.dealer_by_slug(session, args.dealer)
            role = repo.delegate_dealer(dealer.slug)
            target = f"themes/{dealer.slug}/{args.pack.name}"
            repo.add_target(target, args.pack.read_bytes(), {"kind": "theme"}, role=role)
            print(f"theme {target} signed by role {role}")
        elif args.sub == "list":
            for r in service.releases(session):
                print(f"{r.version}\t{r.channel}\t{r.size}\t{r.created_at.isoformat()}\t{r.created_by}",
                      file=sys.stdout)
    return 0
