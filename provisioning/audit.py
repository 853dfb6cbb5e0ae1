"""The audit log: every change (who, when, what, before → after) and every refusal with its reason."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from provisioning.db.models import AuditEntry


def _text(value: Any) -> str:
    if value is None or value == "":
        return ""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def record(session: Session, *, actor: str, action: str, dealer_id: int | None = None, target: str = "",
           before: Any = None, after: Any = None, outcome: str = "ok", reason: str = "", remote: str = "") -> None:
    """Add one audit entry to the current unit of work (it commits with the change it describes)."""
    session.add(AuditEntry(dealer_id=dealer_id, actor=actor[:200], action=action, target=target[:200],
                           before=_text(before), after=_text(after), outcome=outcome, reason=reason[:300],
                           remote=remote[:100]))
