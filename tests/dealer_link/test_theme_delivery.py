"""A theme pack the dealer assigns reaches the terminal over its authenticated link — a real `kiosk-dealer serve`
process, the terminal enrolled with a one-time code — is checked again by the terminal, installed beside the
journal, and shown only once the payment on screen is over; a pack the terminal refuses changes nothing."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from kiosk import events as ev
from kiosk.app import Terminal
from kiosk.dealer_link.status import terminal_status
from kiosk.dealer_link.themes import ThemeSync
from kiosk.screens.theme import THEMES_DIR
from kiosk.screens.theme_pack import ThemePackError, check_pack, pack_folder
from kiosk.theme_choice import ThemeChoice
from tests.terminal_steps import act, to_cash


@pytest.mark.slow
def test_an_assigned_pack_arrives_checked_and_shows_only_between_payments(config, tmp_path):
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    from kiosk.screens.ui import KioskUI
    from provisioning.db import Database
    from provisioning.db.models import Terminal as DealerTerminal
    from provisioning.demo import DemoDealer
    from provisioning.settings import Settings
    from provisioning.themes import service
    from provisioning.themes.models import TerminalTheme, ThemePackRow

    dealer = DemoDealer(tmp_path / "dealer", config.terminal, "Test street 1",
                        identity_dir=config.journal_path.parent / "dealer-link", heartbeat=False).start()
    db = Database(Settings.load(tmp_path / "dealer").db_url)
    terminal = Terminal(config)
    try:
        terminal.start()
        ui = KioskUI(terminal, size=(800, 600), clock=lambda: 0.0)
        sync = next(c for c in terminal.dealer_link.companions if isinstance(c, ThemeSync))
        assert sync._thread.name == "dealer-themes" and sync._thread.is_alive()  # off the payment thread
        shown = ui.themes.current.id

        # a payer is at the cash screen with money inside when the dealer assigns a pack
        to_cash(terminal)
        terminal.validator.insert(10000)
        act(terminal)
        data = pack_folder(THEMES_DIR / "high-contrast")
        with db.session() as session:
            row = session.scalar(select(DealerTerminal).where(DealerTerminal.number == config.terminal))
            prepared = service.Prepared("brand", data, check_pack(data), {})
            pack = service.store(session, row.dealer_id, prepared, "test")
            assert service.assign(session, row.dealer_id, row.id, pack.id, "test")
            terminal_id, dealer_id = row.id, row.dealer_id
        result = sync.sync_now()
        name = result["theme"]
        assert result["changed"] and name.startswith("brand-")
        assert (terminal.theme.folder / name / "manifest.toml").is_file()  # installed at once, shown later
        act(terminal)
        assert terminal.session.state == "cash_collection"
        assert ui.themes.current.id == shown and terminal_status(terminal)["theme"] == shown  # not mid-payment

        act(terminal, ev.Pay())
        act(terminal, ev.ReceiptTaken())
        assert terminal.session.state == "idle"
        assert ui.themes.current.id == name and ui.themes.current.name["en"] == "High contrast"
        assert terminal_status(terminal)["theme"] == name

        # asked again, the terminal has it: nothing is sent, and the service records it as shown
        assert sync.sync_now() == {"theme": name, "changed": False}
        with db.session() as session:
            assert session.get(TerminalTheme, terminal_id).applied_at is not None

        # a pack that does not pass the terminal's own check (stored around the service's) changes nothing
        with db.session() as session:
            bad = ThemePackRow(dealer_id=dealer_id, slug="broken", sha256="0" * 64, size=3, data=b"PK!",
                               uploaded_by="test")
            session.add(bad)
            session.flush()
            session.get(TerminalTheme, terminal_id).pack_id = bad.id
        with pytest.raises(ThemePackError):
            sync.sync_now()
        act(terminal)
        assert ui.themes.current.id == name and terminal.theme.assigned["folder"] == name

        # after a restart the delivered pack is on screen before the link is up
        assert ThemeChoice(terminal.theme.folder, config.screen.theme).wanted() == name
    finally:
        terminal.close()
        db.close()
        dealer.close()
