"""Where the dealer service keeps its state and how it is reached: read from `service.json` in the state folder."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kiosk.dealer_link.identity import write_private as write_atomic

SETTINGS_FILE = "service.json"


class SettingsError(Exception):
    """A settings file that is missing or wrong, naming the file and the key."""


def default_state_dir() -> Path:
    """$KIOSK_DEALER_STATE, else $XDG_STATE_HOME/kiosk-dealer, else ~/.local/state/kiosk-dealer."""
    if os.environ.get("KIOSK_DEALER_STATE"):
        return Path(os.environ["KIOSK_DEALER_STATE"]).expanduser()
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "kiosk-dealer"


@dataclass
class Settings:
    """The service's settings; every server process against one database reads the same values."""

    state_dir: Path
    db_url: str = ""
    dev: bool = False
    hosts: list[str] = field(default_factory=lambda: ["127.0.0.1", "localhost"])
    code_hours: int = 24  # an enrollment code expires after this
    signature_max_age: int = 300  # seconds a signed request stays fresh (and its nonce is remembered)
    heartbeat_interval: int = 60  # what enrolled terminals are told
    offline_after: int = 180  # seconds without a heartbeat before the portal shows a terminal offline
    session_hours: int = 12
    max_failed_logins: int = 5
    lockout_minutes: int = 15
    renew_before_days: int = 30  # a terminal asks for a new certificate this long before expiry
    certificate_days: int = 365
    heartbeat_retention_days: int = 30  # raw heartbeats older than this are pruned (hourly aggregates are kept)
    smtp_host: str = ""  # the SMTP server alert e-mails go through (none: e-mail alerts fail and are retried)
    smtp_port: int = 25
    smtp_from: str = ""
    smtp_starttls: bool = False
    smtp_user: str = ""
    smtp_password: str = ""  # kept in service.json (0600), never logged
    # providers' registry drop folders must lie inside this folder (none: registries go by e-mail only), so a
    # dealer's admin cannot have the service write anywhere else
    registry_drop_root: str = ""

    def __post_init__(self) -> None:
        if not self.db_url:
            self.db_url = f"sqlite:///{self.state_dir / 'dealer.sqlite'}"

    @property
    def ca_dir(self) -> Path:
        """The CA's folder (certificate, encrypted key, server certificate)."""
        return self.state_dir / "ca"

    def save(self) -> None:
        """Write service.json atomically."""
        data = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items() if k != "state_dir"}
        write_atomic(self.state_dir / SETTINGS_FILE, json.dumps(data, indent=2).encode(), 0o600)

    @classmethod
    def load(cls, state_dir: Path, db_url: str | None = None) -> Settings:
        """Read service.json from a state folder (a --db given on the command line wins)."""
        path = state_dir / SETTINGS_FILE
        if not path.exists():
            raise SettingsError(f"{path}: not found; run `kiosk-dealer init` first")
        try:
            data = json.loads(path.read_text())
        except ValueError as exc:
            raise SettingsError(f"{path}: not valid JSON: {exc}") from exc
        known = set(cls.__dataclass_fields__) - {"state_dir"}
        unknown = set(data) - known
        if unknown:
            raise SettingsError(f"{path}: unknown key(s) {sorted(unknown)}; expected some of {sorted(known)}")
        settings = cls(state_dir=state_dir, **data)
        if db_url:
            settings.db_url = db_url
        return settings
