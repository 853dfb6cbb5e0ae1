"""A running terminal process takes a release signed with `kiosk-dealer release add`: its update agent (its own
thread) finds it over the authenticated link, installs it beside the running one, and the switch waits for the
session's pause between payments; every step reaches the dealer service."""

from __future__ import annotations

import io
from contextlib import redirect_stdout

import pytest
from sqlalchemy import select

from kiosk.app import Terminal
from kiosk.updates.health import updates_root
from kiosk.updates.releases import Releases
from tests.updates.helpers import fake_wheels


@pytest.mark.slow
def test_a_release_reaches_the_running_terminal_and_switches_between_payments(config, tmp_path, wait):
    from provisioning import cli
    from provisioning.db import Database
    from provisioning.db.models import Terminal as DealerTerminal
    from provisioning.demo import DemoDealer
    from provisioning.settings import Settings
    from provisioning.updates.models import UpdateStep

    state = tmp_path / "dealer"
    dealer = DemoDealer(state, config.terminal, "Test street 1", identity_dir=config.journal_path.parent / "dealer-link",
                        heartbeat=False).start()  # its update repository made, the terminal's root pinned
    try:
        wheels = fake_wheels(tmp_path / "dist", "9.9.9")
        with redirect_stdout(io.StringIO()):
            assert cli.main(["--state", str(state), "release", "add", *map(str, wheels), "--version", "9.9.9",
                             "--no-check"]) == 0
        terminal = Terminal(config)
        terminal.start()
        releases = Releases(updates_root(terminal))
        try:
            assert terminal.update_agent is not None and terminal.update_agent._thread.is_alive()
            assert wait(lambda: releases.complete("9.9.9"), 60), terminal.update_agent.last_error
            assert releases.current() is None  # installed, not switched: that happens on the UI thread
            assert wait(lambda: terminal.pump() or releases.current() == "9.9.9", 30)
            assert releases.state().pending["version"] == "9.9.9"
        finally:
            terminal.close()
        db = Database(Settings.load(state).db_url)
        try:
            with db.session() as session:
                row = session.scalar(select(DealerTerminal).where(DealerTerminal.number == config.terminal))
                steps = [s.step for s in session.scalars(select(UpdateStep).where(UpdateStep.terminal_id == row.id)
                                                        .order_by(UpdateStep.id))]
        finally:
            db.close()
        assert steps == ["checked", "downloading", "downloaded", "installed"]
    finally:
        dealer.close()
