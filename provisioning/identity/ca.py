"""The service's certificate authority: created once, key encrypted at rest, issues terminal and server certificates."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kiosk.dealer_link.identity import fingerprint
from kiosk.dealer_link.identity import write_private as write_atomic

CA_DAYS, SERVER_DAYS, CLIENT_DAYS = 3650, 825, 365
TERMINAL_URN = "urn:kiosk:terminal:"


class IdentityError(Exception):
    """A certificate, CSR or key that cannot be used, with the reason."""


def key_id(cert: x509.Certificate) -> str:
    """The key id a terminal signs with: the SHA-256 of its certificate, lower-case hex."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def terminal_urn(dealer: str, number: str) -> str:
    """The SAN URI naming a terminal: urn:kiosk:terminal:<dealer>/<number>."""
    return f"{TERMINAL_URN}{dealer}/{number}"


def terminal_of(cert: x509.Certificate) -> str | None:
    """The `<dealer>/<number>` a certificate names in its SAN, or None."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    for uri in san.get_values_for_type(x509.UniformResourceIdentifier):
        if uri.startswith(TERMINAL_URN):
            return uri[len(TERMINAL_URN):]
    return None


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kiosk dealer service"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class CertificateAuthority:
    """The CA's certificate and private key, loaded into memory."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def fingerprint(self) -> str:
        """The CA certificate's fingerprint, shown with every enrollment code."""
        return fingerprint(self.cert)

    @property
    def pem(self) -> bytes:
        """The CA certificate in PEM."""
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issued(self, cert: x509.Certificate) -> bool:
        """Whether this CA signed the certificate."""
        try:
            cert.verify_directly_issued_by(self.cert)
        except (ValueError, TypeError, InvalidSignature):
            return False
        return True

    def issue_terminal(self, csr_pem: bytes, dealer: str, number: str, days: int = CLIENT_DAYS,
                       now: dt.datetime | None = None) -> x509.Certificate:
        """A client certificate for a terminal's CSR (the key stays on the terminal; only its public half is here)."""
        try:
            csr = x509.load_pem_x509_csr(csr_pem)
        except ValueError as exc:
            raise IdentityError(f"CSR is not a PEM certificate request: {exc}") from exc
        if not csr.is_signature_valid:
            raise IdentityError("CSR signature does not verify: the request was not made with its own key")
        public = csr.public_key()
        if not isinstance(public, ec.EllipticCurvePublicKey) or public.curve.name != "secp256r1":
            raise IdentityError("CSR key must be ECDSA P-256")
        start = (now or _now()) - dt.timedelta(minutes=5)  # terminal clocks drift
        builder = (x509.CertificateBuilder()
                   .subject_name(_name(f"{dealer}/{number}"))
                   .issuer_name(self.cert.subject)
                   .public_key(public)
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(start)
                   .not_valid_after(start + dt.timedelta(days=days))
                   .add_extension(x509.SubjectAlternativeName(
                       [x509.UniformResourceIdentifier(terminal_urn(dealer, number))]), critical=False)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                                  critical=True))
        return builder.sign(self.key, hashes.SHA256())

    def issue_server(self, hosts: list[str], days: int = SERVER_DAYS) -> tuple[x509.Certificate, bytes]:
        """A server certificate for the listed names/addresses; returns it and its unencrypted key PEM."""
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        start = _now() - dt.timedelta(minutes=5)
        cert = (x509.CertificateBuilder().subject_name(_name(hosts[0])).issuer_name(self.cert.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(start).not_valid_after(start + dt.timedelta(days=days))
                .add_extension(x509.SubjectAlternativeName(names), critical=False)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .sign(self.key, hashes.SHA256()))
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        return cert, key_pem

    def crl(self, revoked: list[tuple[int, dt.datetime]], next_update: dt.timedelta = dt.timedelta(days=1)) -> bytes:
        """The certificate revocation list (PEM) for (serial, revoked at) pairs."""
        now = _now()
        builder = x509.CertificateRevocationListBuilder().issuer_name(self.cert.subject)
        builder = builder.last_update(now).next_update(now + next_update)
        for serial, when in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build())
        return builder.sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def create_ca(name: str = "kiosk dealer CA") -> CertificateAuthority:
    """A new CA: P-256 key, self-signed certificate valid ten years."""
    key = ec.generate_private_key(ec.SECP256R1())
    start = _now() - dt.timedelta(minutes=5)
    cert = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
            .sign(key, hashes.SHA256()))
    return CertificateAuthority(cert, key)


class CAFiles:
    """Where a CA lives on disk: certificate, encrypted key, passphrase, server certificate and key."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.cert = folder / "ca.pem"
        self.key = folder / "ca-key.pem"
        self.passphrase = folder / "ca-passphrase"
        self.server_cert = folder / "server.pem"
        self.server_key = folder / "server-key.pem"

    def exists(self) -> bool:
        """Whether a CA was created here already."""
        return self.cert.exists() and self.key.exists()

    def save(self, ca: CertificateAuthority, passphrase: bytes | None = None) -> None:
        """Write the CA: certificate 0644, key encrypted with a passphrase (generated if not given), both 0600."""
        if passphrase is None:
            passphrase = secrets.token_urlsafe(32).encode()
            write_atomic(self.passphrase, passphrase, 0o600)
        encrypted = ca.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.BestAvailableEncryption(passphrase))
        write_atomic(self.key, encrypted, 0o600)
        write_atomic(self.cert, ca.pem, 0o644)

    def load(self, passphrase: bytes | None = None) -> CertificateAuthority:
        """Read the CA back (passphrase from the argument, else from its 0600 file)."""
        if not self.exists():
            raise IdentityError(f"no CA in {self.folder}: run `kiosk-dealer init` first")
        if passphrase is None:
            if not self.passphrase.exists():
                raise IdentityError(f"{self.key} is encrypted: set KIOSK_DEALER_CA_PASSPHRASE")
            passphrase = self.passphrase.read_bytes().strip()
        cert = x509.load_pem_x509_certificate(self.cert.read_bytes())
        try:
            key = serialization.load_pem_private_key(self.key.read_bytes(), passphrase)
        except (ValueError, TypeError) as exc:
            raise IdentityError(f"{self.key}: cannot decrypt the CA key (wrong passphrase?)") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise IdentityError(f"{self.key}: expected an EC private key")
        return CertificateAuthority(cert, key)

    def save_server(self, cert: x509.Certificate, key_pem: bytes) -> None:
        """Write the server certificate (with the CA after it) and its key (0600)."""
        chain = cert.public_bytes(serialization.Encoding.PEM) + self.cert.read_bytes()
        write_atomic(self.server_key, key_pem, 0o600)
        write_atomic(self.server_cert, chain, 0o644)
