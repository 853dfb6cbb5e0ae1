"""The confirmation screen: payee details from the check in the payer's words, and how to file a claim."""

from __future__ import annotations

from pathlib import Path

import pytest
from kiosk_ui import Driver, driven_ui

from kiosk.screens.confirmation import ConfirmationScreen, detail_label
from kiosk.screens.text import Msg
from kiosk.session import SessionView


@pytest.fixture
def kiosk(tmp_path: Path):
    with driven_ui(tmp_path) as driver:
        yield driver


def _rows(kiosk: Driver, details: dict[str, str]) -> dict[str, str]:
    """The screen's rows for a check with these details, as the painter of the UI's language shows them."""
    view = SessionView(state="confirmation", provider="energo", account="1234567890", details=details)
    painter = kiosk.ui.painter
    return {painter.resolve(label): painter.resolve(value) for label, value in
            ConfirmationScreen(kiosk.ui.ctx).rows(view)}


@pytest.mark.parametrize(("name", "msgid"), [("FIO", "Name"), ("fio", "Name"), ("name", "Name"),
                                             ("balance", "Balance"), ("Debt", "Debt"), ("address", "Address"),
                                             ("disp1", "Details"), ("DISP12", "Details")])
def test_gateway_detail_names_get_the_payers_words(name: str, msgid: str) -> None:
    assert detail_label(name) == Msg(msgid)


def test_unknown_detail_names_are_shown_as_the_gateway_sends_them() -> None:
    assert detail_label("contract_no") == "contract_no"
    assert detail_label("display") == "display"  # only disp followed by a number is a display line


def test_details_in_russian_with_amounts_as_money(kiosk: Driver) -> None:
    rows = _rows(kiosk, {"FIO": "Иванов И. И.", "balance": "2216.44", "debt": "-15,5", "disp1": "Тариф: 2.50 за кВт·ч",
                         "account_kind": "ЛС"})
    assert rows["ФИО"] == "Иванов И. И."
    assert rows["Баланс"] == "2\u00a0216,44\u00a0₽"
    assert rows["Задолженность"] == "-15,50\u00a0₽"
    assert rows["Сведения"] == "Тариф: 2.50 за кВт·ч"  # text around a number is not an amount
    assert rows["account_kind"] == "ЛС"


def test_the_virtual_gateways_subscriber_is_worded_in_the_screens_language(kiosk: Driver) -> None:
    # the gateway returns the account's last digits, not an English phrase (a Russian screen said "Subscriber 6789")
    assert _rows(kiosk, {"subscriber": "6789"})["ФИО"] == "Абонент 6789"
    kiosk.tap("lang")
    assert _rows(kiosk, {"subscriber": "6789"})["Name"] == "Subscriber 6789"


def test_details_in_english(kiosk: Driver) -> None:
    kiosk.tap("lang")
    rows = _rows(kiosk, {"name": "Subscriber 6789", "balance": "2216.44", "address": "Tverskaya 1"})
    assert rows["Name"] == "Subscriber 6789"
    assert rows["Balance"] == "RUB\u00a02,216.44"
    assert rows["Address"] == "Tverskaya 1"


def test_confirmation_says_how_to_file_a_claim_before_money_is_taken(kiosk: Driver) -> None:
    for action in ("start", "category:mobile", "provider:mts"):
        kiosk.tap(action)
    kiosk.type("9123456789")
    kiosk.tap("submit")
    assert kiosk.state == "confirmation"
    phone = kiosk.terminal.config.support_phone.replace(" ", "\u00a0")
    claims = f"Претензии принимаются по телефону поддержки {phone}"
    legal = [w for w in kiosk.ui.widgets.children if isinstance(getattr(w, "text", None), str) and claims in w.text]
    assert len(legal) == 1
    config = kiosk.terminal.config
    # the legal details sit in the secondary block with the claims line: agent, INNs, address
    for detail in (config.agent.name, config.agent.inn, config.agent.address,
                   kiosk.terminal.catalog.providers["mts"].inn):
        assert detail in legal[0].text
    table = next(w for w in kiosk.ui.widgets.children if type(w).__name__ == "Table")
    assert table.rect.bottom <= legal[0].rect.top  # right under the details, not over them
    labels = [kiosk.ui.painter.resolve(label) for label, _ in table.rows]
    assert labels[:1] == ["Получатель"] and {"Номер", "Комиссия", "Пределы"} <= set(labels)
