"""The payment session with a utility bill: scan → provider → debt → readings → cash → done, and its refusals."""

from __future__ import annotations

from decimal import Decimal

import pytest
from terminal_steps import act

from kiosk import events as ev
from kiosk.bills.match import NotServed
from kiosk.bills.refusals import Reason, Refusal
from kiosk.utility_demo import DEMO_DEBTS, SAMPLE_EPD

EPD = SAMPLE_EPD.read_bytes()


def insert(terminal, roubles):
    terminal.validator.insert(roubles * 100)
    act(terminal)


def test_a_scanned_bill_pays_part_of_the_debt_with_readings_split_and_journaled(terminal):
    act(terminal, ev.ScanCode(EPD))
    session = terminal.session
    assert (session.state, session.provider.id, session.account) == ("debt", "epd", "1048572")
    view = session.view()
    assert view.debt.total == 823450 and [s.service for s in view.debt.services] == [
        "housing", "heating", "water_cold", "water_hot"]
    act(terminal, ev.DebtNext())
    assert session.state == "readings" and session.view().meter.name == "ХВС"
    act(terminal, ev.EditReading("130,1"), ev.SubmitReading())
    assert session.state == "readings" and session.view().meter.name == "ГВС"
    act(terminal, ev.EditReading("47.5"), ev.SubmitReading())
    assert session.state == "confirmation"
    act(terminal, ev.Confirm())
    number = session.operation
    insert(terminal, 2000)
    insert(terminal, 1000)
    act(terminal, ev.Pay())
    assert session.state == "receipt"
    op = terminal.journal.get(number)
    assert (op.state, op.cash, op.credited, op.account) == ("delivered", 300000, 300000, "1048572")
    assert op.details["debt"]["total"] == 823450
    assert op.details["readings"] == [
        {"meter": "123456", "name": "ХВС", "service": "water_cold", "unit": "m3", "previous": "123.45",
         "value": "130.10"},
        {"meter": "654321", "name": "ГВС", "service": "water_hot", "unit": "m3", "previous": "45.10",
         "value": "47.50"}]
    split = op.details["split"]
    assert sum(part["amount"] for part in split) == op.credited
    # proportional: 113668.10, 92774.30, 35849.17, 57708.42 → floors sum to 299999; the kopeck left goes to .42
    assert [part["amount"] for part in split] == [113668, 92774, 35849, 57709]


def test_an_unlikely_reading_is_asked_about_then_corrected_or_confirmed(terminal):
    act(terminal, ev.ScanCode(EPD), ev.DebtNext())
    session = terminal.session
    act(terminal, ev.EditReading("120"), ev.SubmitReading())
    assert (session.state, session.view().reading_problem) == ("readings", "lower")
    act(terminal, ev.SubmitReading(confirmed=True))  # confirmed anyway: the payer knows the meter was replaced
    assert session.view().meter.name == "ГВС" and session.readings[0].value == Decimal("120")
    act(terminal, ev.EditReading("450"), ev.SubmitReading())
    assert session.view().reading_problem == "too_high"  # the demo provider allows 30 m³ a period
    act(terminal, ev.EditReading("46"))
    assert session.view().reading_problem == ""  # corrected: the question is gone
    act(terminal, ev.EditReading("4x"), ev.SubmitReading())
    assert session.view().reading_problem == "wrong_format"
    act(terminal, ev.SubmitReading(confirmed=True))
    assert session.state == "readings"  # a value that is not a number is never confirmed
    act(terminal, ev.Back())
    assert session.view().meter.name == "ХВС" and session.view().reading_text == "120.00"
    act(terminal, ev.SkipReading(), ev.SkipReading())
    assert session.state == "confirmation" and session.readings == ()
    act(terminal, ev.Back())
    assert session.state == "debt"


def test_a_typed_account_shows_its_debt_too_and_in_order_pays_the_first_service_first(terminal):
    act(terminal, ev.Touch(), ev.ChooseProvider("epd"), ev.EditAccount("2000301"), ev.SubmitAccount())
    session = terminal.session
    assert session.state == "debt" and session.debt.split == "in_order"
    act(terminal, ev.DebtNext())
    assert session.state == "readings" and session.view().meter.unit == "kWh"
    act(terminal, ev.EditReading("5400"), ev.SubmitReading(), ev.Confirm())
    number = session.operation
    insert(terminal, 1000)
    act(terminal, ev.Pay())
    op = terminal.journal.get(number)
    # in order: the capital repairs contribution (500 ₽) first, the rest to power
    assert op.details["split"] == [{"service": "repairs", "name": "Взнос на капремонт", "amount": 50000},
                                   {"service": "power", "name": "Электроэнергия", "amount": 50000}]


def test_an_account_without_a_debt_pays_as_before(terminal):
    act(terminal, ev.Touch(), ev.ChooseProvider("epd"), ev.EditAccount("3000001"), ev.SubmitAccount())
    assert terminal.session.state == "confirmation" and terminal.session.debt is None
    act(terminal, ev.Confirm())
    number = terminal.session.operation
    insert(terminal, 500)
    act(terminal, ev.Pay())
    op = terminal.journal.get(number)
    assert op.state == "delivered" and "split" not in op.details and "debt" not in op.details


@pytest.mark.parametrize(("code", "expected"), [
    (b"hello", Reason.NOT_A_PAYMENT_CODE),
    (EPD.replace(b"PayeeINN=7709123453", b"PayeeINN=7709123454"), Reason.BAD_INN),
])
def test_a_bad_code_is_refused_in_the_parsers_words(terminal, code, expected):
    act(terminal, ev.ScanCode(code))
    view = terminal.session.view()
    assert terminal.session.state == "category"
    assert isinstance(view.scan_problem, Refusal) and view.scan_problem.reason == expected
    assert view.scan_problem.text("en") and view.scan_problem.text("ru")
    act(terminal, ev.ChooseCategory("utilities"))
    assert terminal.session.view().scan_problem is None  # it was about the scan, not the next screen


def test_a_bill_of_a_payee_nobody_here_serves_is_refused(terminal):
    other = (SAMPLE_EPD.parent.parent.parent.parent / "tests/bills/data/epd_utf8_pipe_trailing.qr").read_bytes()
    # the demo catalog pays such a bill by bank details; a dealer who does not allow that has no such provider
    act(terminal, ev.ScanCode(other))
    assert (terminal.session.state, terminal.session.provider.id) == ("confirmation", "by_details")
    act(terminal, ev.Cancel())
    del terminal.catalog.providers["by_details"]
    act(terminal, ev.ScanCode(other))
    problem = terminal.session.view().scan_problem
    assert isinstance(problem, NotServed) and "does not serve" in problem.text("en")


def test_a_scan_with_money_inside_changes_nothing(terminal):
    act(terminal, ev.ScanCode(EPD), ev.DebtNext(), ev.SkipReading(), ev.SkipReading(), ev.Confirm())
    insert(terminal, 100)
    act(terminal, ev.ScanCode(b"ST00012|garbage"))
    assert terminal.session.state == "cash_collection" and terminal.session.account == "1048572"


def test_the_demo_debts_add_up():
    for debt in DEMO_DEBTS.values():
        assert sum(s["amount"] for s in debt["services"]) == debt["total"]


def test_journal_lookup_shows_the_debt_the_split_and_the_readings(config, config_path, clock, capsys):
    from kiosk.app import Terminal
    from kiosk.cli import main

    terminal = Terminal(config, clock=clock, background_checks=False)
    terminal.start(background_outbox=False)
    try:
        act(terminal, ev.ScanCode(EPD), ev.DebtNext(), ev.EditReading("130,1"), ev.SubmitReading(),
            ev.SkipReading(), ev.Confirm())
        number = terminal.session.operation
        insert(terminal, 1000)
        act(terminal, ev.Pay(), ev.ReceiptTaken())
    finally:
        terminal.close()
    assert main(["journal", "lookup", "--operation", str(number), "--config", str(config_path)]) == 0
    out = capsys.readouterr().out
    assert "debt         8234.50 RUB for 10.2026 (proportional split)" in out, out
    assert "split        Содержание жилья: 378.89 RUB" in out and "Горячее водоснабжение: 192.36 RUB" in out
    assert "readings     ХВС meter 123456: 130.10 m3 (previous 123.45)" in out
    assert "ГВС" not in out.split("readings")[1]  # the skipped meter has no reading
    assert main(["journal", "lookup", "--operation", str(number), "--config", str(config_path), "--lang", "ru"]) == 0
    russian = capsys.readouterr().out
    assert "показания    ХВС счётчик 123456: 130,10 m3 (предыдущее 123,45)" in russian
    assert "долг" in russian and "пропорционально долгу" in russian


def test_money_held_as_owed_and_paid_on_elsewhere_goes_without_the_bills_debt_and_readings(terminal, clock):
    from kiosk.offline_queue.reconcile import pay_on

    act(terminal, ev.ScanCode(EPD), ev.DebtNext(), ev.EditReading("130"), ev.SubmitReading(), ev.SkipReading(),
        ev.Confirm())
    number = terminal.session.operation
    insert(terminal, 50)  # below the provider's minimum of 100 ₽, and the payer walks away
    clock.advance(terminal.config.timeouts["cash_collection"] + 1)
    act(terminal, ev.Tick())
    held = terminal.journal.get(number)
    assert held.state == "needs_attention" and "split" not in held.details and held.details["readings"]
    paid_on = pay_on(terminal.journal, terminal.catalog, number, "mts", "9123456789")
    assert not {"debt", "readings", "split"} & set(paid_on.details)
    assert paid_on.details["fee_rule"]


def test_readings_go_as_extra_fields_where_the_provider_names_them(terminal):
    import dataclasses

    epd = terminal.catalog.providers["epd"]
    terminal.catalog.providers["epd"] = dataclasses.replace(
        epd, utility=dataclasses.replace(epd.utility, reading_field="meter_{meter}"))  # as an OSMP route needs
    act(terminal, ev.ScanCode(EPD), ev.DebtNext(), ev.EditReading("130,1"), ev.SubmitReading(), ev.SkipReading(),
        ev.Confirm())
    op = terminal.journal.get(terminal.session.operation)
    assert op.fields == {"meter_123456": "130.10", "account": "1048572"}
