"""`emulate gateway --protocol osmp|cyberplat|json --port N [--state-file F]`: a processing emulator on loopback.

CyberPlat: `--keys DIR [--key-password P]` plays the centre with real key files (DIR/secret.key signs the
replies, DIR/pubkeys.key verifies each request by its signer's serial), e.g. the vendor's test keys. Without
--keys it makes a demo key set (DIR/centre, DIR/terminal) under ~/.local/state/kiosk/emulator-keys.

Prints `PORT=<n>` as its first line, then reads control lines on stdin (the same lines POST /_admin takes):
  fault KIND [N [COMMAND]]   schedule a fault for the next N requests (of getInfo|check|pay|status|cancel|balance)
                             kinds: drop-before-booking drop-after-booking http-500 http-503 timeout malformed
                                    huge billion-laughs external-entity bad-signature html-page blank-line cp1251
  latency MS | hang SECONDS | clear | broken-duplicates on|off | balance KOPECKS
  account ACC missing | account ACC NAME [DEBT_KOPECKS]
  profile osmp|osmp-status|ubilling|abills-old|rebooking   (osmp only) how a repeated pay is answered
                             (same booking | 300 "Duplicate transaction" | 8 "Double request" | booked again)
                             and whether command=status exists
  account-format PRV_ID REGEX                        (osmp only) that provider's account rule
  port NUMBER GATEWAY_OUT | pending-polls N          (cyberplat only)
  reset | status | quit
Each line is answered with one line ("ok …" or "error: …"). At the end of stdin it keeps serving until
SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from kiosk.emulators.processing.core import ProcessingEmulator

DEMO_KEYS = "~/.local/state/kiosk/emulator-keys"


def build(args: argparse.Namespace) -> ProcessingEmulator:
    """The emulator the arguments ask for."""
    common = {"state_file": args.state_file, "balance": args.balance}
    if args.protocol == "osmp":
        from kiosk.emulators.processing.osmp import OsmpEmulator

        return OsmpEmulator(username=args.username, password=args.password, **common)
    if args.protocol == "json":
        from kiosk.emulators.processing.jsonapi import JsonApiEmulator

        return JsonApiEmulator(key_id=args.key_id, secret=args.secret, **common)
    from kiosk.emulators.processing.cyberplat import DEMO_PASSWORD, CyberplatEmulator, write_demo_keys

    if args.keys is None:
        demo = Path(DEMO_KEYS).expanduser()
        write_demo_keys(demo)
        return CyberplatEmulator(demo / "centre", key_password=DEMO_PASSWORD, **common)
    password = args.key_password
    if args.key_password_env:
        if args.key_password_env not in os.environ:
            raise ValueError(f"environment variable {args.key_password_env} (--key-password-env) is not set")
        password = os.environ[args.key_password_env]
    return CyberplatEmulator(Path(args.keys).expanduser(), key_password=password, **common)


def parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(prog="kiosk emulate gateway", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--protocol", required=True, choices=("osmp", "cyberplat", "json"))
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--state-file", help="JSON file keeping every booking across restarts (written atomically)")
    p.add_argument("--balance", type=int, default=100_000_000_00, help="dealer balance in kopecks")
    p.add_argument("--username", default="", help="osmp: require HTTP Basic auth with this user")
    p.add_argument("--password", default="", help="osmp: Basic auth password")
    p.add_argument("--key-id", default="demo", help="json: the dealer key id")
    p.add_argument("--secret", default="demo-secret", help="json: the HMAC secret")
    p.add_argument("--keys", metavar="DIR", help="cyberplat: the centre's secret.key and the dealers' pubkeys.key "
                   f"(default: a demo key set made under {DEMO_KEYS})")
    p.add_argument("--key-password", metavar="P", help="cyberplat: the password of DIR/secret.key")
    p.add_argument("--key-password-env", metavar="VAR", help="cyberplat: read that password from this variable")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run an emulator until `quit`, end of input plus a signal, or SIGINT/SIGTERM."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["gateway"]:
        argv = argv[1:]
    args = parser().parse_args(argv)
    try:
        emulator = build(args)
    except ValueError as exc:  # unreadable key files, a wrong password: say which and why
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        port = emulator.start(args.port, args.host)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    print(f"PORT={port}", flush=True)
    try:
        reader = threading.Thread(target=_read_controls, args=(emulator, stop), daemon=True)
        reader.start()
        while not stop.wait(0.2):
            pass
    finally:
        emulator.stop()
    return 0


def _read_controls(emulator: ProcessingEmulator, stop: threading.Event) -> None:
    for line in sys.stdin:
        if line.strip() == "quit":
            print("ok bye", flush=True)
            stop.set()
            return
        if line.strip():
            print(emulator.control(line), flush=True)


if __name__ == "__main__":
    sys.exit(main())
