"""Configuration documents: create, save a new immutable version (validated by the terminal's own loaders),
assign to a terminal or a group, set a gateway secret, record what a terminal applied — each change audited."""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

import tomli_w
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.config_document import check, parse_text, starter
from kiosk.errors import ConfigError
from provisioning import audit
from provisioning.config.models import (
    ConfigAssignment,
    ConfigDocument,
    ConfigReport,
    ConfigVersion,
    GatewaySecret,
)
from provisioning.config.vault import Vault
from provisioning.db.models import Terminal, TerminalGroup, utcnow

NAME_MAX, SECRET_MAX = 100, 4000


class StoreError(ValueError):
    """A change that cannot be made, naming the field (a document key for a validation error) and why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field, self.message = field, message


def render(document: dict[str, Any]) -> str:
    """A document as the TOML text that is stored, diffed and shown."""
    return tomli_w.dumps(document)


def validated(text: str) -> dict[str, Any]:
    """The document in `text` once the terminal's own loaders accept it; StoreError names the key otherwise."""
    try:
        document = parse_text(text)
        check(document)
    except ConfigError as exc:
        raise StoreError(exc.key, exc.problem) from None
    return document


def create_document(session: Session, dealer_id: int, name: str, actor: str, text: str | None = None,
                    comment: str = "starter") -> ConfigDocument:
    """A new document whose first version is `text` (validated), else the starter configuration."""
    if text is not None:
        validated(text)  # refused before anything is written
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        raise StoreError("name", f"expected a name of 1 to {NAME_MAX} characters")
    if session.scalar(select(ConfigDocument).where(ConfigDocument.dealer_id == dealer_id,
                                                   ConfigDocument.name == name)) is not None:
        raise StoreError("name", f"a configuration named {name!r} exists already")
    document = ConfigDocument(dealer_id=dealer_id, name=name, created_by=actor, created_at=utcnow())
    session.add(document)
    session.flush()
    audit.record(session, actor=actor, action="config.create", dealer_id=dealer_id, target=f"configuration {name}")
    save_version(session, document, render(starter()) if text is None else text, actor, comment)
    return document


def save_version(session: Session, document: ConfigDocument, text: str, actor: str, comment: str = "") -> ConfigVersion:
    """A new immutable version (refused with the key and reason when the terminal's code would refuse it)."""
    validated(text)
    previous = latest(session, document)
    number = (previous.number if previous else 0) + 1
    version = ConfigVersion(dealer_id=document.dealer_id, document_id=document.id, number=number, body=text,
                            comment=comment.strip()[:300], author=actor, created_at=utcnow())
    session.add(version)
    session.flush()
    changes = field_diff(previous.body, text) if previous else []
    audit.record(session, actor=actor, action="config.version", dealer_id=document.dealer_id,
                 target=f"configuration {document.name} v{number}",
                 before={k: b for k, b, _ in changes[:20]}, after={k: a for k, _, a in changes[:20]})
    return version


def latest(session: Session, document: ConfigDocument) -> ConfigVersion | None:
    """The document's newest version."""
    return session.scalar(select(ConfigVersion).where(ConfigVersion.document_id == document.id)
                          .order_by(ConfigVersion.number.desc()).limit(1))


def _label(session: Session, version_id: int | None) -> str:
    version = session.get(ConfigVersion, version_id) if version_id else None
    if version is None:
        return ""
    document = session.get(ConfigDocument, version.document_id)
    return f"{document.name if document else '?'} v{version.number}"


def assign(session: Session, dealer_id: int, version_id: int, actor: str, *, terminal_id: int | None = None,
           group_id: int | None = None) -> ConfigAssignment:
    """Assign a version to one terminal or to a group (a terminal's own assignment wins over its group's)."""
    version = session.get(ConfigVersion, version_id)
    if version is None or version.dealer_id != dealer_id:
        raise StoreError("version", "no such configuration version")
    if (terminal_id is None) == (group_id is None):
        raise StoreError("target", "choose a terminal or a group")
    if terminal_id is not None:
        terminal = session.get(Terminal, terminal_id)
        if terminal is None or terminal.dealer_id != dealer_id:
            raise StoreError("target", "no such terminal")
        where, target = ConfigAssignment.terminal_id == terminal_id, f"terminal {terminal.number}"
    else:
        group = session.get(TerminalGroup, group_id)
        if group is None or group.dealer_id != dealer_id:
            raise StoreError("target", "no such group")
        where, target = ConfigAssignment.group_id == group_id, f"group {group.name}"
    row = session.scalar(select(ConfigAssignment).where(where))
    before = _label(session, row.version_id) if row else ""
    if row is None:
        row = ConfigAssignment(dealer_id=dealer_id, terminal_id=terminal_id, group_id=group_id, version_id=version_id,
                               assigned_by=actor, assigned_at=utcnow())
        session.add(row)
    else:
        row.version_id, row.assigned_by, row.assigned_at = version_id, actor, utcnow()
    audit.record(session, actor=actor, action="config.assign", dealer_id=dealer_id, target=target,
                 before=before, after=_label(session, version_id))
    return row


def set_secret(session: Session, terminal: Terminal, gateway: str, name: str, value: str, actor: str,
               vault: Vault) -> None:
    """Store one gateway secret of one terminal, encrypted; the audit says that it was set, never what to."""
    gateway, name = gateway.strip(), name.strip()
    for field, text in (("gateway", gateway), ("name", name)):
        if not text or len(text) > 60 or not all(c.isalnum() or c in "_-" for c in text):
            raise StoreError(field, "expected letters, digits, '_' or '-', up to 60")
    if not value or len(value) > SECRET_MAX:
        raise StoreError("value", f"expected a secret of 1 to {SECRET_MAX} characters")
    row = session.scalar(select(GatewaySecret).where(GatewaySecret.terminal_id == terminal.id,
                                                     GatewaySecret.gateway == gateway, GatewaySecret.name == name))
    if row is None:
        row = GatewaySecret(dealer_id=terminal.dealer_id, terminal_id=terminal.id, gateway=gateway, name=name,
                            ciphertext=b"", set_by=actor)
        session.add(row)
    row.ciphertext, row.set_by, row.set_at = vault.seal(value), actor, utcnow()
    audit.record(session, actor=actor, action="config.secret", dealer_id=terminal.dealer_id,
                 target=f"terminal {terminal.number}", after={"gateway": gateway, "name": name, "set": True})


def delete_secret(session: Session, terminal: Terminal, gateway: str, name: str, actor: str, remote: str = "") -> None:
    """Delete one gateway secret of one terminal (its next bundle goes without it, and the terminal keeps no copy);
    audited by name only."""
    row = session.scalar(select(GatewaySecret).where(GatewaySecret.terminal_id == terminal.id,
                                                     GatewaySecret.gateway == gateway, GatewaySecret.name == name))
    if row is None:
        raise StoreError("secret", f"terminal {terminal.number} has no secret {gateway}.{name}")
    session.delete(row)
    session.flush()
    audit.record(session, actor=actor, action="config.secret_delete", dealer_id=terminal.dealer_id,
                 target=f"terminal {terminal.number}", before={"gateway": gateway, "name": name, "set": True},
                 after={"gateway": gateway, "name": name, "set": False}, remote=remote)


def secrets_set(session: Session, terminal: Terminal) -> list[GatewaySecret]:
    """Which secrets are set on a terminal (for "set on <date> by <user>"; the value is never read here)."""
    return list(session.scalars(select(GatewaySecret).where(GatewaySecret.terminal_id == terminal.id)
                                .order_by(GatewaySecret.gateway, GatewaySecret.name)))


def record_report(session: Session, terminal: Terminal, version_id: int | None, etag: str, outcome: str,
                  reason: str) -> ConfigReport:
    """What the terminal said about a bundle (audited in its name)."""
    if outcome not in ("applied", "refused"):
        raise StoreError("outcome", "expected applied or refused")
    row = ConfigReport(dealer_id=terminal.dealer_id, terminal_id=terminal.id, version_id=version_id,
                       etag=etag[:80], outcome=outcome, reason=reason[:500], at=utcnow())
    session.add(row)
    audit.record(session, actor=f"terminal {terminal.number}", action=f"config.{outcome}",
                 dealer_id=terminal.dealer_id, target=_label(session, version_id) or f"version {version_id}",
                 outcome="ok" if outcome == "applied" else "refused", reason=reason)
    return row


def last_report(session: Session, terminal: Terminal, outcome: str | None = None) -> ConfigReport | None:
    """The terminal's newest report (of one outcome when given)."""
    query = select(ConfigReport).where(ConfigReport.terminal_id == terminal.id)
    if outcome:
        query = query.where(ConfigReport.outcome == outcome)
    return session.scalar(query.order_by(ConfigReport.id.desc()).limit(1))


def _flatten(value: Any, prefix: str, out: dict[str, str]) -> None:
    if isinstance(value, dict):
        for key in value:
            _flatten(value[key], f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for index, item in enumerate(value):
            _flatten(item, f"{prefix}[{index}]", out)
    else:
        out[prefix] = json.dumps(value, ensure_ascii=False, default=str)


# The SHA-256 of a short PIN gives the PIN away to anyone who tries every one: diffs and the audit show that it
# changed, never the hash (people who may only read configuration must not learn the service PIN).
HIDDEN = re.compile(r"^(\s*pin_sha256\s*=\s*).*$", re.M)
HIDDEN_TEXT = "(hidden)"


def hide(text: str) -> str:
    """A document's text with the values people must not read replaced."""
    return HIDDEN.sub(lambda m: f'{m.group(1)}"{HIDDEN_TEXT}"', text)


def field_diff(before: str, after: str) -> list[tuple[str, str, str]]:
    """Every key whose value differs between two versions' texts: (key, before, after); '' for absent."""
    old: dict[str, str] = {}
    new: dict[str, str] = {}
    _flatten(parse_text(before), "", old)
    _flatten(parse_text(after), "", new)
    keys = sorted(set(old) | set(new))
    return [(k, *((HIDDEN_TEXT if old.get(k) else "", f"{HIDDEN_TEXT}, changed") if k.endswith("pin_sha256")
                  else (old.get(k, ""), new.get(k, ""))))
            for k in keys if old.get(k) != new.get(k)]


def unified_diff(before: str, after: str, names: tuple[str, str]) -> str:
    """The two texts as a unified diff (hidden values hidden; a changed one still shows as a changed line)."""
    changed = {line for line in set(before.splitlines()) ^ set(after.splitlines()) if HIDDEN.match(line)}

    def shown(text: str, tag: str) -> list[str]:
        return [hide(line).replace(HIDDEN_TEXT, f"{HIDDEN_TEXT}{tag}") if line in changed else hide(line)
                for line in text.splitlines()]

    return "".join(line + "\n" for line in difflib.unified_diff(
        shown(before, ""), shown(after, ", changed"), fromfile=names[0], tofile=names[1], lineterm=""))


def versions(session: Session, document: ConfigDocument) -> list[ConfigVersion]:
    """A document's versions, newest first."""
    return list(session.scalars(select(ConfigVersion).where(ConfigVersion.document_id == document.id)
                                .order_by(ConfigVersion.number.desc())))
