"""Support's lookup over uploaded journals, on SQLite and PostgreSQL: every way a payer or a processing system names
a payment finds it, searches filter as asked, the needs-attention queue and encashment differences show, and the
story is the one the terminal tells."""

from __future__ import annotations

import json
from datetime import date
from zoneinfo import ZoneInfo

import pytest

from kiosk.clock import ManualClock
from kiosk.dealer_link.upload import open_reader, read_batch
from kiosk.emulators.payments import ROUTE, pay
from kiosk.money import Money
from kiosk.offline_queue.journal import Journal
from kiosk.offline_queue.operation import session_id
from kiosk.offline_queue.reader import JournalReader
from kiosk.receipt_format import qr_payload
from kiosk.story import from_journal
from provisioning import tenants
from provisioning.cli import main as dealer_main
from provisioning.journal import lookup
from provisioning.journal.ingest import store

TZ = ZoneInfo("Asia/Yekaterinburg")  # not Moscow: times must come out in the terminal's own zone


@pytest.fixture(scope="module")
def uploaded(database, tmp_path_factory) -> dict:
    """Terminal 20001 of dealer 'north' (zone UTC+5) with a delivered payment, one stuck in needs attention with an
    uncertain bill, and an encashment with a difference — uploaded by the terminal's own batch reader."""
    folder = tmp_path_factory.mktemp("lookup")
    clock = ManualClock(TZ)
    journal = Journal(folder / "journal.sqlite", "20001", "RUB", clock.now)
    delivered = pay(journal, clock, account="9123456789")
    stuck = pay(journal, clock, bills=(50000, 100000), account="9031234567", delivered=False, provider="beeline")
    second = journal.begin_attempt(stuck, ROUTE, "pay", session=session_id("20001", stuck, 424242))  # a new one
    journal.finish_attempt(second, "unknown", "timeout", "no reply in 30 s")
    journal.settle(stuck, state="needs_attention", attention_reason="unknown after 24 h: ask the gateway")
    journal.incident("uncertain_bill", "a bill stacked while the link was down", stuck, 10000)
    journal.encash("full", {10000: 1, 5000: 1, 50000: 1, 100000: 2})  # one 1000 ₽ bill more than journaled
    journal.close()
    with database.session() as session:
        dealer = tenants.create_dealer(session, "north", "North")
        terminal = tenants.add_terminal(session, dealer, "20001", "Lenina 5", "Asia/Yekaterinburg", "", "t")
        reader, after = open_reader(folder / "journal.sqlite"), 0
        while (batch := read_batch(reader, after, 7)).count:
            store(session.connection(), dealer.id, terminal.id, "20001",
                  {"format": 1, "terminal": "20001", "after": after, "last": batch.last, "rows": batch.rows})
            after = batch.last
        reader.close()
        ids = {"dealer": dealer.id, "terminal": terminal.id}
    reader = JournalReader(folder / "journal.sqlite")
    ids.update(delivered=delivered, stuck=stuck, reader=reader)
    yield ids
    reader.close()


def _numbers(found) -> list[tuple[str, int]]:
    return [(t.number, op.operation) for t, op in found]


def test_every_name_of_a_payment_finds_it(database, uploaded):
    delivered = uploaded["delivered"]
    op = uploaded["reader"].get(delivered)
    key, txn, session_text = op.request_ids()
    qr = qr_payload("20001", delivered, Money(15000, "RUB"), ManualClock(TZ).now())
    with database.session() as session:
        for text in (f"20001/{delivered}", f" 20001 {delivered} ", qr, key, str(txn), session_text,
                     f"prv{delivered}"):
            assert _numbers(lookup.find(session, uploaded["dealer"], text)) == [("20001", delivered)], text
        # the same number with another operation's nonce is not this payment; another dealer finds nothing
        other = uploaded["reader"].get(uploaded["stuck"]).request_ids()
        assert lookup.find(session, uploaded["dealer"], other[0].replace(f"{uploaded['stuck']:010d}",
                                                                         f"{delivered:010d}")) == []
        assert lookup.find(session, uploaded["dealer"] + 999, f"20001/{delivered}") == []
        # a SESSION minted after the centre forgot the first finds its payment too
        assert _numbers(lookup.find(session, uploaded["dealer"], session_id("20001", uploaded["stuck"], 424242))) \
            == [("20001", uploaded["stuck"])]
        assert lookup.find(session, uploaded["dealer"], "20001/999") == []


def test_searches_filter_by_account_phone_dates_amount_state_provider_gateway(database, uploaded):
    def found(**query) -> list[int]:
        with database.session() as session:
            return sorted(op.operation for _, op in lookup.search(
                session, uploaded["dealer"], lookup.Search(timezone="Asia/Yekaterinburg", **query)))

    both = sorted([uploaded["delivered"], uploaded["stuck"]])
    assert found(account="+7 (903) 123-45-67") == [uploaded["stuck"]]
    assert found(account="9123456789") == [uploaded["delivered"]]
    assert found(since=date(2026, 1, 15), until=date(2026, 1, 15)) == both  # local dates at the terminal
    assert found(since=date(2026, 1, 16)) == []
    assert found(amount=150000) == [uploaded["stuck"]] and found(amount=14700) == [uploaded["delivered"]]
    assert found(state="needs_attention") == [uploaded["stuck"]]
    assert found(provider="beeline") == [uploaded["stuck"]] and found(gateway="osmp") == [uploaded["delivered"]]


def test_the_attention_queue_and_encashment_differences(database, uploaded):
    with database.session() as session:
        [row] = lookup.attention(session, uploaded["dealer"])
        terminal = tenants.terminal_by_number(session, uploaded["dealer"], "20001")
        [encashment] = lookup.encashments(session, terminal)
    assert row["op"].operation == uploaded["stuck"] and "ask the gateway" in row["reason"]
    assert row["age"].total_seconds() > 0
    assert encashment["difference"] == {100000: 1} and encashment["row"].total == 165000


def test_the_service_tells_the_story_the_terminal_tells(database, uploaded, dealer_state, capsys):
    stuck = uploaded["stuck"]
    terminal_story = from_journal(uploaded["reader"], stuck)
    with database.session() as session:
        [(terminal, op)] = lookup.by_number(session, uploaded["dealer"], "20001", stuck)
        service_story = lookup.story(session, terminal, op)
    # one module builds both: the same facts line for line, only the source line differs
    assert terminal_story.lines()[1:] == service_story.lines()[1:]
    text = "\n".join(service_story.lines())
    assert "1500.00 RUB" in text and "bill 500.00 RUB stacked" in text and "bill 1000.00 RUB stacked" in text
    assert "(UTC+05:00)" in text and "attempt 1: pay at osmp → unknown" in text and "no reply in 30 s" in text
    assert f"attempt 2: pay at osmp [SESSION {session_id('20001', stuck, 424242)}] → unknown" in text
    assert "incident uncertain_bill [100.00 RUB]" in text and "uncertain bills and owed cash: 1" in text
    assert dealer_main(["--state", str(dealer_state.state_dir), "lookup", "--terminal", "20001", "--operation",
                        str(stuck), "--dealer", "north"]) == 0
    out = capsys.readouterr().out
    assert "dealer north, terminal 20001 (Lenina 5, Asia/Yekaterinburg)" in out and "booked: unknown" in out
    assert dealer_main(["--state", str(dealer_state.state_dir), "lookup", "--query", f"20001 {stuck}",
                        "--format", "json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["bills"] == [50000, 100000] and record["cash"] == 150000 and record["fee"] == 3000
    assert [v["state"] for v in record["versions"]] == ["needs_attention"]
    assert record["delivery_attempts"][0]["message"] == "no reply in 30 s"
    assert dealer_main(["--state", str(dealer_state.state_dir), "lookup", "--terminal", "20001", "--operation",
                        "999"]) == 1
    assert "nothing uploaded matches" in capsys.readouterr().err
    # support in Russian reads the same facts in Russian, on the terminal and at the service alike
    terminal_story.lang = "ru"
    with database.session() as session:
        russian = lookup.story(session, terminal, op, "ru")
    assert terminal_story.lines()[1:] == russian.lines()[1:]
    text = "\n".join(russian.lines())
    assert "купюра 500,00 руб. принята" in text and "попытка 1: pay в osmp → unknown" in text
    assert "происшествие uncertain_bill [100,00 руб.]" in text and "неясные купюры и долг плательщику: 1" in text


def test_reading_every_id_kind_back():
    assert lookup.understand("KIOSK1|T=10001|N=57|S=15000|D=20260115T120000+0300") == [lookup.Wanted("10001", 57)]
    assert lookup.understand("10001/57") == lookup.understand("10001 57") == [lookup.Wanted("10001", 57)]
    assert lookup.understand("T10001N1LR7HPJ")[0] == lookup.Wanted("10001", 57, "session:T10001N1LR7HPJ")
    assert lookup.understand("T10001-0000000057-349543")[0].operation == 57
    assert lookup.Wanted("10001", 57, "txn:1000134954300000057") in lookup.understand("1000134954300000057")
    assert lookup.understand("ABC-77")[-1] == lookup.Wanted(external_id="ABC-77") and lookup.understand(" ") == []



def test_the_command_line_searches_like_the_portal(dealer_state, uploaded, capsys):
    state = ["--state", str(dealer_state.state_dir), "lookup"]
    assert dealer_main([*state, "--account", "8 (903) 123-45-67", "--dealer", "north"]) == 0
    out, err = capsys.readouterr()
    assert f"20001/{uploaded['stuck']}" in out and "1500.00" in out and "1 payments found" in err
    assert dealer_main([*state, "--in-state", "needs_attention", "--amount", "1500", "--format", "json"]) == 0
    [record] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert record["operation"] == uploaded["stuck"] and record["dealer"] == "north" and record["cash"] == 150000
    assert dealer_main([*state, "--from", "2026-02-01", "--dealer", "north"]) == 1
    assert dealer_main([*state, "--from", "yesterday"]) == 2
