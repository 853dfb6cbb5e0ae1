"""The dealer side of `./dev demo`: the service on loopback (SQLite, a dev CA) in its own process, the demo
terminal enrolled with a one-time code like a real one, and its heartbeat loop beside the payment core."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

from kiosk.dealer_link.client import DealerLink, HeartbeatLoop
from kiosk.dealer_link.enroll import enroll
from kiosk.dealer_link.identity import TerminalIdentity, write_private
from kiosk.updates.agent import fetch_root
from kiosk.updates.client import pin_root
from provisioning import tenants
from provisioning.cli import DEV_DEALER, DEV_SIGN_IN, init
from provisioning.db import Database
from provisioning.identity import enrollment
from provisioning.identity.ca import CAFiles
from provisioning.settings import SETTINGS_FILE, Settings
from provisioning.updates.repository import Repository

START_TIMEOUT = 60.0
DEMO_CONFIG_INTERVAL = 10  # seconds between the demo terminal's pulls of its pushed configuration


class DemoDealer:
    """Starts (and stops) the demo dealer service and the demo terminal's link to it."""

    def __init__(self, state_dir: Path, terminal_number: str, address: str = "", timezone: str = "Europe/Moscow",
                 identity_dir: Path | None = None, heartbeat: bool = True) -> None:
        self.state_dir = state_dir
        self.send_heartbeats = heartbeat  # False when the terminal's own `Terminal.start()` sends them
        self.number, self.address, self.timezone = terminal_number, address, timezone
        self.identity_dir = identity_dir or state_dir.parent / "dealer-link"
        self.process: subprocess.Popen[bytes] | None = None
        self.heartbeat: HeartbeatLoop | None = None
        self.portal_url = self.link_url = ""

    def start(self) -> DemoDealer:
        """Init once, serve, enroll the terminal (once), start its heartbeat."""
        try:
            if not (self.state_dir / SETTINGS_FILE).exists():
                with open(self.state_dir.parent / "dealer-init.log", "w") as log:
                    init(self.state_dir, None, dev=True, hosts=["127.0.0.1", "localhost"], out=log)
            updates = Repository(self.state_dir / "updates")
            if not updates.exists():  # loopback demo: its one root key stays in the state folder
                updates.init(self.state_dir / "demo-root-keys", root_keys=1, threshold=1)
            self._serve()
            self._enroll()
            self._pin_update_root()
            if self.send_heartbeats:
                self.heartbeat = HeartbeatLoop(self.identity_dir).start()
        except BaseException:
            self.close()
            raise
        return self

    def _serve(self) -> None:
        ready = self.state_dir / "ready.json"
        ready.unlink(missing_ok=True)
        log = open(self.state_dir / "serve.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "provisioning.cli", "--state", str(self.state_dir), "serve", "--port", "0",
             "--link-port", "0", "--ready-file", str(ready)], stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while not ready.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the demo dealer service did not start; see {self.state_dir / 'serve.log'}")
            time.sleep(0.1)
        info = json.loads(ready.read_text())
        self.portal_url, self.link_url = info["portal_url"], info["link_url"]

    def _enroll(self) -> None:
        identity = TerminalIdentity(self.identity_dir)
        if not identity.enrolled():
            self._enroll_once()
        # Ports are chosen afresh each run: point the stored link at this run's service. The demo terminal pulls
        # pushed configuration every few seconds, so a change saved in the portal shows on it soon.
        settings = dataclasses.replace(identity.settings(), dealer_url=self.portal_url, link_url=self.link_url,
                                       config_interval=DEMO_CONFIG_INTERVAL)
        write_private(identity.settings_file, json.dumps(dataclasses.asdict(settings), indent=2).encode(), 0o644)

    def _enroll_once(self) -> None:
        service = Settings.load(self.state_dir)
        db = Database(service.db_url)
        try:
            with db.session() as session:
                dealer = tenants.dealer_by_slug(session, DEV_DEALER)
                try:
                    terminal = tenants.terminal_by_number(session, dealer.id, self.number)
                except tenants.TenantError:
                    terminal = tenants.add_terminal(session, dealer, self.number, self.address, self.timezone,
                                                    "demo", "kiosk demo")
                code = enrollment.new_enrollment_code(session, terminal, "kiosk demo", dt.datetime.now(dt.UTC), 1)
        finally:
            db.close()
        enroll(self.portal_url, code, CAFiles(service.ca_dir).load().fingerprint, self.identity_dir)

    def _pin_update_root(self) -> None:
        pinned = self.identity_dir / "updates" / "metadata" / "root.json"
        if not pinned.exists():  # as `kiosk enroll` does: over the enrolled, mutually authenticated link
            with DealerLink(self.identity_dir) as link:
                pin_root(self.identity_dir / "updates", fetch_root(link))

    def sign_in(self) -> str:
        """The demo admin's e-mail and password."""
        path = self.state_dir / DEV_SIGN_IN
        return path.read_text().strip().replace(" ", " / ") if path.exists() else "(see kiosk-dealer user add)"

    def describe(self) -> str:
        """Where the portal is and how to sign in."""
        return (f"dealer portal: {self.portal_url}  (sign in as {self.sign_in()}); terminal {self.number} enrolled, "
                f"heartbeat every {int(self.heartbeat.interval) if self.heartbeat else 60} s")

    def close(self) -> None:
        """Stop the heartbeat and the service (their state stays for the next run)."""
        if self.heartbeat is not None:
            self.heartbeat.close()
            self.heartbeat = None
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
