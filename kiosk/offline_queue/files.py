"""Small files written atomically: a power cut leaves either the old content or the new, never half."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomically(path: str | Path, data: bytes) -> None:
    """Write to a temporary file, fsync it, rename it over the target, then fsync the directory."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_int_file(path: str | Path) -> int:
    """An integer kept in a file; 0 if the file does not exist or is empty."""
    try:
        text = Path(path).read_text().strip()
    except FileNotFoundError:
        return 0
    return int(text) if text else 0
