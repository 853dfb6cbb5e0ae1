"""Reconciliation on SQLite and PostgreSQL: our own registry read back matches itself; a processing system's
Windows-1251 registry (its own column names, comma decimals, its date format) is matched by id, by terminal and
operation, or by account + amount within the time window, and every kind of discrepancy is reported with links;
a malformed file is refused line by line and nothing of it is kept."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from registry_rig import DAY, add_profile, upload_history
from sqlalchemy import func, select

from provisioning.cli import main as dealer_main
from provisioning.registries import build as builder
from provisioning.registries.importer import ImportFormat, ImportRejected
from provisioning.registries.models import ReconcileRun
from provisioning.registries.reconcile import correction_link, reconcile, story_link

THEIRS = ImportFormat(delimiter=";", encoding="windows-1251", amount_unit="roubles", time_format="%d.%m.%Y %H:%M",
                      columns={"external_id": "Номер платежа", "account": "Лицевой счёт", "amount": "Сумма",
                               "time": "Дата"})


@pytest.fixture(scope="module")
def history(database, tmp_path_factory) -> dict:
    with database.session() as session:
        found = upload_history(session, tmp_path_factory.mktemp("reconcile"), "recon")
        add_profile(session, found["dealer"], import_format=THEIRS.to_json())
    return found


def _runs(database, dealer: int) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(ReconcileRun).where(ReconcileRun.dealer_id == dealer))


def test_our_own_registry_read_back_matches_with_no_discrepancy(database, history):
    with database.session() as session:
        ours = builder.build(session, history["dealer"], "vodokanal", DAY, "csv", "test").content
        run = reconcile(session, history["dealer"], "vodokanal", DAY, ours, "ours.csv", "test", ImportFormat())
    # the utility payment's three lines (one per service) are one payment
    assert (run.rows, run.matched, run.discrepancies) == (3, 3, 0)


def test_a_windows_1251_registry_is_matched_and_each_discrepancy_reported(database, history):
    h = history
    text = ("Номер платежа;Лицевой счёт;Сумма;Дата\r\n"
            f"prv{h['plain']};1000000001;147,00;10.03.2026 10:00\r\n"         # matched by the gateway's id
            f"prv{h['utility']};1000000002;970,00;10.03.2026 12:01\r\n"       # they booked 10 ₽ less
            ";1000000003;196,00;10.03.2026 14:03\r\n"                          # booked there: unknown here
            "prv999999;1000000099;50,00;10.03.2026 15:00\r\n"                 # nothing of ours
            f"prv{h['before']};1000000000;98,00;10.03.2026 00:10\r\n"         # ours is of the 9th (Moscow)
            "\r\n")                                                            # a blank line is no payment
    with database.session() as session:
        run = reconcile(session, h["dealer"], "vodokanal", DAY, text.encode("cp1251"), "theirs.csv", "test")
        report = __import__("json").loads(run.report)
    assert (report["matched"], report["matched_ours"], report["theirs_rows"]) == (2, 14700 + 9800, 5)
    assert [(m["operation"], m["ours"], m["theirs"], m["line"]) for m in report["mismatches"]] == [
        (h["utility"], 98000, 97000, 3)]
    assert [(m["operation"], m["state"] != "delivered") for m in report["not_booked_here"]] == [(h["unknown"], True)]
    assert [(m["external_id"], m["theirs"], m["line"]) for m in report["missing_ours"]] == [("prv999999", 5000, 5)]
    assert [m["operation"] for m in report["missing_theirs"]] == [h["late"]]
    assert [m["operation"] for m in report["other_day"]] == [h["before"]]
    assert run.discrepancies == 4


def test_matching_by_terminal_and_operation_in_kopecks_without_a_header(database, history):
    h = history
    fmt = ImportFormat(delimiter=",", header=False, amount_unit="kopecks",
                       columns={"terminal": "1", "operation": "2", "amount": "3"})
    text = "".join(f"30001,{h[name]},{amount}\n" for name, amount in
                   (("plain", 14700), ("utility", 98000), ("late", 49000)))
    with database.session() as session:
        run = reconcile(session, h["dealer"], "vodokanal", DAY, text.encode(), "t.csv", "test", fmt)
    assert (run.matched, run.discrepancies) == (3, 0)


def test_their_amount_may_be_the_cash_taken(database, history):
    fmt = ImportFormat(header=False, amount_is="cash", columns={"external_id": "1", "amount": "2"})
    text = f"prv{history['plain']};150.00\nprv{history['late']};490.00\n"
    with database.session() as session:
        run = reconcile(session, history["dealer"], "vodokanal", DAY, text.encode(), "cash.csv", "test", fmt)
        report = __import__("json").loads(run.report)
    assert run.matched == 1 and [(m["operation"], m["ours"], m["theirs"]) for m in report["mismatches"]] == [
        (history["late"], 50000, 49000)]


def test_account_and_amount_match_only_within_the_time_window(database, history):
    fmt = ImportFormat(columns={"account": "account", "amount": "amount", "time": "time"}, window_minutes=5,
                       time_format="%Y-%m-%dT%H:%M")
    near = "account;amount;time\n1000000001;147.00;2026-03-10T10:04\n"
    far = "account;amount;time\n1000000001;147.00;2026-03-10T10:06\n"
    with database.session() as session:
        assert reconcile(session, history["dealer"], "vodokanal", DAY, near.encode(), "n", "t", fmt).matched == 1
        assert reconcile(session, history["dealer"], "vodokanal", DAY, far.encode(), "f", "t", fmt).matched == 0


def test_a_malformed_file_is_refused_line_by_line_and_nothing_is_kept(database, history):
    before = _runs(database, history["dealer"])
    text = ("Номер платежа;Лицевой счёт;Сумма;Дата\r\n"
            "prv1;1000000001;147,00;10.03.2026 10:00\r\n"
            "prv2;1000000002;сто;10.03.2026 10:00\r\n"
            "prv3;1000000003;1,234;10.03.2026 10:00\r\n"
            "prv4;1000000004;12,00;2026-03-10\r\n"
            "prv5;1000000005\r\n")
    with database.session() as session, pytest.raises(ImportRejected) as refused:
        reconcile(session, history["dealer"], "vodokanal", DAY, text.encode("cp1251"), "bad.csv", "test")
    assert [str(e) for e in refused.value.errors] == [
        "line 3, column Сумма: 'сто' is not an amount in roubles like 123.45",
        "line 4, column Сумма: '1,234' is not an amount in roubles like 123.45",
        "line 5, column Дата: '2026-03-10' does not match the time format %d.%m.%Y %H:%M",
        "line 6, column Сумма: missing: the line has only 2 fields",
        "line 6, column Дата: missing: the line has only 2 fields"]
    with database.session() as session, pytest.raises(ImportRejected, match="line 1, column Сумма: no such column"):
        reconcile(session, history["dealer"], "vodokanal", DAY, "Номер платежа;Итого\r\n".encode("cp1251"), "h", "t")
    with database.session() as session, pytest.raises(ImportRejected, match="line 2: byte 0x.. is not windows-1251"):
        reconcile(session, history["dealer"], "vodokanal", DAY,
                  "Номер платежа;Лицевой счёт;Сумма;Дата\r\n".encode("cp1251") + b"\x98;1;1;1\r\n", "b", "t")
    assert _runs(database, history["dealer"]) == before


def test_links_lead_to_the_story_and_to_a_correction():
    assert story_link("30001", 7) == "/lookup?q=30001%2F7"
    query = parse_qs(urlsplit(correction_link("30001", 7, "reconciliation: amounts differ")).query)
    assert query == {"terminal": ["30001"], "operation": ["7"], "note": ["reconciliation: amounts differ"]}


def test_cli_reconciles_and_exits_1_on_discrepancies(dealer_state, history, tmp_path, capsys):
    h = history
    theirs = tmp_path / "theirs.csv"
    theirs.write_bytes(("Номер платежа;Лицевой счёт;Сумма;Дата\r\n"
                        f"prv{h['plain']};1000000001;147,00;10.03.2026 10:00\r\n"
                        f"prv{h['utility']};1000000002;980,00;10.03.2026 12:00\r\n").encode("cp1251"))
    state = ["--state", str(dealer_state.state_dir)]
    assert dealer_main([*state, "reconcile", "--dealer", "recon", "--provider", "vodokanal", "--date",
                        "2026-03-10", str(theirs)]) == 1
    out = capsys.readouterr().out
    assert "matched: 2" in out and f"only in ours: terminal 30001 operation {h['late']}  ours 490.00" in out
    theirs.write_bytes(b"\xff\xfe")
    assert dealer_main([*state, "reconcile", "--dealer", "recon", "--provider", "vodokanal", "--date",
                        "2026-03-10", str(theirs)]) == 1
    assert "refused, nothing imported" in capsys.readouterr().err
