"""The terminal's effective bundle: its assigned document and its own gateway secrets, signed with its dealer's
Ed25519 key, whose certificate the service's CA issues (the terminal checks it against the CA it pinned).

Each bundle carries the terminal's sequence, raised whenever the content changes (kiosk.dealer_link.trust refuses
a lower one); a key rotation raises the key's generation, which its certificate names."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kiosk.config_document import parse_text
from kiosk.dealer_link.bundle import DEALER_URN, FORMAT, GENERATION_URN, canonical, envelope
from provisioning import audit
from provisioning.config.models import (
    BundleSequence,
    ConfigAssignment,
    ConfigDocument,
    ConfigVersion,
    DealerSigningKey,
    GatewaySecret,
)
from provisioning.config.vault import Vault
from provisioning.db.models import Dealer, Terminal
from provisioning.identity.ca import CA_DAYS, CertificateAuthority


@dataclass(frozen=True)
class Bundle:
    """A signed bundle as served: its bytes, its strong ETag and the version it carries."""

    body: bytes
    etag: str
    version_id: int
    label: str


def certify(ca: CertificateAuthority, dealer: str, key: ed25519.Ed25519PublicKey,
            days: int = CA_DAYS, generation: int = 1) -> x509.Certificate:
    """The CA's certificate for a dealer's bundle-signing key: names the dealer and the key's generation, usable
    for code signing only."""
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kiosk dealer service"),
                                     x509.NameAttribute(NameOID.COMMON_NAME, f"{dealer} configuration")]))
            .issuer_name(ca.cert.subject).public_key(key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(f"{DEALER_URN}{dealer}"),
                                                        x509.UniformResourceIdentifier(f"{GENERATION_URN}{generation}")]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca.key, hashes.SHA256()))


def _new_key_material(ca: CertificateAuthority, dealer: Dealer, vault: Vault, generation: int) -> tuple[bytes, str]:
    key = ed25519.Ed25519PrivateKey.generate()
    cert = certify(ca, dealer.slug, key.public_key(), generation=generation)
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    return vault.seal(raw.hex()), cert.public_bytes(serialization.Encoding.PEM).decode()


def _new_signing_key(ca: CertificateAuthority, dealer: Dealer, vault: Vault) -> DealerSigningKey:
    sealed, pem = _new_key_material(ca, dealer, vault, 1)
    return DealerSigningKey(dealer_id=dealer.id, key_ciphertext=sealed, certificate_pem=pem, generation=1)


def rotate_signing_key(session: Session, ca: CertificateAuthority, dealer: Dealer, vault: Vault,
                       actor: str, remote: str = "") -> int:
    """Replace the dealer's signing key with a new one of the next generation (the old key is destroyed: a
    terminal that has seen the new one refuses the old); audited. The new generation."""
    row = session.get(DealerSigningKey, dealer.id, with_for_update=True)
    if row is None:
        signing_key(session, ca, dealer, vault)
        row = session.get(DealerSigningKey, dealer.id)
        assert row is not None
    before = row.generation
    row.key_ciphertext, row.certificate_pem = _new_key_material(ca, dealer, vault, before + 1)
    row.generation, row.created_at = before + 1, dt.datetime.now(dt.UTC)
    audit.record(session, actor=actor, action="config.key_rotate", dealer_id=dealer.id,
                 target="configuration signing key", before={"generation": before},
                 after={"generation": row.generation}, remote=remote)
    return row.generation


def signing_key(session: Session, ca: CertificateAuthority, dealer: Dealer,
                vault: Vault) -> tuple[ed25519.Ed25519PrivateKey, bytes]:
    """The dealer's signing key and certificate, made on first use (once, however many servers ask at once)."""
    row = session.get(DealerSigningKey, dealer.id)
    if row is None:
        try:
            with session.begin_nested():
                row = _new_signing_key(ca, dealer, vault)
                session.add(row)
        except IntegrityError:  # another server made it first: use theirs
            row = session.get(DealerSigningKey, dealer.id, populate_existing=True)
            assert row is not None
    key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(vault.open(row.key_ciphertext)))
    return key, row.certificate_pem.encode()


def assigned_version(session: Session, terminal: Terminal) -> ConfigVersion | None:
    """The version this terminal runs: its own assignment, else its group's, else none."""
    assignment = session.scalar(select(ConfigAssignment).where(ConfigAssignment.terminal_id == terminal.id))
    if assignment is None and terminal.group_id is not None:
        assignment = session.scalar(select(ConfigAssignment).where(ConfigAssignment.group_id == terminal.group_id))
    return None if assignment is None else session.get(ConfigVersion, assignment.version_id)


def secrets_of(session: Session, terminal: Terminal, vault: Vault) -> dict[str, dict[str, str]]:
    """This terminal's gateway secrets in clear (only ever into its own bundle)."""
    found: dict[str, dict[str, str]] = {}
    for row in _secret_rows(session, terminal):
        found.setdefault(row.gateway, {})[row.name] = vault.open(row.ciphertext)
    return found


def _secret_rows(session: Session, terminal: Terminal) -> list[GatewaySecret]:
    return list(session.scalars(select(GatewaySecret).where(GatewaySecret.terminal_id == terminal.id)
                                .order_by(GatewaySecret.id)))


# Bundles this process built, by everything their bytes depend on: a terminal polling an unchanged bundle costs a
# few indexed reads, not a TOML parse, a decryption and a signature (versions are immutable; a secret set again gets
# a new set_at; a dealer's signing key never changes under its row).
_BUILT: OrderedDict[tuple[object, ...], Bundle] = OrderedDict()
_BUILT_MAX = 1024
_BUILT_LOCK = threading.Lock()


def build(session: Session, ca: CertificateAuthority, terminal: Terminal, vault: Vault) -> Bundle | None:
    """The terminal's signed bundle, or None when no configuration is assigned to it."""
    version = assigned_version(session, terminal)
    if version is None:
        return None
    dealer = session.get(Dealer, terminal.dealer_id)
    document = session.get(ConfigDocument, version.document_id)
    assert dealer is not None and document is not None
    signer = session.get(DealerSigningKey, dealer.id)
    rows = _secret_rows(session, terminal)
    secret_state = tuple((row.id, row.gateway, row.name, row.set_at.isoformat()) for row in rows)
    sequence_row = session.get(BundleSequence, terminal.id)
    known = (sequence_row.sequence, sequence_row.content_sha256) if sequence_row else (0, "")
    key_of = (terminal.id, terminal.number, dealer.slug, version.id, document.name, secret_state,
              signer.certificate_pem if signer else None, known)
    with _BUILT_LOCK:
        if key_of in _BUILT and signer is not None:
            _BUILT.move_to_end(key_of)
            return _BUILT[key_of]
    label = f"{document.name} v{version.number}"
    # What the content is made of, secrets by identity only (a digest of the values would let a weak one be guessed).
    content = hashlib.sha256(canonical([terminal.number, dealer.slug, version.id, label, secret_state])).hexdigest()
    sequence = _sequence(session, terminal, sequence_row, content)
    payload = canonical({"format": FORMAT, "dealer": dealer.slug, "terminal": terminal.number,
                         "version": version.id, "label": label, "document": parse_text(version.body),
                         "secrets": secrets_of(session, terminal, vault), "sequence": sequence})
    key, cert_pem = signing_key(session, ca, dealer, vault)
    body = envelope(payload, key.sign(payload), cert_pem)  # Ed25519 is deterministic: same bundle, same bytes
    bundle = Bundle(body, f'"{hashlib.sha256(body).hexdigest()}"', version.id, label)
    if signer is not None:  # a key made just now may lose to another server's: cache only a settled one
        with _BUILT_LOCK:
            _BUILT[(*key_of[:-1], (sequence, content))] = bundle
            while len(_BUILT) > _BUILT_MAX:
                _BUILT.popitem(last=False)
    return bundle


def _sequence(session: Session, terminal: Terminal, row: BundleSequence | None, content: str) -> int:
    """The terminal's bundle sequence for this content: the same while it is unchanged, one higher once it changes
    (servers racing on one change write the same values; a first row they race on is made once)."""
    if row is not None and row.content_sha256 == content:
        return row.sequence
    if row is None:
        try:
            with session.begin_nested():
                session.add(BundleSequence(terminal_id=terminal.id, sequence=1, content_sha256=content))
            return 1
        except IntegrityError:
            row = session.get(BundleSequence, terminal.id, populate_existing=True)
            assert row is not None
            if row.content_sha256 == content:
                return row.sequence
    row.sequence, row.content_sha256 = row.sequence + 1, content
    return row.sequence
