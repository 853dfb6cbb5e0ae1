"""'Do you need more time?': the payer restarts a waiting state's countdown; nothing else about the session moves."""

from terminal_steps import act

from kiosk import events as ev
from kiosk.drivers.validator import Bill, Stacked


def to_cash(terminal, provider="mts", account="9123456789"):
    act(terminal, ev.Touch(), ev.ChooseProvider(provider), ev.EditAccount(account), ev.SubmitAccount(),
        ev.Confirm())
    assert terminal.session.state == "cash_collection"
    return terminal.session.operation


def seconds_left(terminal):
    return terminal.session.view().seconds_left


def test_more_time_restarts_the_countdown_of_a_state_before_money(terminal, clock):
    act(terminal, ev.Touch(), ev.ChooseCategory("mobile"))
    timeout = terminal.config.timeouts["provider"]
    clock.advance(timeout - 10)
    act(terminal, ev.Tick())
    assert seconds_left(terminal) == 10
    act(terminal, ev.MoreTime())
    assert seconds_left(terminal) == timeout
    clock.advance(timeout - 1)
    act(terminal, ev.Tick())
    assert terminal.session.state == "provider"
    clock.advance(2)
    act(terminal, ev.Tick())
    assert terminal.session.state == "idle"


def test_more_time_in_every_state_that_waits_for_the_payer(terminal, clock):
    act(terminal, ev.Touch())
    for step, state in ((ev.ChooseCategory("mobile"), "provider"), (ev.ChooseProvider("mts"), "account_entry"),
                        (ev.EditAccount("9123456789"), "account_entry"), (ev.SubmitAccount(), "confirmation")):
        act(terminal, step)
        assert terminal.session.state == state
        clock.advance(5)
        act(terminal, ev.MoreTime())
        assert seconds_left(terminal) == terminal.config.timeouts[state]


def test_with_money_inside_more_time_only_postpones_the_commit(terminal, clock):
    number = to_cash(terminal)
    terminal.validator.insert(10000)
    act(terminal)
    timeout = terminal.config.timeouts["cash_collection"]
    clock.advance(timeout - 5)
    act(terminal, ev.MoreTime())
    assert seconds_left(terminal) == timeout
    clock.advance(timeout + 1)
    act(terminal, ev.Tick())
    op = terminal.journal.get(number)
    assert (op.cash, op.commit_reason, op.state) == (10000, "timeout", "delivered")  # walking away still pays


def test_more_time_does_not_stretch_the_wait_for_a_bill_after_pay(terminal, clock):
    number = to_cash(terminal)
    terminal.validator.stack = lambda: None  # the device is slow to stack
    terminal.validator.insert(10000)
    act(terminal)
    act(terminal, ev.Pay())
    assert terminal.session.pay_requested
    settle_wait = seconds_left(terminal)
    act(terminal, ev.MoreTime())
    assert seconds_left(terminal) == settle_wait
    act(terminal, Stacked(Bill(10000), "slow-1"))
    assert terminal.session.state == "receipt" and terminal.journal.get(number).cash == 10000


def test_more_time_is_ignored_where_nobody_is_asked_to_hurry(terminal, clock):
    act(terminal, ev.MoreTime())
    assert terminal.session.state == "idle" and seconds_left(terminal) is None
    to_cash(terminal)
    terminal.validator.insert(10000)
    act(terminal, ev.Pay())
    assert terminal.session.state == "receipt"
    clock.advance(5)
    act(terminal, ev.MoreTime())
    assert seconds_left(terminal) == terminal.config.timeouts["receipt"] - 5


def test_more_time_does_not_stretch_the_wait_for_the_providers_check(terminal, clock):
    act(terminal, ev.Touch(), ev.ChooseProvider("mts"), ev.EditAccount("9123456789"))
    terminal.post(ev.SubmitAccount())
    terminal.session.handle(terminal.events.get_nowait())  # the check's answer stays queued
    assert terminal.session.state == "online_check"
    clock.advance(5)
    terminal.session.handle(ev.MoreTime())
    assert seconds_left(terminal) == terminal.config.timeouts["online_check"] - 5
