"""Tables of the themes area: uploaded packs, their preview pictures, and which pack each terminal is to show."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, deferred, mapped_column

from provisioning.db.models import Base, UtcDateTime, utcnow


class ThemePackRow(Base):
    """A dealer's checked theme pack: the zip as uploaded (immutable; a change is a new upload)."""

    __tablename__ = "theme_packs"
    __table_args__ = (UniqueConstraint("dealer_id", "sha256"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id", ondelete="CASCADE"), index=True)
    slug: Mapped[str] = mapped_column(String(40))  # the theme id on the terminal (kiosk.screens.theme_pack.PACK_ID)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    name_ru: Mapped[str] = mapped_column(String(200), default="")
    name_en: Mapped[str] = mapped_column(String(200), default="")
    data: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    uploaded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ThemePreview(Base):
    """One preview picture of a pack (attract-ru, cash-en …), drawn by the terminal's own screens."""

    __tablename__ = "theme_previews"
    pack_id: Mapped[int] = mapped_column(ForeignKey("theme_packs.id", ondelete="CASCADE"), primary_key=True)
    shot: Mapped[str] = mapped_column(String(40), primary_key=True)
    png: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))


class TerminalTheme(Base):
    """The pack a terminal is to show, and what it last said it shows."""

    __tablename__ = "terminal_themes"
    terminal_id: Mapped[int] = mapped_column(ForeignKey("terminals.id", ondelete="CASCADE"), primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id", ondelete="CASCADE"), index=True)
    pack_id: Mapped[int] = mapped_column(ForeignKey("theme_packs.id", ondelete="CASCADE"))
    assigned_by: Mapped[str] = mapped_column(String(200))
    assigned_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    applied_sha256: Mapped[str] = mapped_column(String(64), default="")  # the pack the terminal reported it has
    applied_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
