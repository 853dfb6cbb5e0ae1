"""`kiosk update guard|check|status|pin-root` (the updater unit, the timer, the kiosk unit's start check)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from kiosk.dealer_link.client import DealerLink
from kiosk.dealer_link.identity import LinkError
from kiosk.updates.agent import check_once, fetch_root, link_client, link_report, running_version
from kiosk.updates.client import UpdateRefused, pin_root
from kiosk.updates.releases import Releases, UpdateError

DEFAULT_ROOT = "/var/lib/kiosk/updates"


def _parser(prog: str, identity: bool = False) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"kiosk update {prog}")
    parser.add_argument("--root", type=Path, default=Path(DEFAULT_ROOT), help=f"update folder ({DEFAULT_ROOT})")
    if identity:
        parser.add_argument("--identity", type=Path, required=True, help="the identity folder `kiosk enroll` wrote")
    return parser


def guard_main(argv: Sequence[str]) -> int:
    """Before each start of the kiosk (--start) and from the updater's timer: clean up, confirm a release that
    reported healthy, roll back one that is not healthy in time (and restart the kiosk unit onto it)."""
    parser = _parser("guard")
    parser.add_argument("--start", action="store_true", help="called as the kiosk starts (counts the start)")
    parser.add_argument("--restart-unit", default="", help="after a rollback, restart this systemd unit")
    args = parser.parse_args(list(argv))
    try:
        outcome = Releases(args.root).guard(starting=args.start)
    except UpdateError as exc:
        print(f"kiosk update guard: {exc}", file=sys.stderr)
        return 0  # never stop the kiosk from starting: it is the one that takes payments
    print(f"kiosk update guard: {outcome}")
    if outcome.startswith("rolled back") and args.restart_unit:
        subprocess.run(["systemctl", "restart", args.restart_unit], check=False)
    return 0


def status_main(argv: Sequence[str]) -> int:
    """What is installed, current, pending and bad (JSON)."""
    args = _parser("status").parse_args(list(argv))
    releases = Releases(args.root)
    state = releases.state()
    print(json.dumps({"current": releases.current(), "installed": releases.installed(), "pending": state.pending,
                      "bad": state.bad, "unreported": len(state.events)}, indent=2))
    return 0


def check_main(argv: Sequence[str]) -> int:
    """One update cycle over the dealer link: download and install side by side (the running kiosk switches
    between payments); exit 0 with nothing new or installed, 1 when a step failed."""
    args = _parser("check", identity=True).parse_args(list(argv))
    releases = Releases(args.root)
    try:
        with DealerLink(args.identity) as link:
            version = check_once(releases, link_client(link, args.identity / "updates"), link_report(link),
                                 running_version(releases))
    except (UpdateRefused, UpdateError, LinkError) as exc:
        print(f"kiosk update check: {exc}", file=sys.stderr)
        return 1
    print(f"kiosk update check: {'release ' + version + ' installed' if version else 'nothing new'}")
    return 0


def pin_root_main(argv: Sequence[str]) -> int:
    """Pin the update root the dealer service holds now (after enrollment, over the authenticated link)."""
    args = _parser("pin-root", identity=True).parse_args(list(argv))
    pinned = args.identity / "updates" / "metadata" / "root.json"
    if pinned.exists():
        # Never replaced from the service: a new root is trusted only when the pinned one signed it (rotation).
        print(f"kiosk update pin-root: {pinned} is pinned already; roots change by rotation only", file=sys.stderr)
        return 1
    try:
        with DealerLink(args.identity) as link:
            pin_root(args.identity / "updates", fetch_root(link))
    except (LinkError, ValueError) as exc:
        print(f"kiosk update pin-root: {exc} (the running terminal pins it once the service has one)",
              file=sys.stderr)
        return 1
    print(f"update root pinned in {args.identity / 'updates'}")
    return 0
