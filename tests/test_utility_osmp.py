"""A utility bill paid through an OSMP provider, end to end over loopback HTTP: the scanned ЕПД's debt and meters
come from the emulator's getInfo/check <fields>, the payer enters readings, and they travel with pay as fields."""

from __future__ import annotations

import dataclasses
import re

import pytest
from terminal_steps import act

from kiosk import events as ev
from kiosk.app import Terminal
from kiosk.clock import ManualClock
from kiosk.config import load_config
from kiosk.emulators.payer_process import write_config
from kiosk.emulators.processing.osmp import OsmpEmulator
from kiosk.gateways.base import Route
from kiosk.utility_demo import DEMO_OSMP_OPTIONS, SAMPLE_EPD


@pytest.fixture
def osmp():
    with OsmpEmulator() as emulator:
        yield emulator


@pytest.fixture
def terminal(tmp_path, osmp):
    """The demo catalog's ЕПД provider reached over OSMP (getInfo first), readings sent as meter_<id> fields."""
    path = write_config(tmp_path, gateway_mode="ok")
    gateway = (f'[[gateways]]\nname = "main"\nprotocol = "osmp"\nurl = "{osmp.base_url}/osmp"\nget_info = true\n'
               'timeout = 5\n\n')
    # the first gateway (main) becomes the OSMP emulator; backup stays as written (the catalog routes other providers)
    path.write_text(re.sub(r"\[\[gateways\]\].*?(?=\[\[gateways\]\])", gateway, path.read_text(encoding="utf-8"),
                           count=1, flags=re.S), encoding="utf-8")
    config = load_config(path)
    term = Terminal(config, clock=ManualClock(config.timezone), background_checks=False)
    epd = term.catalog.providers["epd"]
    assert epd.utility is not None
    term.catalog.providers["epd"] = dataclasses.replace(
        epd, routes=(Route("main", "40", DEMO_OSMP_OPTIONS),),
        utility=dataclasses.replace(epd.utility, reading_field="meter_{meter}"))
    term.start(background_outbox=False)
    yield term
    term.close()


def test_a_scanned_bill_over_osmp_shows_the_debt_takes_readings_and_pays_them_as_fields(terminal, osmp):
    act(terminal, ev.ScanCode(SAMPLE_EPD.read_bytes()))
    session = terminal.session
    assert (session.state, session.account) == ("debt", "1048572")
    assert session.debt.total == 823450 and session.debt.payer == "Иванова М. П."
    act(terminal, ev.DebtNext())
    view = session.view()
    assert session.state == "readings" and (view.meter.name, str(view.meter.previous)) == ("ХВС", "123.45")
    act(terminal, ev.EditReading("200"), ev.SubmitReading())
    assert session.view().reading_problem == "too_high"  # checked against the previous reading OSMP answered
    act(terminal, ev.EditReading("130,1"), ev.SubmitReading())
    assert session.view().meter.name == "ГВС"
    act(terminal, ev.EditReading("47.5"), ev.SubmitReading(), ev.Confirm())
    number = session.operation
    terminal.validator.insert(200000)
    act(terminal)
    terminal.validator.insert(100000)
    act(terminal, ev.Pay())
    op = terminal.journal.get(number)
    assert (op.state, op.gateway, op.credited) == ("delivered", "main", 300000)
    assert [r["value"] for r in op.details["readings"]] == ["130.10", "47.50"]
    assert sum(part["amount"] for part in op.details["split"]) == 300000
    (booking,) = osmp.ledger.bookings.values()
    assert (booking.account, booking.amount) == ("1048572", 300000)
    assert osmp.fields_of(booking.key.removeprefix("txn:")) == {"meter_123456": "130.10", "meter_654321": "47.50"}
