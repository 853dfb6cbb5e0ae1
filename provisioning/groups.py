"""A dealer's terminal groups: create, rename, delete (only an empty one), move terminals, a theme for a whole
group — each change audited. Configuration is assigned to a group in provisioning.config.store.assign."""

from __future__ import annotations

from sqlalchemy import delete as sql_delete
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from provisioning import audit
from provisioning.config.models import ConfigAssignment
from provisioning.db.models import Terminal, TerminalGroup
from provisioning.updates.models import UpdateChannel

NAME_MAX = 100


class GroupError(ValueError):
    """A group change that cannot be made, naming the field and why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def _name(raw: str) -> str:
    name = raw.strip()
    if not name or len(name) > NAME_MAX:
        raise GroupError("name", f"expected a name of 1 to {NAME_MAX} characters")
    return name


def _free(session: Session, dealer_id: int, name: str) -> None:
    if session.scalar(select(TerminalGroup).where(TerminalGroup.dealer_id == dealer_id,
                                                  TerminalGroup.name == name)) is not None:
        raise GroupError("name", f"a group named {name!r} exists already")


def listing(session: Session, dealer_id: int) -> list[tuple[TerminalGroup, int]]:
    """The dealer's groups by name, each with how many terminals it holds."""
    counts = dict(session.execute(select(Terminal.group_id, func.count()).where(Terminal.dealer_id == dealer_id)
                                  .group_by(Terminal.group_id)).all())
    groups = session.scalars(select(TerminalGroup).where(TerminalGroup.dealer_id == dealer_id)
                             .order_by(TerminalGroup.name))
    return [(group, counts.get(group.id, 0)) for group in groups]


def by_name(session: Session, dealer_id: int, name: str) -> TerminalGroup:
    """One of the dealer's groups by name, or GroupError."""
    group = session.scalar(select(TerminalGroup).where(TerminalGroup.dealer_id == dealer_id,
                                                       TerminalGroup.name == name.strip()))
    if group is None:
        raise GroupError("group", f"no group named {name.strip()!r}")
    return group


def own(session: Session, dealer_id: int, group_id: int) -> TerminalGroup:
    """One of the dealer's groups by id, or GroupError."""
    group = session.get(TerminalGroup, group_id)
    if group is None or group.dealer_id != dealer_id:
        raise GroupError("group", "no such group")
    return group


def create(session: Session, dealer_id: int, name: str, actor: str, remote: str = "") -> TerminalGroup:
    """A new empty group."""
    name = _name(name)
    _free(session, dealer_id, name)
    group = TerminalGroup(dealer_id=dealer_id, name=name)
    session.add(group)
    session.flush()
    audit.record(session, actor=actor, action="group.create", dealer_id=dealer_id, target=f"group {name}",
                 remote=remote)
    return group


def rename(session: Session, group: TerminalGroup, name: str, actor: str, remote: str = "") -> None:
    """Give a group another name (its terminals and assignments stay with it)."""
    name = _name(name)
    if name == group.name:
        return
    _free(session, group.dealer_id, name)
    before, group.name = group.name, name
    audit.record(session, actor=actor, action="group.rename", dealer_id=group.dealer_id, target=f"group {name}",
                 before=before, after=name, remote=remote)


def delete(session: Session, group: TerminalGroup, actor: str, remote: str = "") -> None:
    """Delete an empty group (its configuration assignment goes with it); a group that still holds terminals, or
    is the dealer's pilot group for updates, is refused, saying so: terminals are moved out first."""
    held = session.scalar(select(func.count()).select_from(Terminal).where(Terminal.group_id == group.id)) or 0
    if held:
        raise GroupError("group", f"group {group.name!r} still holds {held} terminal(s): move them to another "
                                  "group (or to none) first")
    if session.scalar(select(UpdateChannel).where(UpdateChannel.pilot_group_id == group.id)) is not None:
        raise GroupError("group", f"group {group.name!r} is the pilot group for updates: choose another first")
    session.execute(sql_delete(ConfigAssignment).where(ConfigAssignment.group_id == group.id))
    audit.record(session, actor=actor, action="group.delete", dealer_id=group.dealer_id, target=f"group {group.name}",
                 remote=remote)
    session.delete(group)
    session.flush()


def move(session: Session, dealer_id: int, numbers: list[str], group: TerminalGroup | None, actor: str,
         remote: str = "") -> int:
    """Move the named terminals into `group` (None: into no group); how many moved. Every number must be the
    dealer's, or nothing moves."""
    terminals = list(session.scalars(select(Terminal).where(Terminal.dealer_id == dealer_id,
                                                            Terminal.number.in_(numbers))))
    missing = sorted(set(numbers) - {t.number for t in terminals})
    if missing:
        raise GroupError("terminal", f"no terminal(s) {', '.join(missing)}")
    target = group.id if group else None
    moved = [t for t in terminals if t.group_id != target]
    if moved:
        session.execute(update(Terminal).where(Terminal.id.in_([t.id for t in moved])).values(group_id=target))
        audit.record(session, actor=actor, action="group.move", dealer_id=dealer_id,
                     target=f"group {group.name}" if group else "no group",
                     after={"terminals": sorted(t.number for t in moved)}, remote=remote)
    return len(moved)


def assign_theme(session: Session, group: TerminalGroup, pack_id: int, actor: str, remote: str = "") -> int:
    """Give every terminal now in the group a theme pack (a terminal moved in later keeps its own); how many."""
    from provisioning.themes import service as themes

    if themes.pack(session, group.dealer_id, pack_id) is None:
        raise GroupError("pack", "no such theme pack")
    terminals = list(session.scalars(select(Terminal.id).where(Terminal.group_id == group.id)))
    for terminal_id in terminals:
        themes.assign(session, group.dealer_id, terminal_id, pack_id, actor, remote)
    return len(terminals)
