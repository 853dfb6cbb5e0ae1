"""The fiscal drive's validity date on the terminal: read between payments, warned about once per step as it nears
(30 days, 3 days, past), reported in the heartbeat, and alerted on by the dealer's monitor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fake_registrar import FN, FakeRegistrar
from test_fiscal_terminal import start

from kiosk.dealer_link.status import terminal_status
from kiosk.emulators.payer_process import write_config
from kiosk.fiscal.demo_settings import make_fiscal
from kiosk.fiscal.validity import note_validity
from provisioning.monitor.rules import condition
from provisioning.monitor.state import TerminalState, fiscal_days_left


def warnings(rig):
    return [i["detail"] for i in rig.journal.incidents() if i["kind"] == "fiscal_drive_expiring"]


def test_one_warning_per_step_as_the_date_nears_and_a_new_drive_starts_afresh(rig):
    today = rig.moment.astimezone(rig.desk.config.timezone).date()
    rig.registrar.valid = today + timedelta(days=45)
    assert note_validity(rig.desk, rig.moment) == {"fn": FN, "valid_until": str(today + timedelta(days=45)),
                                                   "days_left": 45}
    assert warnings(rig) == []
    rig.registrar.valid = today + timedelta(days=29)
    note_validity(rig.desk, rig.moment)
    note_validity(rig.desk, rig.moment)  # the same step again: no second incident
    assert warnings(rig) == [f"the fiscal drive {FN} must be replaced: valid until {today + timedelta(days=29)}, "
                             "29 day(s) left"]
    rig.moment += timedelta(days=27)  # 2 days left: the second step
    note_validity(rig.desk, rig.moment)
    assert len(warnings(rig)) == 2 and "2 day(s) left" in warnings(rig)[0]
    rig.moment += timedelta(days=3)  # past it
    assert note_validity(rig.desk, rig.moment)["days_left"] == -1
    assert "past its validity date" in warnings(rig)[0] and len(warnings(rig)) == 3
    rig.registrar.fn, rig.registrar.valid = "9999078900099999", today + timedelta(days=500)  # replaced
    assert note_validity(rig.desk, rig.moment)["fn"] == "9999078900099999"
    assert len(warnings(rig)) == 3


def test_a_silent_registrar_keeps_the_last_reading(rig):
    today = rig.moment.astimezone(rig.desk.config.timezone).date()
    rig.registrar.valid = today + timedelta(days=100)
    note_validity(rig.desk, rig.moment)
    rig.registrar.link_down = True
    assert note_validity(rig.desk, rig.moment + timedelta(days=1))["days_left"] == 99


def test_the_heartbeat_reports_days_left_and_the_monitor_alerts_below_its_threshold(tmp_path):
    config_path = make_fiscal(write_config(tmp_path, gateway_mode="ok"), "/dev/null")
    registrar = FakeRegistrar()
    terminal = start(config_path, registrar)
    try:
        registrar.valid = datetime.now(UTC).astimezone(terminal.config.timezone).date() + timedelta(days=12)
        terminal.fiscal_upkeep()
        report = terminal_status(terminal)
        incidents = terminal.journal.incidents()
    finally:
        terminal.close()
    assert report["fiscal_drive"]["days_left"] in (11, 12)  # 11 if the day turns in between
    assert report["fiscal_drive"]["fn"] == FN
    assert any(i["kind"] == "fiscal_drive_expiring" for i in incidents)
    state = TerminalState(online=True, silent_s=1, locked=False, out_of_service=None, cassette_fill=None,
                          cassette_count=None, paper=None, outbox_depth=None, outbox_oldest_s=None,
                          needs_attention=None, validator_fault=None, clock_skew_s=None, version="",
                          payload=report, fiscal_days_left=fiscal_days_left(report))
    assert "fiscal drive must be replaced" in (condition("fiscal_drive", 30, state) or "")
    assert condition("fiscal_drive", 10, state) is None
    assert fiscal_days_left({"fiscal_drive": None}) is None and fiscal_days_left({}) is None
