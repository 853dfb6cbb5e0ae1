"""The emulated fiscal drive (ФН): its durable state, the documents it signed, and their fiscal signs.

The state file is the authority on what the emulated registrar registered. It is rewritten atomically after
every fiscal document, before the answer goes out, so a kill at any moment leaves the state either before or
after the document, never half of it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from kiosk.fiscal.port import qr_text
from kiosk.offline_queue.files import write_atomically

DEFAULT_FN = "9999078902004321"
SHIFT_HOURS = 24
VALIDITY_DAYS = 456  # a new emulated drive is valid about 15 months (the FN-1.1M's term for most users)
# FN document types as FF0A reports them
DOC_SHIFT_OPEN = 2
DOC_RECEIPT = 3
DOC_SHIFT_CLOSE = 5
KINDS = {DOC_SHIFT_OPEN: "shift_open", DOC_RECEIPT: "receipt", DOC_SHIFT_CLOSE: "z_report"}


@dataclass
class DriveState:
    """Everything the emulated registrar keeps across restarts."""

    fn_number: str = DEFAULT_FN
    last_fd: int = 0
    shift_open: bool = False
    shift_number: int = 0
    shift_opened_at: str | None = None
    receipts_in_shift: int = 0
    paper: bool = True
    full_code: int = 0  # a fiscal drive error every new document gets (0: the drive is fine)
    clock_offset: float = 0.0  # seconds the registrar's clock runs ahead of the host's
    valid_until: str = ""  # the drive's validity date (FF03), ISO; set when the state is made
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self, encoded: dict[str, str] | None = None) -> bytes:
        """The state file's bytes; `encoded` caches each document's JSON (a signed document never changes)."""
        cache = {} if encoded is None else encoded
        head = {item.name: getattr(self, item.name) for item in fields(self) if item.name != "documents"}
        for number, document in self.documents.items():
            if number not in cache:
                cache[number] = json.dumps(document, ensure_ascii=False, sort_keys=True)
        archive = ",\n ".join(f'"{number}": {cache[number]}' for number in sorted(self.documents, key=int))
        text = json.dumps(head, ensure_ascii=False, indent=1, sort_keys=True)
        return f'{text[:-2]},\n "documents": {{\n {archive}\n }}\n}}'.encode()

    @classmethod
    def from_json(cls, raw: bytes, where: str) -> DriveState:
        """Read a state file; ValueError naming the file if it is not one."""
        try:
            doc = json.loads(raw.decode("utf-8"))
            state = cls(**doc)
            state.last_fd = int(state.last_fd)
        except (ValueError, TypeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{where}: unreadable fiscal drive state ({exc})") from exc
        return state


def sign(fn_number: str, document: dict[str, Any]) -> int:
    """A deterministic 32-bit fiscal sign: HMAC-SHA256 keyed by the FN number over the document's fields."""
    body = json.dumps({k: v for k, v in document.items() if k != "fp"}, sort_keys=True, ensure_ascii=False)
    digest = hmac.new(fn_number.encode("ascii"), body.encode("utf-8"), hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "big")


class FiscalDrive:
    """Fiscal drive state with its archive, persisted to an optional JSON file."""

    def __init__(self, path: str | os.PathLike | None = None, tz: ZoneInfo | None = None,
                 fn_number: str = DEFAULT_FN) -> None:
        self.path = Path(path) if path else None
        self.tz = tz or ZoneInfo("Europe/Moscow")
        self.state = DriveState(fn_number=fn_number)
        self._encoded: dict[str, str] = {}
        self.reload()

    def reload(self) -> None:
        """Forget memory and read the file again (a power-up)."""
        self._encoded = {}
        if self.path and self.path.exists():
            self.state = DriveState.from_json(self.path.read_bytes(), str(self.path))
        if not self.state.valid_until:  # a new drive (or a state file from before FF03): its term starts now
            self.state.valid_until = (self.now().date() + timedelta(days=VALIDITY_DAYS)).isoformat()

    def save(self) -> None:
        """Write the state atomically (nothing to do without a file)."""
        if self.path:
            write_atomically(self.path, self.state.to_json(self._encoded))

    def now(self) -> datetime:
        """The registrar's clock: the host's time in its zone plus the clock offset, to the second."""
        return (datetime.now(self.tz) + timedelta(seconds=self.state.clock_offset)).replace(microsecond=0)

    @property
    def valid_until(self) -> date:
        """The last day the drive may sign documents (FF03)."""
        return date.fromisoformat(self.state.valid_until)

    def days_left(self) -> int:
        """Days from the registrar's today to the validity date (negative: expired)."""
        return (self.valid_until - self.now().date()).days

    @property
    def shift_expired(self) -> bool:
        """The shift has been open longer than 24 hours."""
        opened = self.state.shift_opened_at
        if not self.state.shift_open or opened is None:
            return False
        return self.now() - datetime.fromisoformat(opened) > timedelta(hours=SHIFT_HOURS)

    def document(self, number: int) -> dict[str, Any] | None:
        """A document from the archive."""
        return self.state.documents.get(str(number))

    def register(self, doc_type: int, **fields: Any) -> dict[str, Any]:
        """Number, date and sign a new document and apply what it means to the shift; not yet saved."""
        state = self.state
        at = self.now().replace(second=0)  # the FN keeps minutes
        document: dict[str, Any] = {"fd": state.last_fd + 1, "type": doc_type, "kind": KINDS[doc_type],
                                    "at": at.isoformat(), "shift": state.shift_number, **fields}
        if doc_type == DOC_SHIFT_OPEN:
            state.shift_number += 1
            document["shift"] = state.shift_number
        document["fp"] = sign(state.fn_number, document)
        if doc_type == DOC_RECEIPT:
            document["qr"] = qr_text(at, int(fields["total"]), state.fn_number, document["fd"], document["fp"],
                                     int(fields.get("kind_1054", 1)))
        state.documents[str(document["fd"])] = document
        state.last_fd = document["fd"]
        if doc_type == DOC_SHIFT_OPEN:
            state.shift_open, state.shift_opened_at, state.receipts_in_shift = True, self.now().isoformat(), 0
        elif doc_type == DOC_SHIFT_CLOSE:
            state.shift_open, state.shift_opened_at = False, None
        else:
            state.receipts_in_shift += 1
        return document

    def verify(self) -> list[str]:
        """Inconsistencies in the state (tests after a kill): empty when the archive is whole."""
        problems = []
        numbers = sorted(int(n) for n in self.state.documents)
        if numbers != list(range(1, self.state.last_fd + 1)):
            problems.append(f"documents {numbers[:3]}…{numbers[-3:]} do not run 1..{self.state.last_fd}")
        for number in numbers:
            document = self.state.documents[str(number)]
            if document.get("fp") != sign(self.state.fn_number, {k: v for k, v in document.items() if k != "qr"}):
                problems.append(f"document {number}: fiscal sign does not match its fields")
        return problems
