"""Tables of pushed configuration: documents and their immutable versions, assignments to terminals or groups,
gateway secrets (encrypted), each dealer's bundle-signing key, and what terminals reported applying."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from provisioning.db.models import Base, UtcDateTime, utcnow


class ConfigDocument(Base):
    """A named configuration a dealer edits (its content lives in versions)."""

    __tablename__ = "config_documents"
    __table_args__ = (UniqueConstraint("dealer_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ConfigVersion(Base):
    """One immutable version of a document: its TOML text, who saved it and when."""

    __tablename__ = "config_versions"
    __table_args__ = (UniqueConstraint("document_id", "number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id", ondelete="CASCADE"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("config_documents.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    comment: Mapped[str] = mapped_column(String(300), default="")
    author: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ConfigAssignment(Base):
    """Which version a terminal or a group runs; a terminal's own assignment overrides its group's."""

    __tablename__ = "config_assignments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id", ondelete="CASCADE"), index=True)
    terminal_id: Mapped[int | None] = mapped_column(ForeignKey("terminals.id", ondelete="CASCADE"), unique=True,
                                                    nullable=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("terminal_groups.id", ondelete="CASCADE"), unique=True,
                                                 nullable=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("config_versions.id"))
    assigned_by: Mapped[str] = mapped_column(String(200))
    assigned_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class GatewaySecret(Base):
    """One secret option of one gateway of one terminal, encrypted at rest; never shown again once set."""

    __tablename__ = "gateway_secrets"
    __table_args__ = (UniqueConstraint("terminal_id", "gateway", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id", ondelete="CASCADE"), index=True)
    terminal_id: Mapped[int] = mapped_column(ForeignKey("terminals.id", ondelete="CASCADE"), index=True)
    gateway: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(60))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    set_by: Mapped[str] = mapped_column(String(200))
    set_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class DealerSigningKey(Base):
    """A dealer's Ed25519 bundle-signing key (encrypted at rest) and its certificate from the service's CA."""

    __tablename__ = "dealer_signing_keys"
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id", ondelete="CASCADE"), primary_key=True)
    key_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    certificate_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Raised by each rotation and written into the key's certificate: a terminal that has seen generation N
    # refuses bundles signed by any key of a lower one (kiosk.dealer_link.trust).
    generation: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class BundleSequence(Base):
    """A terminal's bundle sequence: raised whenever what its bundle carries changes (a new assignment, even of an
    older version, a secret set or deleted), so the terminal can refuse a replayed older bundle."""

    __tablename__ = "config_bundle_sequences"
    terminal_id: Mapped[int] = mapped_column(ForeignKey("terminals.id", ondelete="CASCADE"), primary_key=True)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    content_sha256: Mapped[str] = mapped_column(String(64), default="")


class ConfigReport(Base):
    """What a terminal said about a bundle: applied, or refused with the reason."""

    __tablename__ = "config_reports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id", ondelete="CASCADE"), index=True)
    terminal_id: Mapped[int] = mapped_column(ForeignKey("terminals.id", ondelete="CASCADE"), index=True)
    version_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    etag: Mapped[str] = mapped_column(String(80), default="")
    outcome: Mapped[str] = mapped_column(String(20))  # applied / refused
    reason: Mapped[str] = mapped_column(String(500), default="")
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
