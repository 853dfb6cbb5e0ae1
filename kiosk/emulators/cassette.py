"""An emulated drop cassette: what is physically inside, kept durably in a JSON state file.

The state file is the authority on what the emulated device stacked: counts by denomination in kopecks.
It is written atomically (temp file, fsync, rename, fsync of the directory) before the device reports a
bill as stacked, so a crash of anything can never leave a credited bill missing from it.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path


class CassetteFullError(Exception):
    """The cassette cannot take another bill."""


class Cassette:
    """A cassette with a capacity; counts by denomination (kopecks), optionally persisted."""

    def __init__(self, capacity: int = 1000, state_file: str | os.PathLike | None = None) -> None:
        if capacity < 1:
            raise ValueError(f"cassette capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self.state_file = Path(state_file) if state_file else None
        self._lock = threading.Lock()
        self._counts: dict[int, int] = {}
        if self.state_file and self.state_file.exists():
            self._counts = self._load(self.state_file)

    @staticmethod
    def _load(path: Path) -> dict[int, int]:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            return {int(value): int(count) for value, count in doc["counts"].items() if int(count)}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            # Refuse to start from a guess: an unreadable cassette file needs a person to look at it.
            raise ValueError(f"{path}: unreadable cassette state ({exc}); expected {{\"counts\": {{kopecks: n}}}}") from exc

    @property
    def count(self) -> int:
        """Bills inside."""
        with self._lock:
            return sum(self._counts.values())

    @property
    def total(self) -> int:
        """Value inside, kopecks."""
        with self._lock:
            return sum(value * n for value, n in self._counts.items())

    @property
    def full(self) -> bool:
        """True when no more bills fit."""
        return self.count >= self.capacity

    def counts(self) -> dict[int, int]:
        """A copy of the counts by denomination (kopecks → bills)."""
        with self._lock:
            return dict(self._counts)

    def add(self, value: int) -> None:
        """Put one bill of value kopecks in, durably; raises CassetteFullError when full."""
        with self._lock:
            if sum(self._counts.values()) >= self.capacity:
                raise CassetteFullError(f"cassette full ({self.capacity} bills)")
            counts = dict(self._counts)
            counts[value] = counts.get(value, 0) + 1
            self._write(counts)
            self._counts = counts

    def empty(self) -> dict[int, int]:
        """Take everything out (encashment); returns what was inside."""
        with self._lock:
            taken = dict(self._counts)
            self._write({})
            self._counts = {}
            return taken

    def _write(self, counts: dict[int, int]) -> None:
        if not self.state_file:
            return
        doc = {
            "counts": {str(value): n for value, n in sorted(counts.items())},
            "bills": sum(counts.values()),
            "total": sum(value * n for value, n in counts.items()),
            "capacity": self.capacity,
        }
        directory = self.state_file.parent
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=self.state_file.name + ".", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(doc, handle, indent=1)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.state_file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        # The rename is only durable once the directory entry is.
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
