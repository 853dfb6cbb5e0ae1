"""The whole terminal against real processing protocols over loopback HTTP: OSMP main route, JSON backup."""

import re

import pytest

from kiosk import events as ev
from kiosk.app import Terminal
from kiosk.clock import ManualClock
from kiosk.config import load_config
from kiosk.emulators.payer_process import write_config
from kiosk.emulators.processing.jsonapi import JsonApiEmulator
from kiosk.emulators.processing.osmp import OsmpEmulator


@pytest.fixture
def emulators():
    osmp, json_api = OsmpEmulator(), JsonApiEmulator()
    osmp.start()
    json_api.start()
    yield osmp, json_api
    osmp.stop()
    json_api.stop()


@pytest.fixture
def terminal(tmp_path, emulators):
    osmp, json_api = emulators
    path = write_config(tmp_path, gateway_mode="ok")
    text = path.read_text(encoding="utf-8")
    gateways = (f'[[gateways]]\nname = "main"\nprotocol = "osmp"\nurl = "{osmp.base_url}/osmp"\ntimeout = 2\n\n'
                f'[[gateways]]\nname = "backup"\nprotocol = "json"\nurl = "{json_api.base_url}"\n'
                'key_id = "demo"\nhmac_secret = "demo-secret"\ntimeout = 2\n\n')
    text = re.sub(r"\[\[gateways\]\].*?(?=\[catalog\])", gateways, text, flags=re.S)
    path.write_text(text, encoding="utf-8")
    config = load_config(path)
    term = Terminal(config, clock=ManualClock(config.timezone), background_checks=False)
    term.start(background_outbox=False)
    yield term
    term.close()


def pay(terminal, provider, account, *roubles):
    for event in (ev.Touch(), ev.ChooseProvider(provider), ev.EditAccount(account), ev.SubmitAccount()):
        terminal.post(event)
        terminal.pump()
    assert terminal.session.state == "confirmation", terminal.session.view()
    terminal.post(ev.Confirm())
    terminal.pump()
    number = terminal.session.operation
    for value in roubles:
        terminal.validator.insert(value * 100)
        terminal.pump()
    terminal.post(ev.Pay())
    terminal.pump()
    terminal.outbox.wait_idle()
    terminal.pump()
    return number


def test_payment_is_booked_once_over_osmp_with_payee_details(terminal, emulators):
    osmp, _ = emulators
    number = pay(terminal, "mts", "9123456789", 100, 50)
    op = terminal.journal.get(number)
    assert op.state == "delivered" and op.gateway == "main"
    assert len(osmp.ledger.bookings) == 1
    booking = next(iter(osmp.ledger.bookings.values()))
    assert booking.amount == 15000 and booking.account == "9123456789"


def test_lost_reply_after_booking_is_resolved_without_booking_twice(terminal, emulators):
    osmp, json_api = emulators
    osmp.control("fault drop-after-booking 1 pay")
    number = pay(terminal, "mts", "9123456789", 500)
    op = terminal.journal.get(number)
    assert op.state == "committed" and op.pinned_gateway == "main" and op.last_outcome == "unknown"
    assert terminal.outbox.deliver(number) == "delivered"
    assert len(osmp.ledger.bookings) == 1 and not json_api.ledger.bookings
    # the OSMP gateway's profile has no status query: the identical pay is resent, which its rule makes safe
    assert [a["verb"] for a in terminal.journal.attempts(number)] == ["pay", "resend"]


def test_refused_connection_fails_over_to_the_json_backup(terminal, emulators):
    osmp, json_api = emulators
    osmp.stop()  # nothing listens: provably not executed
    number = pay(terminal, "energo", "1234567890", 1000)
    op = terminal.journal.get(number)
    assert op.state == "delivered" and op.gateway == "backup"
    assert len(json_api.ledger.bookings) == 1 and not osmp.ledger.bookings
