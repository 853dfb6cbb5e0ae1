"""`kiosk enroll`: make a key pair here (it never leaves the terminal), send a CSR with the one-time code, and
keep the certificate, the CA (pinned by the fingerprint the dealer showed) and the link settings."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kiosk.dealer_link.identity import (
    LinkError,
    LinkSettings,
    TerminalIdentity,
    fingerprint,
    normalize_fingerprint,
)

TIMEOUT = 20.0


def _pinned_ca(dealer_url: str, expected: str) -> tuple[bytes, ssl.SSLContext | bool]:
    """Fetch the CA certificate and accept it only if its fingerprint is the one the dealer showed."""
    # The CA is not trusted yet, so this one request cannot verify TLS; the fingerprint check is what trusts it.
    try:
        reply = httpx.get(f"{dealer_url}/api/v1/ca", verify=False, timeout=TIMEOUT)  # noqa: S501
    except httpx.HTTPError as exc:
        raise LinkError(f"cannot reach the dealer service at {dealer_url}: {exc}") from exc
    if reply.status_code != 200:
        raise LinkError(f"{dealer_url}/api/v1/ca answered {reply.status_code}")
    ca_pem = reply.content
    try:
        ca = x509.load_pem_x509_certificate(ca_pem)
    except ValueError as exc:
        raise LinkError(f"{dealer_url}/api/v1/ca: not a PEM certificate") from exc
    if fingerprint(ca) != expected:
        raise LinkError(f"the service's CA has fingerprint {fingerprint(ca)}, not {expected}: refusing to enroll "
                        f"(wrong address, or someone in between)")
    if dealer_url.startswith("https://"):
        return ca_pem, ssl.create_default_context(cadata=ca_pem.decode())
    return ca_pem, True


def enroll(dealer_url: str, code: str, ca_fingerprint: str, folder: Path) -> LinkSettings:
    """Enroll this terminal; returns the link settings (identity files are written to `folder`)."""
    dealer_url = dealer_url.rstrip("/")
    expected = normalize_fingerprint(ca_fingerprint)
    identity = TerminalIdentity(folder)
    ca_pem, verify = _pinned_ca(dealer_url, expected)
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kiosk terminal")]))
           .sign(key, hashes.SHA256()))
    body = {"code": code, "csr": csr.public_bytes(serialization.Encoding.PEM).decode()}
    try:
        reply = httpx.post(f"{dealer_url}/api/v1/enroll", json=body, verify=verify, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        raise LinkError(f"enrollment request to {dealer_url} failed: {exc}") from exc
    if reply.status_code != 200:
        try:
            detail = reply.json().get("detail", reply.text)
        except ValueError:
            detail = reply.text
        raise LinkError(f"enrollment refused ({reply.status_code}): {detail}")
    data = reply.json()
    cert = x509.load_pem_x509_certificate(data["certificate"].encode())
    ca = x509.load_pem_x509_certificate(ca_pem)
    if fingerprint(x509.load_pem_x509_certificate(data["ca_chain"].encode())) != expected:
        raise LinkError("the enrollment answer names a different CA than the pinned one")
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise LinkError("the certificate received was not issued by the pinned CA") from exc
    if cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) \
            != key.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo):
        raise LinkError("the certificate received is not for this terminal's key")
    terminal, config = data["terminal"], data["config"]
    settings = LinkSettings(dealer_url=dealer_url, link_url=config["link_url"], dealer=terminal["dealer"],
                            number=terminal["number"], ca_fingerprint=expected,
                            heartbeat_interval=int(config["heartbeat_interval"]),
                            renew_before_days=int(config["renew_before_days"]))
    identity.save(key, cert, ca_pem, settings)
    return settings
