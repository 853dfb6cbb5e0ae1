"""Done-when of issue 17, automated: a payer at `./dev demo` scans a sample ЕПД (the S key, through the scanner
emulator on a pty and the serial driver), sees the debt by service, enters readings, pays part of the debt and
gets a receipt with the split and the readings (the virtual printer's paper), the JSON processing having received
the split and the readings with the payment."""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import pygame
import pytest

from kiosk.app import Terminal
from kiosk.demo_stack import DemoStack
from kiosk.screens.layout import TextRecord
from kiosk.screens.ui import KioskUI


def wait_for(predicate, terminal, ui, seconds=15.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        terminal.pump()
        ui.step(pygame.event.get())
        if predicate():
            return True
        time.sleep(0.02)
    return False


def on_screen(ui) -> str:
    """Every text the current screen draws, as drawn."""
    ui.refresh()
    ui.painter.recorder = TextRecord(blit=True)
    try:
        ui.widgets.draw(ui.surface, ui.painter)
        return "\n".join(block.source for block in ui.painter.recorder.blocks)
    finally:
        ui.painter.recorder = None


@contextmanager
def demo_window(tmp_path):
    """The demo stack (emulator processes, scanner on a pty, JSON and OSMP emulators) under a demo window, the
    validator online."""
    pygame.display.init()
    with DemoStack(tmp_path) as stack:
        terminal = Terminal(stack.config)
        terminal.start()
        try:
            ui = KioskUI(terminal, demo=True, size=(1280, 1024), lang="ru", insert_bill=stack.bill_port(terminal),
                         scan_sample=stack.scan_port(terminal))
            assert wait_for(lambda: terminal.validator.status().online, terminal, ui)
            yield stack, terminal, ui
        finally:
            terminal.close()


def press(ui, key: int, unicode: str = "") -> None:
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, unicode=unicode, mod=0, scancode=0))
    ui.step(pygame.event.get())


@pytest.mark.slow
def test_a_payer_scans_a_bill_sees_the_debt_enters_readings_pays_part_and_gets_the_receipt(tmp_path):
    with demo_window(tmp_path) as (stack, terminal, ui):
        assert stack.config.scanner is not None and stack.config.scanner.kind == "serial"
        press(ui, pygame.K_s, "s")  # the sample ЕПД under the scanner: bytes over the pty to the driver
        assert wait_for(lambda: terminal.session.state == "debt", terminal, ui)
        text = on_screen(ui)
        for words in ("Содержание жилья", "Отопление", "Холодное водоснабжение", "Горячее водоснабжение",
                      "8\u00a0234,50\u00a0₽", "Иванова М. П."):
            assert words in text, (words, text)
        ui.act("debt-next")
        assert wait_for(lambda: terminal.session.state == "readings", terminal, ui)
        assert "123,45" in on_screen(ui)  # the previous reading of the cold water meter
        for action in ("1", "3", "0", ",", "1", "reading-next"):
            ui.act(action)
        assert wait_for(lambda: terminal.session.view().meter.name == "ГВС", terminal, ui)
        for action in ("9", "9", "reading-next"):  # 99 m³ after 45,10: far too much for a month
            ui.act(action)
        assert wait_for(lambda: terminal.session.view().reading_problem == "too_high", terminal, ui)
        assert "намного больше предыдущего" in on_screen(ui)
        for action in ("backspace", "backspace", "4", "7", ",", "5", "reading-next"):  # corrected
            ui.act(action)
        assert wait_for(lambda: terminal.session.state == "confirmation", terminal, ui)
        ui.act("confirm")
        assert wait_for(lambda: terminal.session.state == "cash_collection", terminal, ui)
        time.sleep(0.3)  # the payer waits for the slot to light up
        for key, cash in ((pygame.K_7, 200000), (pygame.K_6, 300000)):  # part of the 8 234,50 ₽ owed
            time.sleep(0.5)  # the validator is ready for the next banknote
            press(ui, key)  # the demo key: a banknote into the validator emulator
            assert wait_for(lambda cash=cash: terminal.session.cash == cash, terminal, ui), (
                terminal.session.cash, terminal.session.message, terminal.session.bill_events)
        number = terminal.session.operation
        ui.act("pay")
        assert wait_for(lambda: terminal.session.state == "receipt", terminal, ui)
        op = terminal.journal.get(number)
        assert (op.state, op.gateway, op.credited) == ("delivered", "backup", 300000)
        assert [p["amount"] for p in op.details["split"]] == [113668, 92774, 35849, 57709]
        paper = stack.printer.wait_for_receipts(1, timeout=15)[0].read_text(encoding="utf-8")
        for words in ("Распределение по услугам", "Содержание жилья", "1 136,68", "Горячее водоснабжение",
                      "577,09", "Показания счётчиков", "ХВС сч. 123456", "130,10 м3", "ГВС сч. 654321", "47,50 м3"):
            assert words in paper, (words, paper)
        # the JSON processing got the split and the readings with the payment itself
        [_, json_api] = stack.gateways
        state = json.loads((tmp_path / "json-emulator.json").read_text(encoding="utf-8"))
        [booked] = [r for r in state["extra"]["results"].values() if r.get("split")]
        assert booked["split"] == op.details["split"] and booked["readings"] == op.details["readings"]


def test_the_s_key_of_the_in_process_demo_scans_straight_into_the_session(tmp_path):
    with DemoStack(tmp_path, in_process=True) as stack:
        terminal = Terminal(stack.config, background_checks=False)
        terminal.start(background_outbox=False)
        try:
            assert stack.config.scanner is None  # no emulator processes in-process
            stack.scan_port(terminal)()
            terminal.pump()
            assert terminal.session.state == "debt" and terminal.session.debt.total == 823450
        finally:
            terminal.close()


@pytest.mark.slow
def test_the_d_key_scans_a_bill_nobody_lists_and_it_is_paid_by_bank_details(tmp_path):
    with demo_window(tmp_path) as (stack, terminal, ui):
        press(ui, pygame.K_d, "d")  # a bill of ТСЖ «Демо-Дом», whom no demo provider lists, under the scanner
        assert wait_for(lambda: terminal.session.state == "confirmation", terminal, ui)
        assert (terminal.session.provider.id, terminal.session.account) == ("by_details", "77015")
        text = on_screen(ui)  # the JSON processing named the payee from the bill's details the check sent
        for words in ("Оплата по реквизитам (демо)", "Получатель по квитанции", "ТСЖ «Демо-Дом»",
                      "ИНН получателя по квитанции", "7728123459", "Назначение платежа", "л/с 77015"):
            assert words in text, (words, text)
        ui.act("confirm")
        assert wait_for(lambda: terminal.session.state == "cash_collection", terminal, ui)
        time.sleep(0.5)
        press(ui, pygame.K_6)  # 1 000 ₽
        assert wait_for(lambda: terminal.session.cash == 100000, terminal, ui)
        number = terminal.session.operation
        ui.act("pay")
        assert wait_for(lambda: terminal.session.state == "receipt", terminal, ui)
        op = terminal.journal.get(number)
        assert (op.state, op.gateway, op.credited, op.provider) == ("delivered", "backup", 100000, "by_details")
        assert op.fields["PayeeINN"] == "7728123459" and op.fields["PersonalAcc"] == "40703810038000077001"
        assert op.fields["BIC"] == "044525225" and op.details["payee"] == "ТСЖ «Демо-Дом»"
        paper = stack.printer.wait_for_receipts(1, timeout=15)[0].read_text(encoding="utf-8")
        for words in ("Платёж по реквизитам", "Получатель: ТСЖ \"Демо-Дом\"", "7728123459", "Р/с",
                      "40703810038000077001"):
            assert words in paper, (words, paper)
        [_, json_api] = stack.gateways
        assert [(b.provider, b.account, b.amount) for b in json_api.ledger.bookings.values()] == [
            ("41", "77015", 100000)]


def test_by_bank_details_needs_the_bill_a_typed_account_is_refused_by_the_demo_bank(tmp_path):
    from kiosk import events as ev

    with DemoStack(tmp_path, in_process=True) as stack:
        terminal = Terminal(stack.config, background_checks=False)
        terminal.start(background_outbox=False)
        try:
            stack.scan_port(terminal)("by_details")
            terminal.pump()
            assert terminal.session.state == "confirmation"
            assert terminal.session.details["payee"] == "ТСЖ «Демо-Дом»"
            for event in (ev.Cancel(), ev.Touch(), ev.ChooseProvider("by_details"), ev.EditAccount("77015"),
                          ev.SubmitAccount()):
                terminal.post(event)
                terminal.pump()
            assert terminal.session.state == "account_entry" and terminal.session.account_error == "forbidden"
        finally:
            terminal.close()



def test_a_scan_only_provider_is_neither_listed_nor_found_by_name_yet_its_bill_still_reaches_it(tmp_path):
    from kiosk import events as ev

    pygame.display.init()
    with DemoStack(tmp_path, in_process=True) as stack:
        terminal = Terminal(stack.config, background_checks=False)
        terminal.start(background_outbox=False)
        try:
            ui = KioskUI(terminal, size=(1280, 1024), lang="en")
            for event in (ev.Touch(), ev.ChooseCategory("utilities")):
                terminal.post(event)
                terminal.pump()
            ui.step([])
            assert ui.screen.name == "providers"
            tiles = {t for t in ui.targets() if t.startswith("provider:")}
            assert {"provider:energo", "provider:vodokanal", "provider:epd"} <= tiles  # the others stay listed
            assert "provider:by_details" not in tiles and "Payment by bank details" not in on_screen(ui)
            ui.act("search")
            for letter in "DEMO":  # every demo provider's name has "(demo)", by_details's too
                ui.act(letter)
            found = {t for t in ui.targets() if t.startswith("provider:")}
            assert "provider:energo" in found and "provider:by_details" not in found
            stack.scan_port(terminal)("by_details")  # its bill still goes there
            terminal.pump()
            assert terminal.session.state == "confirmation" and terminal.session.provider.id == "by_details"
        finally:
            terminal.close()
            pygame.display.quit()
