"""Theme packs for a dealer: upload (checked by kiosk.screens.theme_pack, previewed by kiosk.screens.theme_preview
in a child process), list, assign to a terminal, and what a terminal asks for. Every change is audited."""

from __future__ import annotations

import base64
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.screens.theme_pack import PACK_ID, ThemePack, ThemePackError, check_pack
from provisioning import audit
from provisioning.db.models import Terminal
from provisioning.themes.models import TerminalTheme, ThemePackRow, ThemePreview

PREVIEW_TIMEOUT_S = 180.0


def render_previews(data: bytes) -> dict[str, bytes]:
    """The pack's preview pictures {"attract-ru": PNG …}, drawn by the terminal's screens in a child process (its
    pygame display and fonts never load into the web server); ThemePackError when the child refuses the pack."""
    with tempfile.TemporaryDirectory(prefix="kiosk-theme-preview-") as temp:
        pack, out = Path(temp) / "pack.zip", Path(temp) / "out"
        pack.write_bytes(data)
        done = subprocess.run([sys.executable, "-m", "kiosk.screens.theme_preview", str(pack), str(out)],
                              capture_output=True, text=True, timeout=PREVIEW_TIMEOUT_S,
                              env={"SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "PATH": "/usr/bin:/bin"})
        if done.returncode != 0:
            raise ThemePackError(done.stderr.strip().removeprefix("refused: ")[-500:] or "the preview failed")
        return {path.stem: path.read_bytes() for path in sorted(out.glob("*.png"))}


@dataclass(frozen=True)
class Prepared:
    """A checked pack, its slug and its preview pictures: ready to keep (made outside any transaction)."""

    slug: str
    data: bytes
    pack: ThemePack
    previews: dict[str, bytes]


def check(slug: str, data: bytes) -> ThemePack:
    """The pack checked by the terminal's own rules, and its theme id (ThemePackError says what is wrong)."""
    if not PACK_ID.fullmatch(slug):
        raise ThemePackError(f"{slug!r} is not a theme id (lower-case letters, digits, '-' and '_')")
    return check_pack(data)


def prepare(slug: str, data: bytes, pack: ThemePack) -> Prepared:
    """A checked pack with its preview drawn (seconds of work: no database transaction is open meanwhile)."""
    return Prepared(slug, data, pack, render_previews(data))


def existing(session: Session, dealer_id: int, sha256: str) -> ThemePackRow | None:
    """The dealer's pack with this SHA-256, if it was uploaded before."""
    return session.scalar(select(ThemePackRow).where(ThemePackRow.dealer_id == dealer_id,
                                                     ThemePackRow.sha256 == sha256))


def refused(session: Session, dealer_id: int, slug: str, error: ThemePackError, actor: str, remote: str = "") -> None:
    """Audit a refused upload with its reason."""
    audit.record(session, actor=actor, action="theme.upload", dealer_id=dealer_id, target=slug[:40],
                 outcome="refused", reason=str(error), remote=remote)


def store(session: Session, dealer_id: int, prepared: Prepared, actor: str, remote: str = "") -> ThemePackRow:
    """Keep a prepared pack and its preview (the same zip uploaded again is the pack already kept); audited."""
    pack = prepared.pack
    kept = existing(session, dealer_id, pack.sha256)
    if kept is not None:
        return kept
    row = ThemePackRow(dealer_id=dealer_id, slug=prepared.slug, sha256=pack.sha256, size=len(prepared.data),
                       data=prepared.data, name_ru=pack.name.get("ru", ""), name_en=pack.name.get("en", ""),
                       uploaded_by=actor)
    session.add(row)
    session.flush()
    session.add_all(ThemePreview(pack_id=row.id, shot=shot, png=png) for shot, png in prepared.previews.items())
    audit.record(session, actor=actor, action="theme.upload", dealer_id=dealer_id,
                 target=f"{prepared.slug} {pack.sha256[:12]}",
                 after={"slug": prepared.slug, "sha256": pack.sha256, "size": len(prepared.data)}, remote=remote)
    return row


def packs(session: Session, dealer_id: int) -> list[ThemePackRow]:
    """The dealer's packs, newest first."""
    return list(session.scalars(select(ThemePackRow).where(ThemePackRow.dealer_id == dealer_id)
                                .order_by(ThemePackRow.created_at.desc(), ThemePackRow.id.desc())))


def pack(session: Session, dealer_id: int, pack_id: int) -> ThemePackRow | None:
    """One of the dealer's packs (None for another dealer's: a foreign id is as good as absent)."""
    row = session.get(ThemePackRow, pack_id)
    return row if row is not None and row.dealer_id == dealer_id else None


def preview(session: Session, dealer_id: int, pack_id: int, shot: str) -> bytes | None:
    """A preview picture of one of the dealer's packs."""
    if pack(session, dealer_id, pack_id) is None:
        return None
    row = session.get(ThemePreview, (pack_id, shot))
    return None if row is None else row.png


def shots(session: Session, pack_id: int) -> list[str]:
    """The names of a pack's preview pictures."""
    return list(session.scalars(select(ThemePreview.shot).where(ThemePreview.pack_id == pack_id)
                                .order_by(ThemePreview.shot)))


def assignments(session: Session, dealer_id: int) -> dict[int, TerminalTheme]:
    """terminal id → its theme assignment, for the dealer's terminals."""
    rows = session.scalars(select(TerminalTheme).where(TerminalTheme.dealer_id == dealer_id))
    return {row.terminal_id: row for row in rows}


def assign(session: Session, dealer_id: int, terminal_id: int, pack_id: int, actor: str, remote: str = "") -> bool:
    """Give a terminal a pack (both the dealer's; False when either is not); audited with what it had before."""
    terminal = session.get(Terminal, terminal_id)
    chosen = pack(session, dealer_id, pack_id)
    if terminal is None or terminal.dealer_id != dealer_id or chosen is None:
        return False
    row = session.get(TerminalTheme, terminal_id)
    before = None if row is None else row.pack_id
    if row is None:
        row = TerminalTheme(terminal_id=terminal_id, dealer_id=dealer_id, pack_id=pack_id, assigned_by=actor)
        session.add(row)
    row.pack_id, row.assigned_by, row.applied_sha256, row.applied_at = pack_id, actor, "", None
    audit.record(session, actor=actor, action="theme.assign", dealer_id=dealer_id, target=f"terminal {terminal.number}",
                 before=before, after={"pack": pack_id, "slug": chosen.slug, "sha256": chosen.sha256[:12]},
                 remote=remote)
    return True


def for_terminal(session: Session, terminal_id: int, have: str, now: datetime) -> dict[str, Any]:
    """What a terminal that has the pack `have` (its SHA-256, or "") is to show: nothing, the same, or a new pack
    (base64). Having the assigned pack is recorded as applied."""
    row = session.get(TerminalTheme, terminal_id)
    if row is None:
        return {"assigned": False}
    chosen = session.get(ThemePackRow, row.pack_id)
    if chosen is None:
        return {"assigned": False}
    reply: dict[str, Any] = {"assigned": True, "id": chosen.slug, "sha256": chosen.sha256, "pack": ""}
    if have == chosen.sha256:
        if row.applied_sha256 != have:
            row.applied_sha256, row.applied_at = have, now
    else:
        reply["pack"] = base64.b64encode(chosen.data).decode()
    return reply
