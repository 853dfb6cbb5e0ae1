"""A problem in one line of an uploaded file, as both uploads report it (charge registries, processing registries)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RowError:
    """What is wrong, where: the file's line (1 is the header) and the column's name ('' for the whole line)."""

    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}" if self.column else \
            f"line {self.line}: {self.message}"

    def as_json(self) -> dict[str, Any]:
        """For storing with a refused upload."""
        return {"line": self.line, "column": self.column, "message": self.message}
