"""The terminal's identity on disk: its private key with its certificate (0600, one file so a renewal replaces
both at once), the pinned CA, and the link settings the service gave at enrollment."""

from __future__ import annotations

import json
import os
import ssl
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kiosk.errors import KioskError
from kiosk.offline_queue.files import write_atomically


class LinkError(KioskError):
    """The dealer link cannot be used: not enrolled, a wrong CA, a refused request — with the reason."""


def write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write a file atomically; it is created 0600 (keys are never readable by others, not even for a moment)
    and only afterwards opened up to `mode` when that is wider (certificates, settings)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomically(path, data)
    if mode != 0o600:
        os.chmod(path, mode)


def fingerprint(cert: x509.Certificate) -> str:
    """`SHA256:<HEX>` of a certificate (what the dealer shows next to the code)."""
    return "SHA256:" + cert.fingerprint(hashes.SHA256()).hex().upper()


def normalize_fingerprint(text: str) -> str:
    """`SHA256:AB:CD…`, lower case or bare hex → `SHA256:ABCD…`; anything else is an error naming the value."""
    value = text.strip()
    if value.lower().startswith("sha256:"):
        value = value[7:]
    value = value.replace(":", "").upper()
    if len(value) != 64 or any(c not in "0123456789ABCDEF" for c in value):
        raise LinkError(f"--ca-fingerprint {text!r}: expected SHA256: followed by 64 hex digits")
    return "SHA256:" + value


@dataclass
class LinkSettings:
    """What the service told the terminal at enrollment."""

    dealer_url: str
    link_url: str
    dealer: str
    number: str
    ca_fingerprint: str
    heartbeat_interval: int = 60
    renew_before_days: int = 30
    config_interval: int = 300  # seconds between pulls of the pushed configuration (a "sync now" pulls at once)


LINK_FOLDER = "dealer-link"  # where `kiosk enroll` keeps the identity by default: next to the journal


class TerminalIdentity:
    """Files in the identity folder: identity.pem (key + certificate, 0600), ca.pem, link.json."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.identity = folder / "identity.pem"
        self.ca = folder / "ca.pem"
        self.settings_file = folder / "link.json"

    def enrolled(self) -> bool:
        """Whether this terminal holds a certificate."""
        return self.identity.exists() and self.ca.exists() and self.settings_file.exists()

    def settings(self) -> LinkSettings:
        """The link settings (a clear error when the terminal is not enrolled)."""
        if not self.enrolled():
            raise LinkError(f"{self.folder}: not enrolled; run `kiosk enroll --dealer URL --code CODE "
                            f"--ca-fingerprint SHA256:…`")
        try:
            return LinkSettings(**json.loads(self.settings_file.read_text()))
        except (ValueError, TypeError) as exc:
            raise LinkError(f"{self.settings_file}: not valid link settings: {exc}") from exc

    def save(self, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate, ca_pem: bytes | None = None,
             settings: LinkSettings | None = None) -> None:
        """Store key and certificate together (and, at enrollment, the pinned CA and link settings)."""
        if ca_pem is not None:
            write_private(self.ca, ca_pem, 0o644)
        if settings is not None:
            write_private(self.settings_file, json.dumps(asdict(settings), indent=2).encode(), 0o644)
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        write_private(self.identity, key_pem + cert.public_bytes(serialization.Encoding.PEM), 0o600)

    def load(self) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        """The private key and the certificate."""
        data = self.identity.read_bytes()
        key = serialization.load_pem_private_key(data, None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise LinkError(f"{self.identity}: expected an EC private key")
        return key, x509.load_pem_x509_certificate(data)

    def tls_context(self, client: bool = True) -> ssl.SSLContext:
        """TLS that trusts only the pinned CA and (for the link) presents the terminal's certificate."""
        context = ssl.create_default_context(cafile=str(self.ca))
        if client:
            context.load_cert_chain(str(self.identity))
        return context
