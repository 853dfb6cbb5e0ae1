"""The running terminal (the composition root `kiosk run` starts) sends heartbeats to its dealer service when it is
enrolled — to a real `kiosk-dealer serve` process, enrolled with a one-time code — and stops them on shutdown."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from kiosk.app import Terminal


@pytest.mark.slow
def test_an_enrolled_terminal_reports_its_status_and_shows_online(config, tmp_path, wait):
    from provisioning.db import Database
    from provisioning.db.models import Heartbeat
    from provisioning.db.models import Terminal as DealerTerminal
    from provisioning.demo import DemoDealer
    from provisioning.settings import Settings

    state = tmp_path / "dealer"
    # A service process of its own; the terminal is enrolled into dealer-link/ next to its journal, as `kiosk
    # enroll` does by default. The dealer helper sends no heartbeats itself: only the terminal does.
    dealer = DemoDealer(state, config.terminal, "Test street 1", identity_dir=config.journal_path.parent / "dealer-link",
                        heartbeat=False).start()
    try:
        terminal = Terminal(config)
        terminal.start()
        try:
            loop = terminal.dealer_link
            assert loop is not None, "an enrolled terminal must start its heartbeat"
            assert loop._thread.name == "dealer-heartbeat" and loop._thread.is_alive()  # off the payment thread
            assert wait(lambda: loop.sent >= 1), loop.last_error
        finally:
            terminal.close()
        assert terminal.dealer_link is None and not loop._thread.is_alive()  # stopped with the terminal
        db = Database(Settings.load(state).db_url)
        try:
            with db.session() as session:
                row = session.scalar(select(DealerTerminal).where(DealerTerminal.number == config.terminal))
                assert row.online and row.status == "enrolled"
                payload = json.loads(session.scalars(select(Heartbeat).where(Heartbeat.terminal_id == row.id)
                                                     .order_by(Heartbeat.id.desc())).first().payload)
        finally:
            db.close()
        from kiosk import __version__

        assert payload["version"] == __version__ and payload["terminal"] == config.terminal
        assert payload["validator"]["kind"] == config.validator.kind and "online" in payload["validator"]
        assert payload["outbox_depth"] == 0 and payload["outbox_kopecks"] == 0 and payload["needs_attention"] == 0
        assert payload["last_operation"] == 0  # the journal's highest number: the service keeps the highest seen
        assert set(payload["gateways"]) == set(config.gateways) and "uptime_s" in payload
    finally:
        dealer.close()


def test_a_terminal_that_is_not_enrolled_starts_no_heartbeat(config):
    terminal = Terminal(config)
    terminal.start()
    try:
        assert terminal.dealer_link is None
    finally:
        terminal.close()


def test_an_unusable_identity_never_stops_the_terminal(config):
    folder = config.journal_path.parent / "dealer-link"
    folder.mkdir()
    for name in ("identity.pem", "ca.pem", "link.json"):
        (folder / name).write_text("garbage")
    terminal = Terminal(config)
    terminal.start()  # payments never depend on the dealer service
    try:
        assert terminal.dealer_link is None and terminal.session.fault is None
    finally:
        terminal.close()
