"""A fiscal drive replaced while a receipt's intent was open: receipts are held (never a guess), support sees the
intent and settles it — made on the old drive (its FD/FP as read there) or not made (printed on the new drive) —
audited, and no payment ever gets two fiscal documents or none."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from fake_registrar import FN
from fiscal_steps import committed

from kiosk.cli import main
from kiosk.dealer_link import fiscal_commands  # noqa: F401  (registers the handlers)
from kiosk.dealer_link.commands import HANDLERS, CommandContext, CommandFailed
from kiosk.fiscal.ledger import REPLACED
from kiosk.fiscal.support import ResolveRefused, open_intents, resolve_intent
from provisioning.commands.service import CommandError, check_arguments

NEW_FN = "9999078900077777"
AT = "2026-11-30T14:05:00+03:00"


def crashed_then_replaced(rig) -> int:
    """A payment whose intent was journaled on the old drive, then the terminal died and the drive was swapped."""
    op = committed(rig.journal, 15000, 300)
    status = rig.registrar.status()
    rig.ledger.intend(op.operation, "receipt", status.fn_number, status.last_fd, op.cash)
    rig.registrar.fn, rig.registrar.documents = NEW_FN, {}  # a new drive: its own numbers, nothing of the old
    rig.registrar.shift_opened_at = None
    assert rig.desk.catch_up(rig.journal.get)["made"] == 0  # the terminal comes back up, finds the new drive
    return op.operation


def receipts_per_operation(rig) -> dict[int, list[tuple[str, int]]]:
    found: dict[int, list[tuple[str, int]]] = {}
    for row in rig.ledger.rows(state="done"):
        if row.kind == "receipt":
            found.setdefault(row.operation, []).append((row.fn, row.fd))
    return found


def test_receipts_wait_while_the_intent_is_held_and_support_sees_why(rig):
    held = crashed_then_replaced(rig)
    later = committed(rig.journal, 5000, 100)
    assert rig.desk.issue(later) == "failed" and rig.registrar.receipts == []  # nothing new on a guess
    assert rig.desk.catch_up(rig.journal.get)["made"] == 0
    [intent] = open_intents(rig.journal)
    assert intent["operation"] == held and intent["fn"] == FN and intent["replaced"]
    assert REPLACED in intent["error"] and NEW_FN in intent["error"]
    replaced = [i for i in rig.journal.incidents() if i["kind"] == "fiscal_drive_replaced"]
    assert len(replaced) == 1  # said once, however often the terminal tries
    assert rig.journal.get(held).details["fiscal"]["status"] == "pending"


def test_made_on_the_old_drive_is_journaled_as_entered_and_never_printed_again(rig):
    held = crashed_then_replaced(rig)
    later = committed(rig.journal, 5000, 100)
    rig.desk.issue(later)
    [intent] = open_intents(rig.journal)
    result = resolve_intent(rig.journal, rig.desk.config.timezone, intent["intent"], True, "Ivanova (support)",
                            fd=41, fp=123456789, at=datetime.fromisoformat(AT))
    assert result["state"] == "done" and "Ivanova" in result["note"]
    fiscal = rig.journal.get(held).details["fiscal"]
    assert (fiscal["fn"], fiscal["fd"], fiscal["fp"]) == (FN, 41, 123456789)
    assert fiscal["qr"] == f"t=20261130T1405&s=150.00&fn={FN}&i=41&fp=123456789&n=1"
    assert rig.desk.catch_up(rig.journal.get)["made"] == 1  # only the payment that was waiting
    assert receipts_per_operation(rig) == {held: [(FN, 41)], later.operation: [(NEW_FN, 2)]}
    audit = [i for i in rig.journal.incidents() if i["kind"] == "fiscal_intent_resolved"]
    assert len(audit) == 1 and "made on the old fiscal drive" in audit[0]["detail"] and audit[0]["operation"] == held
    with pytest.raises(ResolveRefused, match="is done already"):
        resolve_intent(rig.journal, rig.desk.config.timezone, intent["intent"], False, "someone")


def test_not_made_is_printed_on_the_new_drive_once(rig):
    held = crashed_then_replaced(rig)
    [intent] = open_intents(rig.journal)
    resolve_intent(rig.journal, rig.desk.config.timezone, intent["intent"], False, "Ivanova (support)")
    assert rig.desk.catch_up(rig.journal.get)["made"] == 1
    assert rig.desk.catch_up(rig.journal.get)["made"] == 0
    assert receipts_per_operation(rig) == {held: [(NEW_FN, 2)]}  # FD 1 is the new drive's shift opening
    assert open_intents(rig.journal) == []


def test_unsafe_settlements_are_refused_and_change_nothing(rig):
    op = committed(rig.journal, 15000, 300)
    status = rig.registrar.status()
    row = rig.ledger.intend(op.operation, "receipt", status.fn_number, 7, op.cash)
    zone, at = rig.desk.config.timezone, datetime.fromisoformat(AT)
    with pytest.raises(ResolveRefused, match="not held by a replaced"):  # its own drive will answer
        resolve_intent(rig.journal, zone, row.id, False, "x")
    rig.ledger.unresolved(row, f"{REPLACED} ({FN} → {NEW_FN})")
    with pytest.raises(ResolveRefused, match="FD number, fiscal sign"):
        resolve_intent(rig.journal, zone, row.id, True, "x", fd=8)
    with pytest.raises(ResolveRefused, match="FD must be above 7"):
        resolve_intent(rig.journal, zone, row.id, True, "x", fd=7, fp=1, at=at)
    with pytest.raises(ResolveRefused, match="who"):
        resolve_intent(rig.journal, zone, row.id, False, " ")
    with pytest.raises(ResolveRefused, match="no fiscal intent 99"):
        resolve_intent(rig.journal, zone, 99, False, "x")
    assert [i["intent"] for i in open_intents(rig.journal)] == [row.id]


def test_the_service_cli_shows_and_settles_the_intent(rig, tmp_path, capsys):
    held = crashed_then_replaced(rig)
    config = ["--config", str(tmp_path / "terminal.toml")]
    assert main(["fiscal", "intents", *config]) == 1  # exit 1: something is held
    [shown] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert shown["operation"] == held and shown["replaced"]
    assert main(["fiscal", "resolve", *config, "--intent", str(shown["intent"]), "--made", "--fd", "12",
                 "--who", "Ivanova (support)"]) == 1
    assert "FD number, fiscal sign" in capsys.readouterr().err
    assert main(["fiscal", "resolve", *config, "--intent", str(shown["intent"]), "--not-made",
                 "--who", "Ivanova (support)"]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "failed"
    assert main(["fiscal", "intents", *config]) == 0
    rig.desk.catch_up(rig.journal.get)
    assert receipts_per_operation(rig) == {held: [(NEW_FN, 2)]}


def test_the_dealer_remote_commands_show_and_settle_it(rig):
    held = crashed_then_replaced(rig)
    terminal = SimpleNamespace(journal=rig.journal, config=rig.desk.config, receipts=SimpleNamespace(fiscal=rig.desk),
                               between_payments=lambda label, work: work())
    ctx = CommandContext(terminal=terminal, command_id="c1", kind="fiscal_resolve", folder=Path("."),  # type: ignore
                         stopping=threading.Event())
    [intent] = HANDLERS["fiscal_intents"](ctx, {})["intents"]
    args = check_arguments("fiscal_resolve", {"intent": intent["intent"], "made": True, "fd": 5, "fp": 77,
                                               "at": AT})
    with pytest.raises(CommandError, match="zone"):
        check_arguments("fiscal_resolve", {"intent": 1, "made": True, "fd": 5, "fp": 77, "at": "2026-11-30T14:05"})
    result = HANDLERS["fiscal_resolve"](ctx, {**args, "by": "admin@dealer"})
    assert result["state"] == "done" and "admin@dealer" in result["note"]
    with pytest.raises(CommandFailed, match="done already"):
        HANDLERS["fiscal_resolve"](ctx, {**args, "by": "admin@dealer"})
    assert rig.journal.get(held).details["fiscal"]["fd"] == 5
