"""Charge registry files: CSV in UTF-8 or Windows-1251 with `;` or `,`, XLSX, and row-level errors naming line and
column (docs/charge-registry.md)."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest

from provisioning.charges.parse import RegistryRefused, parse

SAMPLE = Path(__file__).parents[2] / "provisioning" / "data" / "charge-registry-sample.csv"
HEADER = "account;period;payer;address;service;service_name;charge;debt;meter;meter_name;unit;previous;previous_date"


def _refused(text: str, filename: str = "r.csv", encoding: str = "utf-8") -> list[str]:
    with pytest.raises(RegistryRefused) as caught:
        parse(filename, text.encode(encoding))
    return [str(e) for e in caught.value.errors]


def test_the_documented_sample_reads_into_accounts_services_and_meters():
    registry = parse(SAMPLE.name, SAMPLE.read_bytes())
    assert registry.period == "102026" and registry.period_key == 202610
    first, second = registry.accounts
    assert (first.account, first.payer, first.address) == ("1000234567", "Иванов И. И.", "ул. Ленина, 1, кв. 2")
    assert [(s["service"], s["amount"]) for s in first.services] == [
        ("water_cold", 45600), ("water_hot", 102460), ("electricity", 65000), ("maintenance", 120000)]
    assert first.services[1]["charge"] == 81230  # this period's charge; the debt includes arrears
    assert first.debt == 45600 + 102460 + 65000 + 120000
    assert [(m["meter"], m["service"], m["unit"], m["previous"], m["previous_date"]) for m in first.meters] == [
        ("123456", "water_cold", "m3", "123.45", "2026-10-25"), ("223344", "water_hot", "m3", "56.1", "2026-10-25"),
        ("E-77", "electricity", "kWh", "10234.5", "2026-10-25"), ("E-78", "electricity", "kWh", "4012", "2026-10-25")]
    assert second.debt == 234567 - 15000  # an overpaid service counts against the rest
    assert registry.total == first.debt + second.debt


def test_windows_1251_with_commas_reads_the_same_as_utf8_with_semicolons():
    commas = 'account,period,payer,service,service_name,debt\r\n555,10.2026,"Сидоров, П.",gas,Газоснабжение,"1 234,50"'
    semicolons = "\ufeffaccount;period;payer;service;service_name;debt\n555;102026;Сидоров, П.;gas;Газоснабжение;1 234,50"
    for registry in (parse("r.csv", commas.encode("cp1251")), parse("r.csv", semicolons.encode())):
        (account,) = registry.accounts
        assert registry.period == "102026"
        assert (account.payer, account.services[0]["name"], account.debt) == ("Сидоров, П.", "Газоснабжение", 123450)


def test_xlsx_cells_of_every_type_read_as_the_csv_would():
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["account", "period", "service", "debt", "meter", "unit", "previous", "previous_date"])
    sheet.append([1000234567, "102026", "water_cold", 12.3, "M1", "м3", 123.45, date(2026, 10, 25)])
    sheet.append(["1000234567", 102026, "heating", "1 000,05", None, None, None, None])
    data = io.BytesIO()
    book.save(data)
    registry = parse("r.xlsx", data.getvalue())
    (account,) = registry.accounts
    assert account.account == "1000234567" and account.debt == 1230 + 100005
    assert account.meters == [{"meter": "M1", "name": "M1", "service": "water_cold", "unit": "m3",
                               "previous": "123.45", "previous_date": "2026-10-25"}]


def test_every_bad_value_is_reported_with_its_line_and_column():
    errors = _refused("\n".join([
        "account;period;service;debt;meter;unit;previous;previous_date",
        "1;102026;water;10,00;;;;",
        "2;102026;water;12,3x;;;;",
        "3 3;102026;water;1;;;;",
        "4;132026;water;1;;;;",
        "5;102026;water;1;M;litres;-5;2026-13-01",
    ]))
    assert errors == [
        "line 3, column debt: '12,3x' is not an amount (roubles, e.g. 1234.56 or 1 234,56)",
        "line 4, column account: '3 3' is not an account (1-40 letters, digits, . _ / -)",
        "line 5, column period: '132026' is not a period (MMYYYY, e.g. 102026)",
        "line 6, column unit: 'litres' is not a unit; one of m3, kWh",
        "line 6, column previous: '-5' is not a meter reading (e.g. 123.45, not negative)",
        "line 6, column previous_date: '2026-13-01' is not a date (YYYY-MM-DD or DD.MM.YYYY)",
    ]


def test_the_header_must_name_known_columns_and_every_required_one():
    errors = _refused("account;period;service;debit\n1;102026;water;1\n")
    assert errors[0].startswith("line 1, column debit: unknown column; the columns are: account, period, service, debt")
    assert errors[1] == "line 1, column debt: the required column is missing"


def test_one_registry_holds_one_period():
    errors = _refused(f"{HEADER}\n1;102026;;;gas;;;1;;;;;\n2;112026;;;gas;;;1;;;;;\n")
    assert errors == ["line 3, column period: '112026' differs from the registry's period '102026' (line 2): "
                      "one registry holds one period"]


def test_a_service_gives_its_amounts_once_and_further_lines_carry_only_meters():
    errors = _refused("\n".join([
        "account;period;service;debt;meter;unit;previous",
        "1;102026;power;100;E1;kWh;10",
        "1;102026;power;;E2;kWh;20",  # a second meter: fine
        "1;102026;power;5;;;",  # the amount again: refused
        "1;102026;power;;E2;kWh;30",  # the same meter again: refused
        "2;102026;power;;E9;kWh;1",  # the first line of a service without its debt: refused
    ]))
    assert errors == [
        "line 4, column debt: service 'power' of this account is on line 2 already; a further line of it carries "
        "one more meter and no amounts",
        "line 5, column meter: meter 'E2' is listed twice for this account",
        "line 6, column debt: the first line of a service must give its debt",
    ]


def test_payer_and_address_may_be_left_out_on_later_lines_but_never_contradicted():
    errors = _refused(f"{HEADER}\n1;102026;Иванов;ул. А;gas;;;1;;;;;\n1;102026;Петров;;power;;;1;;;;;\n")
    assert errors == ["line 3, column payer: 'Петров' differs from line 2's 'Иванов' for the same account"]


def test_empty_files_extra_fields_and_fake_workbooks_are_refused_with_a_reason():
    assert _refused("") == ["line 1: the file is empty: a header line is expected"]
    assert _refused("account;period;service;debt\n") == ["line 0: the registry has no accounts"]
    assert _refused("account;period;service;debt\n1;102026;gas;1;extra\n") == [
        "line 2: 5 fields, the header names 4"]
    assert _refused("account;period", filename="r.xlsx") == [
        "line 0: the file is named .xlsx but is not an XLSX workbook"]
    assert _refused("PK\x03\x04 broken")[0].startswith("line 0: not a readable XLSX workbook")


def test_errors_are_capped_and_the_rest_counted():
    lines = ["account;period;service;debt"] + [f"{n};102026;gas;x" for n in range(250)]
    with pytest.raises(RegistryRefused) as caught:
        parse("r.csv", "\n".join(lines).encode())
    assert len(caught.value.errors) == 200 and caught.value.more == 50


def test_reading_stops_at_the_line_limit(monkeypatch):
    from provisioning.charges import parse as module

    monkeypatch.setattr(module, "MAX_LINES", 3)
    lines = ["account;period;service;debt"] + [f"{n};102026;gas;1" for n in range(5)]
    with pytest.raises(RegistryRefused) as caught:
        parse("r.csv", "\n".join(lines).encode())
    assert [str(e) for e in caught.value.errors] == ["line 4: the registry has more than 3 lines"]
