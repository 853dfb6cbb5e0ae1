"""The service PIN: right opens the menu, three wrong lock it for five minutes."""

from terminal_steps import act

from kiosk import events as ev


def test_the_right_pin_opens_the_service_menu(terminal):
    act(terminal, ev.ServiceLogin("1234"))
    assert terminal.session.state == "service"
    act(terminal, ev.ServiceExit())
    assert terminal.session.state == "idle"


def test_three_wrong_pins_lock_even_the_right_one_for_five_minutes(terminal, clock):
    act(terminal, ev.ServiceLogin("0000"), ev.ServiceLogin("1111"))
    assert terminal.session.message == "wrong_pin"
    act(terminal, ev.ServiceLogin("2222"))
    assert terminal.session.message == "pin_locked"
    act(terminal, ev.ServiceLogin("1234"))
    assert terminal.session.state == "idle" and terminal.session.message == "pin_locked"
    clock.advance(301)
    act(terminal, ev.ServiceLogin("1234"))
    assert terminal.session.state == "service"
