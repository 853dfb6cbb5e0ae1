"""A provider's daily registry on SQLite and PostgreSQL: the provider's local day in its zone, delivered payments
only, a utility payment's split by service and its meter readings on lines of their own, CSV in UTF-8 and
Windows-1251, XLSX read back with openpyxl, the archive keeping every build, and the CLI."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from registry_rig import DAY, add_profile, upload_history
from sqlalchemy import select

from provisioning.cli import main as dealer_main
from provisioning.registries import build as builder
from provisioning.registries.models import RegistryFile, RegistryProfile


@pytest.fixture(scope="module")
def history(database, tmp_path_factory) -> dict:
    with database.session() as session:
        found = upload_history(session, tmp_path_factory.mktemp("registries"), "water")
        add_profile(session, found["dealer"], encoding="windows-1251")
    return found


def _rows(content: bytes, encoding: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode(encoding), newline=""), delimiter=";"))


def test_the_registry_holds_the_providers_local_day_delivered_payments_only(database, history):
    with database.session() as session:
        file = builder.build(session, history["dealer"], "vodokanal", DAY, "csv", "test")
        rows = _rows(file.content, "windows-1251")
    operations = [int(r["operation"]) for r in rows]
    # 'before' is 10.03 in the terminal's Omsk but 09.03 in Moscow; 'unknown' was never delivered; 'after' is 11.03
    assert sorted(set(operations)) == sorted([history["plain"], history["utility"], history["late"]])
    plain = next(r for r in rows if int(r["operation"]) == history["plain"])
    assert plain == plain | {"terminal": "30001", "paid_at": "2026-03-10 10:00:00", "account": "1000000001",
                             "amount": "147.00", "fee": "3.00", "cash": "150.00",
                             "gateway_id": f"prv{history['plain']}", "service": "", "service_amount": ""}
    assert next(r for r in rows if int(r["operation"]) == history["late"])["paid_at"] == "2026-03-10 23:30:00"
    assert file.payments == 3 and file.amount == 14700 + 98000 + 49000 and file.fee == 300 + 2000 + 1000


def test_a_utility_payment_is_split_by_service_with_its_meter_readings(database, history):
    with database.session() as session:
        file = builder.build(session, history["dealer"], "vodokanal", DAY, "csv", "test")
        rows = [r for r in _rows(file.content, "windows-1251") if int(r["operation"]) == history["utility"]]
    assert [(r["service"], r["service_name"], r["service_amount"], r["meter"], r["unit"], r["previous"], r["value"])
            for r in rows] == [
        ("water_cold", "Холодное водоснабжение", "500.00", "123456", "m3", "123.45", "130.10"),
        ("water_hot", "Горячее водоснабжение", "480.00", "223344", "m3", "55.00", "57.25"),
        ("power", "", "", "998877", "kWh", "1000.5", "1100.0")]  # a reading of a service outside the split
    assert {r["amount"] for r in rows} == {"980.00"}
    assert sum(Decimal(r["service_amount"] or 0) for r in rows) == Decimal("980.00")  # adds up to the payment


def test_csv_encodings_differ_in_bytes_only(database, history):
    with database.session() as session:
        cp1251 = builder.build(session, history["dealer"], "vodokanal", DAY, "csv", "test").content
        profile = session.scalar(select(RegistryProfile).where(RegistryProfile.dealer_id == history["dealer"]))
        profile.encoding = "utf-8"
        session.flush()
        utf8 = builder.build(session, history["dealer"], "vodokanal", DAY, "csv", "test").content
        profile.encoding = "windows-1251"
    assert "Холодное".encode("cp1251") in cp1251 and "Холодное".encode() in utf8
    assert _rows(cp1251, "windows-1251") == _rows(utf8, "utf-8")
    assert cp1251.startswith(b"terminal;operation;paid_at;") and b"\r\n" in cp1251


def test_xlsx_reads_back_with_openpyxl(database, history):
    with database.session() as session:
        file = builder.build(session, history["dealer"], "vodokanal", DAY, "xlsx", "test")
        content = file.content
    book = load_workbook(io.BytesIO(content))
    sheet = book["registry"]
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0] == list(builder.COLUMNS)
    plain = next(v for v in values[1:] if v[1] == history["plain"])
    assert plain[:8] == ["30001", history["plain"], "2026-03-10 10:00:00", "1000000001", 147, 3, 150,
                         f"prv{history['plain']}"]
    assert sheet["E2"].number_format == "0.00"
    totals = {row[0].value: row[1].value for row in book["totals"].iter_rows()}
    assert totals["payments"] == 3 and Decimal(str(totals["amount"])) == Decimal("1617.00")


def test_every_build_is_kept_as_a_new_version(database, history):
    with database.session() as session:
        first = builder.build(session, history["dealer"], "vodokanal", DAY.replace(day=12), "csv", "test")
        second = builder.build(session, history["dealer"], "vodokanal", DAY.replace(day=12), "csv", "test")
        kept = session.scalars(select(RegistryFile).where(RegistryFile.dealer_id == history["dealer"],
                                                          RegistryFile.day == DAY.replace(day=12))).all()
    assert (first.version, second.version) == (1, 2) and second.file_name == "vodokanal_20260312_v2.csv"
    assert len(kept) == 2 and first.payments == 0 and _rows(first.content, "windows-1251") == []


def test_text_the_encoding_cannot_hold_is_refused_naming_the_line(database, history):
    with database.session() as session:
        found = builder.payments(session, history["dealer"], "vodokanal", DAY, builder.zone_of("Europe/Moscow"))
    found[0] = builder.Payment(**{**found[0].__dict__, "account": "acct-✓"})
    with pytest.raises(builder.RegistryError, match="line 2: '✓' cannot be written in windows-1251"):
        builder.render_csv(found, "windows-1251")
    with pytest.raises(builder.RegistryError, match="format 'pdf'"):
        builder.render(found, "pdf", "utf-8", "x")


def test_cli_builds_writes_and_lists(dealer_state, history, tmp_path, capsys):
    state = ["--state", str(dealer_state.state_dir)]
    out = tmp_path / "registry.xlsx"
    assert dealer_main([*state, "registry", "build", "--dealer", "water", "--provider", "vodokanal",
                        "--date", "2026-03-10", "--format", "xlsx", "--output", str(out)]) == 0
    assert "3 payments, 1617.00 credited" in capsys.readouterr().err
    assert load_workbook(out)["totals"]["B2"].value == 3
    assert dealer_main([*state, "registry", "list", "--dealer", "water", "--provider", "vodokanal"]) == 0
    listing = capsys.readouterr().out
    assert "vodokanal_20260310.xlsx" in listing and "\t2026-03-10\txlsx\t" in listing
    assert dealer_main([*state, "registry", "set", "--dealer", "water", "--provider", "vodokanal",
                        "--at", "25:00"]) == 2
    assert "time of day '25:00'" in capsys.readouterr().err
