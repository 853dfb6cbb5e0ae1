"""The heartbeat's report (issue 14): every key the fleet pages read, from a real terminal; and offline tolerance —
state changes noted while the dealer service is away are kept in a durable file (across a restart of the
terminal), reach a real `kiosk-dealer serve` process once it is back, are stored once, and then forgotten."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from kiosk.dealer_link.client import HeartbeatLoop
from kiosk.dealer_link.state_changes import MAX_KEPT, StateChanges
from kiosk.dealer_link.status import Reporter, identity_folder, watched_facts
from kiosk.drivers import validator as dv

# The keys common.md fixes for the fleet pages and alerts (the monitor engineer reads them).
FLEET_KEYS = {"version", "uptime_s", "validator", "printer", "paper", "cassette", "outbox_depth", "outbox_oldest_s",
              "outbox_kopecks", "needs_attention", "uncertain_bills", "last_payment_at", "free_disk_bytes",
              "clock_skew_s", "config_version", "theme", "locked", "last_operation", "events"}


def test_state_changes_are_noted_once_kept_across_a_restart_and_forgotten_when_acknowledged(tmp_path):
    path = tmp_path / "state-changes.json"
    changes = StateChanges(path)
    well = {"validator": ("validator_ok", ""), "service": ("in_service", ""), "printer": None,
            "encashment": (3, "service menu")}
    assert changes.observe(well) == []  # a terminal that starts well has nothing to report
    assert changes.observe(well) == []
    faulty = {**well, "validator": ("validator_fault", "Jammed"), "service": ("out_of_service", "Jammed")}
    noted = changes.observe(faulty, dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC))
    assert [(e["kind"], e["detail"]) for e in noted] == [("validator_fault", "Jammed"), ("out_of_service", "Jammed")]
    assert noted[0]["at"] == "2026-11-29T12:00:00+00:00"
    restarted = StateChanges(path)  # the terminal restarts: the changes and the last facts are still there
    assert restarted.pending() == noted
    assert restarted.observe(faulty) == []  # the same fault after the restart is not news
    back = restarted.observe({**well, "encashment": (4, "cassette removed")})
    assert [e["kind"] for e in back] == ["validator_ok", "in_service", "cassette_removed"]
    restarted.acknowledge(noted)
    assert [e["kind"] for e in StateChanges(path).pending()] == ["validator_ok", "in_service", "cassette_removed"]


def test_a_terminal_that_starts_faulty_reports_it_and_the_list_is_bounded(tmp_path):
    changes = StateChanges(tmp_path / "s.json", max_kept=20)
    assert [e["kind"] for e in changes.observe({"validator": ("validator_fault", "Disconnected")})] == [
        "validator_fault"]
    for n in range(25):
        changes.observe({"validator": ("validator_fault" if n % 2 else "validator_ok", "")})
    kept = StateChanges(tmp_path / "s.json").pending(limit=100)
    assert len(kept) == 20 and kept[-1]["kind"] == "validator_ok"  # the newest kept, the oldest dropped
    assert MAX_KEPT >= 20 * 50  # a real terminal keeps weeks of changes
    (tmp_path / "s.json").write_text("{not json")
    assert StateChanges(tmp_path / "s.json").pending() == []  # a damaged file never stops the link


def test_watched_facts_read_the_report():
    report = {"validator": {"online": False, "state": "disconnected", "detail": "no answer"}, "fault": None,
              "printer": "paper_out", "paper": "out", "locked": None}
    facts = watched_facts(report, "idle", {"id": 2, "at": "x", "reason": "cassette removed"})
    assert facts == {"validator": ("validator_fault", "no answer"), "service": ("in_service", ""),
                     "printer": ("printer_paper_out", ""), "paper": ("paper_out", ""), "lock": None,
                     "encashment": (2, "cassette removed")}


def test_the_report_counts_the_cassette_the_outbox_and_the_last_payment_from_the_journal(terminal, clock):
    from kiosk.dealer_link.status import terminal_status
    from kiosk.fees import NoFee
    from kiosk.money import Money

    journal = terminal.journal
    paid = journal.open_operation("mts", "9123456789", {}, 1_000_000)
    journal.record_bill(paid.operation, 100_000, "ccnet", "e1")
    journal.record_bill(paid.operation, 50_000, "ccnet", "e2")
    journal.commit(paid.operation, NoFee().split(Money(150_000)), "pay")
    journal.open_operation("mts", "9123456780", {}, 1_000_000)  # a payer still paying: no payment yet
    committed_at = dt.datetime.fromisoformat(journal.get(paid.operation).committed_at)
    report = terminal_status(terminal, now=committed_at.astimezone(dt.UTC) + dt.timedelta(seconds=90))
    assert report["cassette"]["count"] == 2 and report["cassette"]["kopecks"] == 150_000
    assert (report["outbox_depth"], report["outbox_kopecks"], report["outbox_oldest_s"]) == (1, 150_000, 90)
    assert report["last_payment_at"] == committed_at.astimezone(dt.UTC).isoformat()
    assert report["needs_attention"] == 0 and report["uncertain_bills"] == 0 and report["locked"] is False
    terminal.encash("cassette removed")
    assert terminal_status(terminal)["cassette"] == {"count": 0, "kopecks": 0, "capacity": None}


@pytest.mark.slow
def test_a_terminal_reports_every_fleet_key_and_replays_state_changes_after_being_offline(terminal, tmp_path):
    from provisioning.db import Database
    from provisioning.db.models import Terminal as DealerTerminal
    from provisioning.demo import DemoDealer
    from provisioning.link_events import TerminalEvent
    from provisioning.settings import Settings

    folder = identity_folder(terminal)
    dealer = DemoDealer(tmp_path / "dealer", terminal.config.terminal, "Test street 1", identity_dir=folder,
                        heartbeat=False).start()
    reporter = Reporter(terminal, StateChanges(folder / "state-changes.json"))
    loop = HeartbeatLoop(folder, status=reporter.status, on_reply=reporter.on_reply, watch=reporter.watch)
    try:
        assert loop.beat(), loop.last_error
        db = Database(Settings.load(tmp_path / "dealer").db_url)

        def row() -> DealerTerminal:
            with db.session() as session:
                found = session.scalar(select(DealerTerminal).where(DealerTerminal.number == terminal.config.terminal))
                assert found is not None
                return found

        try:
            report = json.loads(row().last_heartbeat)
            assert FLEET_KEYS - {"events"} <= set(report)  # events go to their own table
            assert report["cassette"] == {"count": 0, "kopecks": 0, "capacity": None}
            assert report["outbox_depth"] == 0 and report["outbox_oldest_s"] is None
            assert report["last_payment_at"] is None and report["free_disk_bytes"] > 0
            assert report["theme"] == terminal.config.screen.theme and report["uptime_s"] >= 0

            dealer.close()  # the service goes away; the terminal goes on and its state changes
            terminal.post(dv.Jammed("validator"))
            terminal.pump()
            reporter.watch()
            assert not loop.beat()  # missed heartbeats are not replayed…
            terminal.post(dv.Ready())
            terminal.pump()
            terminal.encash("cassette removed")
            # …the terminal restarts meanwhile: its reporter reads the changes back from the file
            reporter = Reporter(terminal, StateChanges(folder / "state-changes.json"))
            loop.status, loop.on_reply = reporter.status, reporter.on_reply
            reporter.watch()
            dealer.start()  # back (on new ports: the stored link is pointed at them)
            loop.link.close()
            loop.link = type(loop.link)(folder)
            assert loop.beat(), loop.last_error
            assert loop.beat(), loop.last_error  # nothing left to send: nothing stored twice
            with db.session() as session:
                stored = [(e.kind, e.detail) for e in session.scalars(
                    select(TerminalEvent).where(TerminalEvent.terminal_id == row().id).order_by(TerminalEvent.id))]
        finally:
            db.close()
        assert [kind for kind, _ in stored] == ["validator_fault", "out_of_service", "validator_ok", "in_service",
                                                "cassette_removed"]
        assert stored[0][1] == "Jammed" and stored[-1][1].endswith("cassette removed")
        assert reporter.changes.pending() == []
    finally:
        loop.link.close()
        dealer.close()
