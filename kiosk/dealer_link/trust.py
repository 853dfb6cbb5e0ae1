"""What a terminal trusts of pushed configuration beyond a valid signature: the newest dealer-key generation it
has seen (a rotation retires older keys) and the sequence of the bundle in force (a replayed older bundle, or one
reusing its sequence with other content, would roll the terminal back).

Kept in `dealer-config/trust.json` (0600, replaced atomically) and only ever raised: written after a bundle is
installed, and raised at start-up from the stored bundle in force, so a crash between the two loses nothing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from kiosk.dealer_link.bundle import BundleRefused, Opened
from kiosk.dealer_link.identity import write_private

log = logging.getLogger(__name__)

TRUST = "trust.json"


@dataclass(frozen=True)
class Trust:
    """The pinned key generation and key, and the sequence and payload digest of the bundle in force."""

    key_generation: int = 0
    key_sha256: str = ""
    sequence: int = 0
    payload_sha256: str = ""

    def judge(self, opened: Opened) -> None:
        """Refuse (BundleRefused, the reason reported to the service) a bundle that would go back."""
        if opened.key_generation < self.key_generation:
            raise BundleRefused(f"signed by a retired dealer key (generation {opened.key_generation}; this terminal "
                                f"has pinned generation {self.key_generation} since a key rotation)")
        if opened.key_generation == self.key_generation and self.key_sha256 and opened.key_sha256 != self.key_sha256:
            raise BundleRefused(f"signed by a dealer key of generation {opened.key_generation} that is not the one "
                                "this terminal pinned")
        if opened.sequence < self.sequence:
            raise BundleRefused(f"older than the configuration in force (sequence {opened.sequence} < "
                                f"{self.sequence}): a replayed bundle cannot roll this terminal back")
        if opened.sequence == self.sequence and self.payload_sha256 and opened.payload_sha256 != self.payload_sha256:
            raise BundleRefused(f"the same sequence {opened.sequence} as the configuration in force with other "
                                "content")

    def after(self, opened: Opened) -> Trust:
        """The trust once `opened` is in force (never lower than now)."""
        if opened.key_generation > self.key_generation or not self.key_sha256:
            key_generation, key_sha256 = max(opened.key_generation, self.key_generation), opened.key_sha256
        else:
            key_generation, key_sha256 = self.key_generation, self.key_sha256
        if opened.sequence >= self.sequence:
            sequence, payload = opened.sequence, opened.payload_sha256
        else:
            sequence, payload = self.sequence, self.payload_sha256
        return Trust(key_generation, key_sha256, sequence, payload)


def load(folder: Path) -> Trust:
    """The stored trust (none yet, or an unreadable file: trust nothing more than a valid signature)."""
    path = folder / TRUST
    if not path.exists():
        return Trust()
    try:
        return Trust(**json.loads(path.read_text()))
    except (ValueError, TypeError) as exc:
        log.error("%s unreadable, rebuilt from the next bundle: %s", path, exc)
        return Trust()


def save(folder: Path, trust: Trust) -> None:
    """Store the trust atomically (0600)."""
    write_private(folder / TRUST, json.dumps(asdict(trust), indent=2).encode())
