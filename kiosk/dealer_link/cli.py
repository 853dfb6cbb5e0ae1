"""`kiosk enroll` and `kiosk link heartbeat` (the terminal side of the dealer link, from the command line)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from kiosk.config import load_config
from kiosk.dealer_link.client import HeartbeatLoop
from kiosk.dealer_link.enroll import enroll
from kiosk.dealer_link.identity import LINK_FOLDER, LinkError


def identity_folder(config_path: str, identity: str | None) -> Path:
    """Where the terminal's identity lives: --identity, else `dealer-link/` next to the journal."""
    if identity:
        return Path(identity).expanduser()
    return load_config(config_path).journal_path.parent / LINK_FOLDER


def enroll_command(args: argparse.Namespace) -> int:
    """Carry out `kiosk enroll`."""
    folder = identity_folder(args.config, args.identity)
    try:
        settings = enroll(args.dealer, args.code, args.ca_fingerprint, folder)
    except LinkError as exc:
        print(f"kiosk: enrollment failed: {exc}", file=sys.stderr)
        return 1
    print(f"enrolled as terminal {settings.number} of dealer {settings.dealer}; identity in {folder}; "
          f"link {settings.link_url}")
    from kiosk.updates.cli import pin_root_main  # the update root is pinned now, from the same trusted link

    pin_root_main(["--identity", str(folder)])
    return 0


def heartbeat_main(argv: Sequence[str]) -> int:
    """`kiosk link heartbeat`: run only the heartbeat loop (until SIGTERM), or send one with --once."""
    parser = argparse.ArgumentParser(prog="kiosk link heartbeat")
    parser.add_argument("--identity", required=True, help="the identity folder `kiosk enroll` wrote")
    parser.add_argument("--interval", type=float, default=None, help="seconds (default: what the service said)")
    parser.add_argument("--once", action="store_true", help="send one heartbeat and exit (1 if refused)")
    args = parser.parse_args(list(argv))
    try:
        loop = HeartbeatLoop(Path(args.identity).expanduser(), interval=args.interval)
    except LinkError as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 2
    if args.once:
        ok = loop.beat()
        loop.close()
        if not ok:
            print(f"kiosk: heartbeat failed: {loop.last_error}", file=sys.stderr)
        return 0 if ok else 1
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    loop.start()
    stop.wait()
    loop.close()
    return 0
