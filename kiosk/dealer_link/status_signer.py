"""Signs the payer's status links with the terminal's enrolled identity key (kiosk.status_link)."""

from __future__ import annotations

import logging
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from kiosk.dealer_link.identity import LinkError, TerminalIdentity
from kiosk.status_link import make_link

log = logging.getLogger(__name__)


class StatusSigner:
    """Makes status links when the dealer set a status page and the terminal is enrolled; '' otherwise."""

    def __init__(self, base_url: str, link_folder: Path) -> None:
        self.base_url, self.identity = base_url, TerminalIdentity(link_folder)
        self._key: ec.EllipticCurvePrivateKey | None = None
        self._loaded_from: float | None = None  # identity file's mtime: a renewed certificate brings a new key
        self._warned = False

    def link(self, terminal: str, operation: int, nonce: int | None) -> str:
        """The signed link for one operation, or '' (the receipt then carries the support QR as before)."""
        if not self.base_url:
            return ""
        key = self._current_key()
        return make_link(self.base_url, key, terminal, operation, nonce) if key else ""

    def _current_key(self) -> ec.EllipticCurvePrivateKey | None:
        try:
            stamp = self.identity.identity.stat().st_mtime
            if self._key is None or stamp != self._loaded_from:
                self._key, _ = self.identity.load()
                self._loaded_from = stamp
        except (OSError, ValueError, LinkError) as exc:
            if not self._warned:  # once: a terminal that is not enrolled prints the support QR on every receipt
                log.warning("status page set but no identity key to sign links (%s); receipts carry the support QR",
                            exc)
                self._warned = True
            return None
        return self._key
