"""The session reads top to bottom: one event table, the machine as data, pure conditions, declared paths."""

import dataclasses

import pytest
from terminal_steps import act
from transitions import EventData

from kiosk import events as ev
from kiosk.drivers import validator as dv
from kiosk.errors import JournalError
from kiosk.session import Session
from kiosk.session_model import COMMIT_REASONS, COMPLETION, TRANSITIONS, diagram_dot, diagram_mermaid, edges


def _names(value):
    return [value] if isinstance(value, str) else list(value or [])


def test_every_event_the_terminal_posts_has_an_entry_in_the_handler_table(terminal):
    ui_events = set(ev.UiEvent.__args__) | {ev.Tick, ev.CheckDone, ev.DeliveryDone, ev.ReceiptPrinted}
    device_events = {cls for cls in vars(dv).values()
                     if dataclasses.is_dataclass(cls) and cls.__module__ == dv.__name__
                     and cls not in (dv.Bill, dv.Identity, dv.ValidatorStatus)}
    assert ui_events | device_events <= set(terminal.session.handlers)


def test_every_condition_and_callback_the_model_names_exists_on_the_session():
    for transition in TRANSITIONS:
        for key in ("conditions", "unless", "prepare", "before", "after"):
            for name in _names(transition.get(key)):
                assert callable(getattr(Session, name, None)), f"{transition['trigger']}: {key} {name!r}"


def test_every_way_into_commit_journals_its_reason():
    into_commit = {t["trigger"] for t in TRANSITIONS if t["dest"] == "commit"}
    assert into_commit == set(COMMIT_REASONS)


def test_the_fail_safe_path_and_the_completion_transitions_are_drawn():
    drawn = diagram_dot()
    assert 'any_state -> out_of_service [label="internal_fault"]' in drawn
    assert f'commit -> delivery [label="{COMPLETION}"]' in drawn
    assert f'cash_collection -> out_of_service [label="{COMPLETION} [operation_refused]"]' in drawn
    mermaid = diagram_mermaid()
    for source, dest, label in edges():
        assert f"{source} --> {dest}: {label}" in mermaid


def _state_of(session):
    """Everything a condition could change, copied."""
    return {k: repr(v) for k, v in vars(session).items()
            if k not in ("deps", "machine", "handlers") and not callable(v)}


@pytest.mark.parametrize("offline", [False, True])
def test_conditions_only_ask(terminal, offline):
    if offline:
        for gateway in terminal.gateways.values():
            gateway.set_mode("down")
    act(terminal, ev.Touch(), ev.ChooseProvider("mts"), ev.EditAccount("9161234567"), ev.SubmitAccount(),
        ev.Confirm())
    session = terminal.session
    assert session.state == "cash_collection" and session.offline == offline
    # Fields a careless condition would set, primed with values it would change.
    session.message, session.account_error, session.offline = "primed", "primed", False
    conditions = {name for t in TRANSITIONS for name in _names(t.get("conditions")) + _names(t.get("unless"))}
    kwargs = {"bill": dv.Bill(10000), "provider": None, "number": "9161234567"}
    for name in sorted(conditions):
        for event in ("escrow", "enter_phone", "pay"):
            data = EventData(session.machine.get_state(session.state), session.machine.events[event],
                             session.machine, session, (), kwargs)
            before = _state_of(session)
            getattr(session, name)(data)
            assert _state_of(session) == before, f"condition {name} changed the session"


def test_a_journal_that_cannot_open_the_operation_takes_no_money(terminal, monkeypatch):
    enabled = []
    monkeypatch.setattr(terminal.validator, "enable", enabled.append)

    def refuse(*args, **kwargs):
        raise JournalError("the journal refuses: read-only file system")

    monkeypatch.setattr(terminal.journal, "open_operation", refuse)
    act(terminal, ev.Touch(), ev.ChooseProvider("mts"), ev.EditAccount("9123456789"), ev.SubmitAccount(),
        ev.Confirm())
    assert terminal.session.state == "out_of_service" and terminal.session.fault == "journal"
    assert enabled == []


def test_a_trigger_fired_from_inside_a_transition_is_refused(terminal, monkeypatch):
    session = terminal.session
    monkeypatch.setattr(session, "note_no_receipt", lambda data: session._fire("choose_category"))
    with pytest.raises(RuntimeError, match="fired from inside a transition"):
        session.handle(ev.Touch())
    session.fail_safe("test")  # the terminal's loop does this after any failure
    assert session.state == "out_of_service" and session.fault == "test"
