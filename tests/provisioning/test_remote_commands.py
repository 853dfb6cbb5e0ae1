"""Remote commands end to end: queued at a real dealer service (SQLite and PostgreSQL), long-polled by an in-process
terminal over its real signed mTLS link, run on the terminal's UI thread between payments, results reported."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pygame
import pytest
from command_rig import command, enrolled_terminal, finished, queue, result, turn_until
from sqlalchemy import event
from terminal_steps import to_cash

from kiosk import events as ev
from kiosk.app import Terminal
from kiosk.config import Part
from kiosk.dealer_link import command_poller
from kiosk.dealer_link.client import DealerLink
from kiosk.dealer_link.status import terminal_status
from kiosk.screens.ui import RESTART_EXIT, KioskUI
from provisioning import tenants
from provisioning.commands import bell, service
from provisioning.commands.models import Command
from provisioning.db.models import Terminal as DealerTerminal
from provisioning.server import DealerServer

PASSWORD = "commands test password"


@pytest.fixture(scope="module")
def server(dealer_state, database) -> Iterator[DealerServer]:
    with database.session() as session:
        dealer = tenants.create_dealer(session, "acme", "Acme Kiosks")
        tenants.add_user(session, dealer, "admin@acme.test", PASSWORD, "admin", "test")
    with DealerServer(dealer_state, periodic_tick=0.2) as running:
        yield running


@pytest.fixture
def kiosk(server, database, config, tmp_path, monkeypatch) -> Iterator[tuple[Terminal, KioskUI, int]]:
    """An enrolled terminal with a file printer, started (heartbeat and command loop), and its headless screen."""
    monkeypatch.setattr(command_poller, "KEEPALIVE", 0.3)  # the loop hangs up within this at close
    config = dataclasses.replace(config, printer=Part("printer", "file", {"path": str(tmp_path / "printer.bin")}))
    terminal_id = enrolled_terminal(server, database, config.journal_path.parent / "dealer-link")
    terminal = Terminal(config)
    terminal.start()
    ui = KioskUI(terminal, size=(800, 600))
    try:
        yield terminal, ui, terminal_id
    finally:
        terminal.close()
        pygame.display.quit()


def _step(ui: KioskUI):
    return lambda: ui.step(pygame.event.get())


def test_lock_shows_the_dealers_message_until_unlock(kiosk, server, database):
    terminal, ui, terminal_id = kiosk
    locked = queue(server, database, terminal_id, "lock", message="Closed for cleaning until 14:00")
    assert turn_until(_step(ui), finished(database, locked)), command(database, locked).state
    assert command(database, locked).state == "done"
    assert terminal.session.state == "out_of_service" and ui.screen.name == "out_of_service"
    assert ui.view.locked == "Closed for cleaning until 14:00"
    assert terminal_status(terminal)["locked"] is True  # what the next heartbeat tells the fleet page
    terminal.post(ev.Touch())  # a payer touching the screen gets nowhere
    ui.step([])
    assert terminal.session.state == "out_of_service"

    unlocked = queue(server, database, terminal_id, "unlock")
    assert turn_until(_step(ui), finished(database, unlocked))
    assert command(database, unlocked).state == "done" and result(database, unlocked)["locked"] is False
    assert terminal.session.state == "idle" and ui.view.locked is None and terminal_status(terminal)["locked"] is False


def test_a_lock_during_a_payment_waits_for_the_payment_to_end(kiosk, server, database):
    terminal, ui, terminal_id = kiosk
    operation = to_cash(terminal)
    terminal.validator.insert(10_000)
    locked = queue(server, database, terminal_id, "lock", message="Service visit")
    assert turn_until(_step(ui), lambda: command(database, locked).state == "delivered")
    turn_until(_step(ui), lambda: False, seconds=1.0)  # the terminal has it, and a payer is paying
    assert terminal.session.state == "cash_collection" and command(database, locked).state == "delivered"
    terminal.post(ev.Pay())
    assert turn_until(_step(ui), lambda: terminal.session.state == "receipt")
    assert command(database, locked).state == "delivered"  # the receipt screen is still the payer's
    terminal.post(ev.ReceiptTaken())
    assert turn_until(_step(ui), finished(database, locked))
    assert terminal.session.state == "out_of_service" and terminal.session.lock_message == "Service visit"
    assert terminal.journal.get(operation).cash == 10_000  # the payment itself was untouched


def test_screenshot_is_the_current_screen_as_png(kiosk, server, database):
    terminal, ui, terminal_id = kiosk
    shot = queue(server, database, terminal_id, "screenshot")
    assert turn_until(_step(ui), finished(database, shot))
    row = command(database, shot)
    assert row.state == "done" and row.attachment_type == "image/png"
    image = pygame.image.load(io.BytesIO(row.attachment), "shot.png")
    assert image.get_size() == (800, 600) == (result(database, shot)["width"], result(database, shot)["height"])
    assert image.get_at((400, 300)) == ui.surface.get_at((400, 300))


def test_reports_log_lines_encashment_and_a_test_receipt(kiosk, server, database, tmp_path):
    terminal, ui, terminal_id = kiosk
    logging.getLogger("kiosk.test").warning("a line the dealer will read")
    logs = queue(server, database, terminal_id, "log_tail", lines=5)
    report = queue(server, database, terminal_id, "encashment_report")
    receipt = queue(server, database, terminal_id, "test_receipt")
    sync = queue(server, database, terminal_id, "sync_now")
    for command_id in (logs, report, receipt, sync):
        assert turn_until(_step(ui), finished(database, command_id)), command_id
    lines = result(database, logs)["lines"]
    assert 1 <= len(lines) <= 5 and any("WARNING kiosk.test: a line the dealer will read" in line for line in lines)
    assert result(database, report)["cassette_kopecks"] == 0 and "encashments" in result(database, report)
    assert command(database, receipt).state == "done" and (tmp_path / "printer.bin").stat().st_size > 0
    # sync now pulls the pushed configuration at once (kiosk.dealer_link.config_sync): none is assigned here
    assert command(database, sync).state == "done" and result(database, sync)["outcome"] == "none"


def test_a_command_delivered_twice_runs_once_and_the_repeat_gets_the_same_result(kiosk, server, database,
                                                                                  tmp_path):
    terminal, ui, terminal_id = kiosk
    receipt = queue(server, database, terminal_id, "test_receipt")
    assert turn_until(_step(ui), finished(database, receipt))
    printed = (tmp_path / "printer.bin").stat().st_size
    first = command(database, receipt)
    # The service lost the answer (or the terminal's report never arrived): it hands the command out again.
    with database.session() as session:
        row = session.get(Command, receipt)
        row.state, row.result, row.finished_at = "delivered", "", None
        row.delivered_at = dt.datetime.now(dt.UTC) - service.REDELIVER_AFTER - dt.timedelta(seconds=1)
    server.app.state.command_bell.ring(terminal_id)
    assert turn_until(_step(ui), finished(database, receipt))
    again = command(database, receipt)
    assert again.deliveries == 2 and again.state == "done" and again.result == first.result
    assert (tmp_path / "printer.bin").stat().st_size == printed  # printed once
    poller = terminal.dealer_link.companions[0]
    assert poller.ran.count(receipt) == 1


def test_a_lock_survives_a_restart_of_the_terminal(server, database, config, monkeypatch):
    monkeypatch.setattr(command_poller, "KEEPALIVE", 0.3)
    terminal_id = enrolled_terminal(server, database, config.journal_path.parent / "dealer-link")
    terminal = Terminal(config)
    terminal.start()
    try:
        locked = queue(server, database, terminal_id, "lock", message="Moved to another street")
        assert turn_until(terminal.pump, finished(database, locked))
    finally:
        terminal.close()
    again = Terminal(config)
    again.start()  # locked again before its screen ever shows a payer anything
    try:
        assert again.session.state == "out_of_service" and again.session.lock_message == "Moved to another street"
        again.post(ev.Touch())
        again.pump()
        assert again.session.state == "out_of_service"
        unlocked = queue(server, database, terminal_id, "unlock")
        assert turn_until(again.pump, finished(database, unlocked))
        assert again.session.state == "idle"
    finally:
        again.close()


def test_restart_ends_the_screen_loop_with_the_restart_code_and_is_reported_done(kiosk, server, database):
    terminal, ui, terminal_id = kiosk
    terminal.request_exit = ui.request_exit  # as `kiosk run` wires it
    restart = queue(server, database, terminal_id, "restart")
    assert turn_until(_step(ui), lambda: ui.exit_code is not None)
    assert ui.exit_code == RESTART_EXIT
    terminal.close()  # what `kiosk run` does next; the outcome goes out on the way
    assert turn_until(lambda: None, finished(database, restart), seconds=10)
    assert command(database, restart).state == "done" and result(database, restart)["restarting"] is True


@pytest.mark.parametrize("reboot, state", [("sh -c 'echo rebooting > {out}'", "done"), ("false", "failed")])
def test_reboot_runs_the_configured_command(server, database, config, monkeypatch, tmp_path, reboot, state):
    monkeypatch.setattr(command_poller, "KEEPALIVE", 0.3)
    monkeypatch.setenv(command_poller.REBOOT_ENV, reboot.format(out=tmp_path / "rebooted"))
    terminal_id = enrolled_terminal(server, database, config.journal_path.parent / "dealer-link")
    terminal = Terminal(config)
    terminal.start()
    try:
        rebooted = queue(server, database, terminal_id, "reboot")
        assert turn_until(terminal.pump, finished(database, rebooted))
    finally:
        terminal.close()
    assert command(database, rebooted).state == state
    if state == "done":
        assert (tmp_path / "rebooted").read_text() == "rebooting\n"
    else:
        assert result(database, rebooted)["error"] == "reboot_failed"


def test_a_command_killed_half_way_is_reported_unknown_and_never_run_again(server, database, config_path, config,
                                                                         tmp_path):
    terminal_id = enrolled_terminal(server, database, config.journal_path.parent / "dealer-link")
    marker = tmp_path / "ran.txt"
    script = Path(__file__).parent / "command_terminal.py"

    def spawn() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, str(script), str(config_path), str(marker)],
                                stdout=subprocess.DEVNULL, stderr=open(tmp_path / "terminal.log", "ab"))

    first = spawn()
    try:
        receipt = queue(server, database, terminal_id, "test_receipt")
        assert turn_until(lambda: None, lambda: marker.exists() and receipt in marker.read_text(), seconds=60), \
            (tmp_path / "terminal.log").read_text()
        first.kill()  # SIGKILL in the middle of printing
        first.wait(10)
    finally:
        first.kill()
    assert command(database, receipt).state == "delivered"
    second = spawn()
    try:
        assert turn_until(lambda: None, finished(database, receipt), seconds=60), \
            (tmp_path / "terminal.log").read_text()
        reported = command(database, receipt)
        assert reported.state == "failed"
        assert result(database, receipt)["error"] == "interrupted" and result(database, receipt)["outcome"] == "unknown"
        assert marker.read_text().splitlines() == [receipt]  # started once, never again
    finally:
        second.terminate()
        assert second.wait(30) == 0


def test_the_long_poll_answers_at_once_when_a_command_is_queued_and_holds_no_connection_meanwhile(
        server, database, tmp_path):
    folder = tmp_path / "link"
    terminal_id = enrolled_terminal(server, database, folder)
    link = DealerLink(folder)
    path = f"{link.terminal_path}/commands"
    try:
        started = time.monotonic()
        assert link.request("GET", f"{path}?wait=1&keepalive=0.3", timeout=20)["commands"] == []
        assert 0.9 < time.monotonic() - started < 5  # nothing queued: empty when the wait ran out

        held: list[float] = []  # how long each database connection was out of the server's pool

        def checkout(dbapi_connection, record, proxy) -> None:  # noqa: ANN001
            record.info["out_at"] = time.monotonic()

        def checkin(dbapi_connection, record) -> None:  # noqa: ANN001
            held.append(time.monotonic() - record.info.pop("out_at", time.monotonic()))

        event.listen(server.db.engine, "checkout", checkout)
        event.listen(server.db.engine, "checkin", checkin)
        replies: list[dict] = []
        waiting = threading.Thread(target=lambda: replies.append(link.request("GET", f"{path}?wait=30", timeout=60)))
        waiting.start()
        try:
            assert turn_until(lambda: None, lambda: server.app.state.command_bell._waiters.get(terminal_id), 10)
            time.sleep(1.5)  # the poll waits; a connection held meanwhile would show as out for this long
            # Queued straight into the database, as another server would: PostgreSQL's NOTIFY wakes the poll at
            # once; on SQLite the poll looks again within its recheck interval.
            with database.session() as session:
                queued = service.queue(session, session.get(DealerTerminal, terminal_id), "screenshot", {}, "t",
                                       dt.datetime.now(dt.UTC)).id
            queued_at = time.monotonic()
        finally:
            waiting.join(30)
            event.remove(server.db.engine, "checkout", checkout)
            event.remove(server.db.engine, "checkin", checkin)
        latency = time.monotonic() - queued_at
        assert held and max(held) < 1.4, held  # each look at the database is short; none spans the 1.5 s wait
        assert [c["id"] for c in replies[0]["commands"]] == [queued]
        # far below PostgreSQL's recheck (10 s): NOTIFY woke it; on SQLite within the recheck (slack for a busy box)
        assert latency < (2.0 if database.is_postgresql else bell.RECHECK_SQLITE + 2.0), latency
        assert command(database, queued).state == "delivered"
    finally:
        link.close()
