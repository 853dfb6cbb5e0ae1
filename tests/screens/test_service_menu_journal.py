"""Issue 9 in the service menu: the measured clock skew (defect 5) and accepting a new journal (defect 8)."""

from __future__ import annotations

from pathlib import Path

import pytest
from kiosk_ui import Driver, driven_ui

from kiosk.demo_config import demo_config
from kiosk.screens.panels import Table
from kiosk.screens.service import REFUSING, SKEW_BEYOND
from kiosk.screens.text import Msg


def _table(kiosk: Driver) -> Table:
    (table,) = [w for w in kiosk.ui.widgets.children if isinstance(w, Table)]
    return table


def _row(kiosk: Driver, label: str) -> tuple[int, Msg]:
    """(index, value) of the open section's row with this label."""
    ((index, value),) = [(n, value) for n, (key, value) in enumerate(_table(kiosk).rows)
                         if isinstance(key, Msg) and key.msgid == label]
    return index, value


def _open_status(kiosk: Driver) -> None:
    kiosk.tap("service-menu")
    kiosk.tap("section:status")


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_the_service_menu_shows_the_clock_skew_and_highlights_it_beyond_the_limit(tmp_path: Path, lang: str) -> None:
    with driven_ui(tmp_path, lang=lang) as kiosk:
        kiosk.login()
        kiosk.tap("section:status")
        _, unknown = _row(kiosk, "Clock")
        assert unknown.msgid == "Not measured yet: no processing system has answered"
        kiosk.terminal.journal.record_clock_skew("mts", 12.4)
        _open_status(kiosk)
        index, skew = _row(kiosk, "Clock")
        assert skew == Msg("{seconds} s against {source}, {when}", seconds="+12", source="mts", when="15.01 12:00")
        assert index not in _table(kiosk).alerts
        kiosk.terminal.journal.record_clock_skew("mts", -700.0)
        _open_status(kiosk)
        index, skew = _row(kiosk, "Clock")
        assert skew.msgid == SKEW_BEYOND and (skew.values["seconds"], skew.values["limit"]) == ("-700", "60")
        assert index in _table(kiosk).alerts  # drawn in the danger colour
        shown = kiosk.ui.painter.resolve(skew)
        assert "-700" in shown and "mts" in shown and "60" in shown
        assert ("beyond" in shown) == (lang == "en")  # each language in its own words


def test_a_lost_journal_is_accepted_through_the_service_screen_and_money_is_taken_again(tmp_path: Path) -> None:
    journal = demo_config(tmp_path).journal_path
    journal.parent.mkdir(parents=True, exist_ok=True)
    journal.with_name(journal.name + ".opseq").write_text("7 7\n")  # operations existed: the journal is gone
    with driven_ui(tmp_path) as kiosk:
        assert kiosk.ui.screen.name == "out_of_service"
        kiosk.login()
        assert kiosk.ui.screen.name == "service"
        assert "section:journal" in kiosk.ui.targets()  # offered first on the menu while money is refused
        kiosk.tap("section:journal")
        index, why = _row(kiosk, "Journal")
        assert why.msgid == REFUSING and "history is gone" in why.values["reason"]
        assert index in _table(kiosk).alerts
        kiosk.tap("do:accept")
        assert kiosk.terminal.journal.refusal() is not None  # one press only asks "are you sure?"
        kiosk.tap("do:accept-yes")
        assert kiosk.terminal.journal.refusal() is None
        accepted = [i for i in kiosk.terminal.journal.incidents() if i["kind"] == "journal_accepted"]
        assert len(accepted) == 1 and "service PIN holder" in accepted[0]["detail"]
        assert _row(kiosk, "Journal")[1] == Msg("Taking money")
        assert "do:accept" not in kiosk.ui.targets() and "do:accept-yes" not in kiosk.ui.targets()
        kiosk.tap("service-exit")
        assert kiosk.state == "idle" and kiosk.ui.screen.name == "attract"
        kiosk.to_cash()
        kiosk.insert(100)
        assert kiosk.terminal.session.view().cash == 10000
        assert kiosk.terminal.journal.last_operation().operation == 8  # numbering continues past the lost history
