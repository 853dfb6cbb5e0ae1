"""The payment session driven through the real terminal: journal first, money never dropped."""

import pytest
from terminal_steps import act

from kiosk import events as ev
from kiosk.drivers.validator import Bill, CassetteRemoved, Escrow, Ready, Stacked
from kiosk.session_model import STATES, TRANSITIONS, diagram_dot, diagram_mermaid


def to_cash(terminal, provider="mts", account="9123456789"):
    act(terminal, ev.Touch(), ev.ChooseProvider(provider), ev.EditAccount(account), ev.SubmitAccount(),
        ev.Confirm())
    assert terminal.session.state == "cash_collection"
    return terminal.session.operation


def insert(terminal, roubles):
    terminal.validator.insert(roubles * 100)
    act(terminal)


def walk_away(terminal, clock):
    clock.advance(terminal.config.timeouts[terminal.session.state] + 1)
    act(terminal, ev.Tick())


def test_a_payment_from_touch_to_receipt(terminal):
    act(terminal, ev.Touch(), ev.ChooseCategory("mobile"))
    assert terminal.session.state == "provider"
    act(terminal, ev.ChooseProvider("mts"), ev.EditAccount("9123456789"), ev.SubmitAccount())
    assert terminal.session.state == "confirmation"
    assert terminal.session.details == {"subscriber": "6789"}  # data: the screen words it in its language
    act(terminal, ev.Confirm())
    number = terminal.session.operation
    assert terminal.journal.get(number).state == "collecting"  # journaled before the validator was enabled
    insert(terminal, 100)
    insert(terminal, 50)
    view = terminal.session.view()
    assert (view.cash, view.fee, view.credited) == (15000, 0, 15000)
    act(terminal, ev.Pay())
    assert terminal.session.state == "receipt"
    op = terminal.journal.get(number)
    assert (op.state, op.cash, op.credited, op.receipt_status) == ("delivered", 15000, 15000, "not_printed")
    assert terminal.journal.bills(number) == [10000, 5000]
    act(terminal, ev.ReceiptTaken())
    assert terminal.session.state == "idle"


def test_the_validator_is_enabled_only_after_the_operation_is_journaled(terminal):
    order = []
    real_open = terminal.journal.open_operation
    real_enable = terminal.validator.enable
    terminal.journal.open_operation = lambda *a, **k: (order.append("journal"), real_open(*a, **k))[1]
    terminal.validator.enable = lambda d: (order.append("enable"), real_enable(d))[1]
    to_cash(terminal)
    assert order == ["journal", "enable"]


def test_invalid_account_is_refused_before_money(terminal):
    act(terminal, ev.Touch(), ev.ChooseProvider("mts"), ev.EditAccount("812"), ev.SubmitAccount())
    assert terminal.session.state == "account_entry"
    assert terminal.session.account_error == "too_short"
    assert terminal.journal.last_operation() is None


def test_unknown_account_is_refused_at_the_check(terminal):
    act(terminal, ev.Touch(), ev.ChooseProvider("mts"), ev.EditAccount("9120000000"), ev.SubmitAccount())
    assert terminal.session.state == "account_entry"
    assert terminal.session.account_error == "account_not_found"


def test_walking_away_with_money_commits_it_to_the_account(terminal, clock):
    number = to_cash(terminal)
    insert(terminal, 200)
    walk_away(terminal, clock)
    op = terminal.journal.get(number)
    assert op.state == "delivered" and op.commit_reason == "timeout" and op.cash == 20000


def test_walking_away_without_money_cancels_the_empty_operation(terminal, clock):
    number = to_cash(terminal)
    walk_away(terminal, clock)
    assert terminal.session.state == "idle"
    assert terminal.journal.get(number).state == "cancelled"


def test_cancel_is_refused_once_money_is_inside(terminal):
    number = to_cash(terminal)
    insert(terminal, 10)
    act(terminal, ev.Cancel())
    assert terminal.session.state == "cash_collection"
    assert terminal.session.message == "cannot_cancel_with_money"
    assert terminal.journal.get(number).state == "collecting"


def test_a_bill_over_the_maximum_is_returned_from_escrow(terminal):
    number = to_cash(terminal, "troika", "1234567890")  # max 3000 roubles
    insert(terminal, 2000)
    insert(terminal, 2000)
    assert terminal.session.message == "bill_over_limit"
    assert terminal.journal.get(number).cash == 200000
    assert terminal.session.acceptable() == [1000, 5000, 10000, 20000, 50000, 100000]


def test_pay_below_the_minimum_asks_for_more(terminal):
    to_cash(terminal, "energo", "1234567890")  # min 100 roubles
    insert(terminal, 50)
    act(terminal, ev.Pay())
    assert terminal.session.state == "cash_collection" and terminal.session.message == "insert_more"


def test_pay_waits_for_a_bill_on_its_way_to_the_cassette(terminal):
    number = to_cash(terminal)
    terminal.validator.stack = lambda: None  # the device is slow to stack
    insert(terminal, 100)
    act(terminal, ev.Pay())
    assert terminal.session.state == "cash_collection" and terminal.session.pay_requested
    act(terminal, Stacked(Bill(10000), "slow-1"))
    assert terminal.session.state == "receipt"
    assert terminal.journal.get(number).cash == 10000


def test_a_repeated_stacked_report_is_credited_once(terminal):
    number = to_cash(terminal)
    act(terminal, Escrow(Bill(10000)))
    act(terminal, Stacked(Bill(10000), "dev-7"), Stacked(Bill(10000), "dev-7"))
    assert terminal.journal.get(number).cash == 10000


def test_a_bill_stacked_after_commit_gets_its_own_operation(terminal):
    number = to_cash(terminal)
    insert(terminal, 100)
    act(terminal, ev.Pay())
    act(terminal, ev.ReceiptTaken())
    act(terminal, Stacked(Bill(5000), "late-1"))
    late = terminal.journal.last_operation()
    assert late.operation == number + 1 and late.cash == 5000 and late.account == "9123456789"
    assert late.commit_reason == "late_bill"
    assert terminal.journal.incidents()[0]["kind"] == "late_bill"


def test_cassette_removed_mid_payment_commits_and_goes_out_of_service(terminal):
    number = to_cash(terminal)
    insert(terminal, 500)
    act(terminal, CassetteRemoved())
    assert terminal.journal.get(number).commit_reason == "device_fault"
    act(terminal, ev.ReceiptTaken())
    assert terminal.session.state == "out_of_service"
    act(terminal, ev.Touch())
    assert terminal.session.state == "out_of_service"
    act(terminal, Ready())
    assert terminal.session.state == "idle"


def test_offline_providers_take_cash_within_offline_limits_when_no_route_is_up(terminal):
    for gateway in terminal.gateways.values():
        gateway.set_mode("down")
    act(terminal, ev.Touch(), ev.ChooseProvider("yota"), ev.EditAccount("9001234567"), ev.SubmitAccount())
    assert terminal.session.state == "provider" and terminal.session.message == "provider_unavailable"
    number = to_cash(terminal, "mts", "9161234567")
    assert terminal.session.offline
    assert terminal.session.max_cash() == 500000  # offline max operation, not the provider's 15000
    insert(terminal, 1000)
    act(terminal, ev.Pay())
    assert terminal.journal.get(number).state == "committed"
    assert terminal.session.outcome == "queued"


def test_every_waiting_state_has_a_timeout_and_every_state_is_reachable():
    from kiosk.session_model import TIMEOUTS

    waiting = {"category", "provider", "account_entry", "online_check", "confirmation", "cash_collection",
               "delivery", "receipt", "service"}
    assert waiting <= set(TIMEOUTS)
    dests = {t["dest"] for t in TRANSITIONS}
    assert set(STATES) - {"idle"} <= dests
    assert "digraph session" in diagram_dot() and "cash_collection -> commit" in diagram_dot()
    assert "stateDiagram-v2" in diagram_mermaid()


@pytest.mark.parametrize("state", ["category", "provider", "account_entry", "confirmation"])
def test_timeouts_before_money_return_to_idle(terminal, clock, state):
    act(terminal, ev.Touch())
    steps = {"provider": [ev.ChooseCategory("mobile")],
             "account_entry": [ev.ChooseProvider("mts")],
             "confirmation": [ev.ChooseProvider("mts"), ev.EditAccount("9123456789"), ev.SubmitAccount()]}
    act(terminal, *steps.get(state, []))
    assert terminal.session.state == state
    walk_away(terminal, clock)
    assert terminal.session.state == "idle"


def test_an_unknown_denomination_is_returned_not_credited(terminal):
    number = to_cash(terminal)
    returned = []
    terminal.validator.return_bill = lambda: returned.append(True)
    act(terminal, Escrow(Bill(30000)))  # a 300-rouble note does not exist
    assert returned == [True]
    assert terminal.session.message == "bill_not_accepted"
    assert terminal.journal.get(number).cash == 0


def test_a_phone_number_picks_its_operator(terminal):
    act(terminal, ev.Touch(), ev.EnterPhone("+7 903 123-45-67"))
    assert terminal.session.state == "account_entry"
    assert terminal.session.provider.id == "beeline" and terminal.session.account == "9031234567"


def test_an_unknown_operator_is_chosen_by_the_payer_never_guessed(terminal, monkeypatch):
    monkeypatch.setattr(terminal.session.deps, "detect_operator", lambda number: (None, number))
    act(terminal, ev.Touch(), ev.EnterPhone("9001234567"))
    assert terminal.session.state == "provider" and terminal.session.category == "mobile"
    assert terminal.session.message == "choose_operator"
    act(terminal, ev.ChooseProvider("megafon"))
    assert terminal.session.account == "9001234567"  # typed once is enough
    assert terminal.session.message == ""


def test_a_message_about_one_screen_does_not_follow_the_payer_to_the_next(terminal, monkeypatch):
    monkeypatch.setattr(terminal.session.deps, "detect_operator", lambda number: (None, number))
    act(terminal, ev.Touch(), ev.EnterPhone("9001234567"), ev.Back())
    assert terminal.session.state == "category" and terminal.session.message == ""


def test_removing_the_cassette_closes_an_encashment(terminal):
    number = to_cash(terminal)
    insert(terminal, 100)
    insert(terminal, 500)
    act(terminal, ev.Pay())
    act(terminal, ev.ReceiptTaken())
    terminal.validator.remove_cassette()
    act(terminal)
    assert terminal.session.state == "out_of_service"
    [record] = terminal.journal.encashments()
    assert record["counts"] == {10000: 1, 50000: 1} and record["total"] == 60000
    assert terminal.journal.get(number).state == "delivered"
    terminal.validator.insert_cassette()
    act(terminal)
    assert terminal.session.state == "idle"


def test_a_journal_fault_stops_the_money_and_not_the_terminal(terminal, monkeypatch):
    import sqlite3

    to_cash(terminal)
    disabled, returned = [], []
    monkeypatch.setattr(terminal.validator, "disable", lambda: disabled.append(True))
    monkeypatch.setattr(terminal.validator, "return_bill", lambda: returned.append(True))

    def disk_full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(terminal.journal, "stack_commanded", disk_full)
    act(terminal, Escrow(Bill(10000)))  # no exception escapes the event loop
    assert terminal.session.state == "out_of_service"
    assert "disk is full" in terminal.session.fault and disabled
    assert returned  # the bill in escrow was never stacked: it goes back to the payer
    act(terminal, ev.Touch())
    assert terminal.session.state == "out_of_service"


def test_work_between_payments_waits_for_the_payer_and_runs_once(terminal):
    done = []
    terminal.between_payments("at once", lambda: done.append("idle"))
    act(terminal)
    assert done == ["idle"]  # the attract screen is between payments
    to_cash(terminal)
    insert(terminal, 100)
    terminal.between_payments("new fees", lambda: done.append("after"))
    act(terminal)
    assert done == ["idle"]  # money is being collected: never during a payment
    act(terminal, ev.Pay())
    while terminal.session.state != "idle":
        terminal.post(ev.ReceiptTaken())
        act(terminal, ev.Tick())
    assert done == ["idle", "after"]
    act(terminal, ev.Tick())
    assert done == ["idle", "after"]


def test_failing_work_between_payments_does_not_stop_the_session(terminal):
    done = []

    def broken():
        raise OSError("disk")

    terminal.between_payments("broken", broken)
    terminal.between_payments("next", lambda: done.append(1))
    act(terminal)
    assert done == [1]
    assert terminal.session.state == "idle"
