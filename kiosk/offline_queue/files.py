"""Small files written atomically: a power cut leaves either the old content or the new, never half."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from kiosk.errors import JournalError


def write_atomically(path: str | Path, data: bytes) -> None:
    """Write to a temporary file, fsync it, rename it over the target, then fsync the directory."""
    path = Path(path)
    # the thread too: two threads of one process writing the same file must not share (and rename away) one
    # temporary file (a theme sync in the background and one asked for met so)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(folder: str | Path) -> None:
    """Make a rename or a new entry in folder durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_int_file(path: str | Path) -> int:
    """An integer kept in a file; 0 if the file does not exist or is empty; an error naming the file if garbage."""
    return HighWater.read(path).issued


@dataclass(frozen=True, slots=True)
class HighWater:
    """The operation-number high-water mark kept beside the journal (outside the database, so a restored older
    journal file cannot make a number be handed out twice).

    issued: the highest number ever handed out (written before the operation is inserted);
    confirmed: the highest number known to have reached the journal. A journal that ends below `confirmed` was
    restored from an older copy; one that ends below `issued` only lost an opening interrupted by a crash or a
    full disk.
    """

    issued: int = 0
    confirmed: int = 0

    @classmethod
    def read(cls, path: str | Path) -> HighWater:
        """Parse 'ISSUED CONFIRMED' (or the older single 'N'); missing or empty is zero; garbage names the file."""
        try:
            text = Path(path).read_text(encoding="ascii", errors="replace").strip()
        except FileNotFoundError:
            return cls()
        except OSError as exc:
            raise JournalError(f"{path}: cannot read the operation-number high-water mark: {exc}") from exc
        if not text:
            return cls()
        parts = text.split()
        if len(parts) > 2 or not all(p.isdigit() and p.isascii() for p in parts):
            raise JournalError(f"{path}: expected the highest operation number issued (digits), found "
                               f"{text[:40]!r}; the file is damaged — restore it or remove it only after "
                               "checking the journal")
        issued = int(parts[0])
        return cls(issued, int(parts[1]) if len(parts) == 2 else issued)

    def write(self, path: str | Path) -> None:
        """Store atomically."""
        write_atomically(path, f"{self.issued} {self.confirmed}\n".encode())


def make_shm_writable(path: Path) -> None:
    """A read-only opening of a 0444 journal leaves a 0444 '-shm' beside it; one we own is made writable again,
    or every later start-up fails on it."""
    shm = path.with_name(path.name + "-shm")
    try:
        if shm.exists() and not os.access(shm, os.W_OK) and shm.stat().st_uid == os.getuid():
            shm.chmod(0o600)
    except OSError:
        pass  # the open that follows reports the real problem with the file's name


def permission_hint(path: Path) -> str:
    """Why a journal cannot be written, in words a technician can act on."""
    for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if candidate.exists() and not os.access(candidate, os.W_OK):
            return f" ({candidate} is not writable by this user: mode {candidate.stat().st_mode & 0o777:o})"
    if not os.access(path.parent, os.W_OK):
        return f" (the folder {path.parent} is not writable: a read-only or full file system?)"
    return ""
