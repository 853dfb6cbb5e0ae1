"""The dealer's lock in the payment session: out of service with the dealer's message until unlocked; a device
coming back, a printer recheck or a visit to the service menu never ends it; unlock leaves a real fault in place."""

from __future__ import annotations

from terminal_steps import act

from kiosk import events as ev
from kiosk.drivers import validator as dv


def test_a_locked_terminal_takes_nobody_until_unlocked(terminal):
    terminal.session.lock("Closed until Monday")
    assert terminal.session.state == "out_of_service"
    view = terminal.session.view()
    assert view.locked == "Closed until Monday" and view.fault is None
    act(terminal, ev.Touch(), ev.ChooseProvider("mts"))
    assert terminal.session.state == "out_of_service" and terminal.session.operation is None
    terminal.session.unlock()
    assert terminal.session.state == "idle" and terminal.session.view().locked is None


def test_a_device_coming_back_or_the_service_menu_does_not_end_a_lock(terminal):
    terminal.session.lock("")
    act(terminal, dv.Ready(), ev.Tick())
    assert terminal.session.state == "out_of_service"
    act(terminal, ev.ServiceLogin("1234"))
    assert terminal.session.state == "service"
    act(terminal, ev.ServiceExit())
    assert terminal.session.state == "out_of_service" and terminal.session.lock_message == ""


def test_unlock_leaves_a_device_fault_out_of_service(terminal):
    terminal.session.lock("Inspection")
    act(terminal, dv.Jammed())
    terminal.session.unlock()
    assert terminal.session.state == "out_of_service" and terminal.session.lock_message is None
    assert terminal.session.fault == "Jammed"
    act(terminal, dv.Ready())
    assert terminal.session.state == "idle"
