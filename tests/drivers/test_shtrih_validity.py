"""FF03, the fiscal drive's validity date: the emulator keeps it in its state file, the driver reads it over the
pty, FF01 warns 30 and 3 days ahead, and past the date the drive signs nothing."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from shtrih_support import agent_receipt, registrar_pair

from kiosk.emulators.shtrih_cli import execute
from kiosk.emulators.shtrih_drive import VALIDITY_DAYS
from kiosk.fiscal.port import WARN_FN_REPLACE_3_DAYS, WARN_FN_REPLACE_30_DAYS, DriveFull

pytestmark = pytest.mark.usefixtures("no_leaks")


def test_a_new_drive_is_valid_for_its_term_and_the_state_file_keeps_the_date(tmp_path):
    with registrar_pair(tmp_path) as (emu, drv):
        until = drv.valid_until()
        today = emu.registrar.drive.now().date()
        assert until == today + timedelta(days=VALIDITY_DAYS)
        drv.open_shift()  # a document: the state file is written
        assert json.loads((tmp_path / "fn.json").read_text())["valid_until"] == until.isoformat()
        assert drv.status().warnings == frozenset()
    with registrar_pair(tmp_path) as (emu, drv):  # a restart reads the same date back
        assert drv.valid_until() == until


def test_the_control_line_sets_the_date_and_ff01_warns_as_it_nears(tmp_path):
    with registrar_pair(tmp_path) as (emu, drv):
        today = emu.registrar.drive.now().date()
        assert execute(emu, f"valid-until {(today + timedelta(days=20)).isoformat()}").startswith("ok valid-until")
        assert drv.valid_until() == today + timedelta(days=20)
        assert drv.status().warnings == {WARN_FN_REPLACE_30_DAYS}
        execute(emu, f"valid-until {(today + timedelta(days=2)).isoformat()}")
        assert drv.status().warnings == {WARN_FN_REPLACE_30_DAYS, WARN_FN_REPLACE_3_DAYS}
        assert json.loads(execute(emu, "status").removeprefix("ok "))["valid_until"] == str(today + timedelta(days=2))
        assert execute(emu, "valid-until 2026-13-40").startswith("error:")


def test_past_its_date_the_drive_signs_nothing(tmp_path):
    with registrar_pair(tmp_path) as (emu, drv):
        drv.open_shift()
        yesterday = emu.registrar.drive.now().date() - timedelta(days=1)
        execute(emu, f"valid-until {yesterday.isoformat()}")
        with pytest.raises(DriveFull) as over:
            drv.sell(agent_receipt())
        assert over.value.code == 0x05
        assert drv.status().last_fd == 1 and not drv.status().receipt_open
        assert drv.valid_until() == yesterday and isinstance(drv.valid_until(), date)
