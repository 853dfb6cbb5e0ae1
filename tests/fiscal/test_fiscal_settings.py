"""The dealer's fiscal data in terminal.toml and the fiscal receipt built from a payment: tags as FFD wants them."""

from __future__ import annotations

import dataclasses
from zoneinfo import ZoneInfo

import pytest
from fiscal_steps import committed

from kiosk.catalog import load_catalog
from kiosk.clock import ManualClock
from kiosk.config import load_config
from kiosk.emulators.payer_process import write_config
from kiosk.errors import ConfigError
from kiosk.fiscal import tlv
from kiosk.fiscal.demo_settings import make_fiscal
from kiosk.fiscal.port import TAX_NONE
from kiosk.fiscal.settings import fiscal_phone
from kiosk.fiscal.text import cp866
from kiosk.offline_queue.journal import Journal
from kiosk.receipt_fiscal import check_catalog, fiscal_receipt


@pytest.fixture
def path(tmp_path):
    return make_fiscal(write_config(tmp_path, gateway_mode="ok"), "/dev/ttyS0", baud=115200)


def rewrite(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_fiscal_printer_and_dealer_data_load(path):
    config = load_config(path)
    assert config.printer.kind == "fiscal" and config.printer.options == {"port": "/dev/ttyS0", "baud": 115200}
    fiscal = config.fiscal
    assert fiscal is not None
    assert (fiscal.agent_bits, fiscal.taxation_bits, fiscal.agent_phone) == (4, 2, "+78000000001")
    assert fiscal.operator_phones == ("+78000000002",) and fiscal.shift_hours == 23 and not fiscal.bank_agent


def test_a_fiscal_printer_without_fiscal_data_is_refused(path):
    rewrite(path, "[fiscal]", "[unused]")
    text = path.read_text(encoding="utf-8")
    path.write_text(text[:text.index("[unused]")], encoding="utf-8")
    with pytest.raises(ConfigError, match="fiscal: required table is missing: devices.printer.link = 'fiscal'"):
        load_config(path)


@pytest.mark.parametrize(("old", "new", "message"), [
    ('agent_sign = "paying_agent"', 'agent_sign = "payment_agent"', r"fiscal.agent_sign: expected one of"),
    ('taxation = "usn_income"', 'taxation = "usn"', r"fiscal.taxation: expected one of"),
    ('agent_phone = "+7 800 000-00-01"', 'agent_phone = "call us"', r"fiscal.agent_phone: expected a phone"),
    ('operator_phones = ["+7 800 000-00-02"]', 'operator_phones = ["12"]', r"fiscal.operator_phones\[0\]"),
    ('agent_sign = "paying_agent"', 'agent_sign = "bank_paying_agent"', r"fiscal.transfer_operator: required"),
    ('taxation = "usn_income"', 'taxation = "usn_income"\nshift_hours = 24', r"fiscal.shift_hours: expected at most"),
    ('taxation = "usn_income"', 'taxation = "usn_income"\nfee_item_name = "Fee €"', r"fiscal.fee_item_name: '€'"),
    ('taxation = "usn_income"', 'taxation = "usn_income"\nvat = 20', r"fiscal.vat: unknown key"),
])
def test_bad_fiscal_data_is_refused_naming_the_key(path, old, new, message):
    rewrite(path, old, new)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_a_bank_paying_agent_names_its_transfer_operator(path):
    rewrite(path, 'agent_sign = "paying_agent"', 'agent_sign = "bank_paying_agent"\n'
            'transfer_operator = { name = "АО Банк", inn = "7702070139", address = "Москва", phone = "8 495 1" }')
    with pytest.raises(ConfigError, match=r"fiscal.transfer_operator.phone: expected a phone"):
        load_config(path)
    rewrite(path, '"8 495 1"', '"8 495 123-45-67"')
    fiscal = load_config(path).fiscal
    assert fiscal is not None and fiscal.bank_agent and fiscal.operation == "Платеж"
    assert fiscal.transfer_operator is not None and fiscal.transfer_operator.phone == "+74951234567"


def test_phones_are_written_the_ffd_way():
    assert fiscal_phone("8 800 250-08-90") == "+78002500890"
    assert fiscal_phone("+7 (912) 345-67-89") == "+79123456789"
    with pytest.raises(ValueError):
        fiscal_phone("250-08-90")


def test_a_provider_phone_a_receipt_cannot_carry_is_named(path):
    config = load_config(path)
    catalog = load_catalog(config.catalog_path, config.currency)
    check_catalog(catalog, "catalog.toml")  # the demo catalog's phones are all fine
    mts = catalog.providers["mts"]
    broken = dataclasses.replace(catalog, providers={**catalog.providers, "mts": dataclasses.replace(mts, phone="?")})
    with pytest.raises(ConfigError, match=r"catalog.toml: providers.mts.phone: expected a phone"):
        check_catalog(broken, "catalog.toml")


@pytest.fixture
def operation(path):
    journal = Journal(path.parent / "journal.sqlite", "10001", "RUB", ManualClock(ZoneInfo("Europe/Moscow")).now)
    yield lambda fee=300: committed(journal, 15000, fee)
    journal.close()


def test_a_payment_is_one_agent_item_and_the_fee_another(path, operation):
    config = load_config(path)
    catalog = load_catalog(config.catalog_path, config.currency)
    mts = catalog.providers["mts"]
    receipt = fiscal_receipt(config, catalog, operation(), ("Терминал 10001", "Операция 7"))
    assert (receipt.kind, receipt.cash, receipt.taxation, receipt.total) == (1, 15000, 2, 15000)
    assert [t.tag for t in receipt.tags] == [tlv.AGENT_SIGN] and receipt.tags[0].number == 4  # FFD 1.05
    payment, fee = receipt.items
    assert (payment.price, payment.quantity_milli, payment.subject, payment.method, payment.tax) == (
        14700, 1000, 10, 4, TAX_NONE)
    assert payment.name == cp866(f"{mts.name['ru']}, л/с 9123456789")
    tags = {t.tag: t for t in payment.tags}
    assert tags[1222].number == 4
    assert tags[1226].text == mts.inn.ljust(12)
    agent = {t.tag: t.text for t in tags[1223].children()}
    assert agent == {1073: "+78000000001", 1074: "+78000000002"}
    supplier = {t.tag: t.text for t in tags[1224].children()}
    assert supplier == {1171: fiscal_phone(mts.phone), 1225: cp866(mts.name["ru"])}
    assert (fee.price, fee.subject, fee.method, fee.tax, fee.tags) == (300, 11, 4, TAX_NONE, ())
    assert fee.name == "Вознаграждение платёжного агента"
    assert receipt.header_lines == ("Терминал 10001", "Операция 7")
    # what goes on the wire decodes to the same tags
    assert tlv.decode(tlv.encode_all(payment.tags)) == payment.tags


def test_no_fee_means_no_fee_item_and_ffd_12_keeps_agent_data_per_item(path, operation):
    rewrite(path, 'taxation = "usn_income"', 'taxation = "usn_income"\nffd = "1.2"\nfee_item_agent_tags = true')
    config = load_config(path)
    catalog = load_catalog(config.catalog_path, config.currency)
    assert len(fiscal_receipt(config, catalog, operation(fee=0)).items) == 1
    receipt = fiscal_receipt(config, catalog, operation())
    assert receipt.tags == ()
    assert {t.tag for t in receipt.items[1].tags} == {1222, 1223, 1224, 1226}


def test_bank_paying_agent_data_goes_into_1223(path, operation):
    rewrite(path, 'agent_sign = "paying_agent"', 'agent_sign = "bank_paying_agent"\n'
            'transfer_operator = { name = "АО «Банк»", inn = "7702070139", address = "Москва, ул. Б, 1", '
            'phone = "8 495 123-45-67" }')
    config = load_config(path)
    catalog = load_catalog(config.catalog_path, config.currency)
    payment = fiscal_receipt(config, catalog, operation()).items[0]
    agent = {t.tag: t.text for t in {t.tag: t for t in payment.tags}[1223].children()}
    assert agent == {1044: "Платеж", 1073: "+78000000001", 1074: "+78000000002", 1075: "+74951234567",
                     1026: 'АО "Банк"', 1005: "Москва, ул. Б, 1", 1016: "7702070139  "}


def test_a_dealer_document_carries_the_fiscal_data_and_is_checked_the_same_way():
    from kiosk import config_document

    document = config_document.starter()
    document["fiscal"] = {"agent_sign": "paying_agent", "taxation": "osn", "agent_phone": "8 800 000-00-01"}
    config_document.check(document)
    document["fiscal"]["taxation"] = "vat"
    with pytest.raises(ConfigError, match=r"fiscal.taxation: expected one of"):
        config_document.check(document)


def test_a_dealer_document_with_fiscal_data_checks_the_catalog_phones():
    from kiosk import config_document

    document = config_document.starter()
    document["fiscal"] = {"agent_sign": "paying_agent", "taxation": "osn", "agent_phone": "8 800 000-00-01"}
    document["catalog"]["providers"][0]["phone"] = "ask at the counter"
    provider = document["catalog"]["providers"][0]["id"]
    with pytest.raises(ConfigError, match=rf"catalog.providers.{provider}.phone: expected a phone"):
        config_document.check(document)
    del document["fiscal"]
    config_document.check(document)  # a plain printer prints the phone as written
