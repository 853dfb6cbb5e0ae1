"""The `kiosk` command as a person runs it: simulate, journal show/lookup/export, session diagram."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from kiosk.cli import main


def kiosk(*args, home, check=True):
    env = dict(os.environ, HOME=str(home))
    result = subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True, text=True, env=env,
                            timeout=120)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    """A home directory in which `kiosk simulate` with no arguments has run once."""
    home = tmp_path_factory.mktemp("home")
    result = kiosk("simulate", home=home)
    return home, result.stdout


def test_simulate_with_no_arguments_runs_the_demo_and_prints_a_summary(demo_home):
    home, out = demo_home
    assert "A phone top-up: MTS, two bills, Pay" in out
    assert "restart: reconciled: 1 committed with money" in out
    assert re.search(r"^\s*total\s+10 operations", out, re.MULTILINE), out
    assert "waiting in the outbox: 0" in out
    assert (home / ".local/state/kiosk/demo/journal.sqlite").exists()


def test_journal_commands_read_the_demo_journal(demo_home):
    home, _ = demo_home
    show = kiosk("journal", "show", home=home).stdout
    assert "terminal 10001" in show and "delivered" in show and "needs attention" in show
    lookup = json.loads(kiosk("journal", "lookup", "--operation", "1", "--format", "json", home=home).stdout)
    assert lookup["operation"] == 1 and lookup["terminal"] == "10001"
    assert lookup["bills"] == [10000, 5000] and lookup["cash"] == 15000
    assert lookup["delivery_attempts"][0]["outcome"] == "approved"
    missing = kiosk("journal", "lookup", "--operation", "999999", home=home, check=False)
    assert missing.returncode == 1 and "no operation 999999" in missing.stdout


def test_export_is_one_json_object_per_operation_with_integer_kopecks(demo_home):
    home, _ = demo_home
    lines = kiosk("journal", "export", "--format", "jsonl", home=home).stdout.splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 10
    required = {"terminal", "operation", "state", "provider", "account", "cash", "fee", "credited", "bills",
                "created_at", "committed_at"}
    for record in records:
        assert required <= set(record)
        assert all(isinstance(record[k], int) for k in ("cash", "fee", "credited"))
        assert record["fee"] + record["credited"] == record["cash"] == sum(record["bills"])
        assert record["created_at"].endswith("+03:00")
    lost_reply = [r for r in records if r["provider"] == "t2"][0]
    assert lost_reply["state"] == "delivered"


def test_a_second_simulation_continues_the_numbering(demo_home, tmp_path):
    # On a copy: the shared demo home must stay as one simulation left it for the other tests.
    home = tmp_path / "home"
    shutil.copytree(demo_home[0], home)
    out = kiosk("simulate", home=home).stdout
    first = re.search(r"^\s*(\d+)\s+mts\b", out, re.MULTILINE)
    assert first is not None and first[1] == "11", out
    assert re.search(r"^\s*total\s+10 operations", out, re.MULTILINE), out
    journal = kiosk("journal", "export", "--format", "jsonl", home=home).stdout.splitlines()
    assert [json.loads(line)["operation"] for line in journal] == list(range(1, 21))


def test_bad_scenario_is_named_with_its_step(tmp_path, capsys):
    scenario = tmp_path / "s.toml"
    scenario.write_text('version = 1\n[[script]]\ntitle = "x"\nsteps = ["touch", "fly away"]\n')
    assert main(["simulate", "--scenario", str(scenario), "--config", str(tmp_path / "none.toml")]) == 2
    assert "none.toml: terminal configuration file not found" in capsys.readouterr().err


def test_bad_scenario_step_is_named(tmp_path, capsys, config_path):
    scenario = tmp_path / "s.toml"
    scenario.write_text('version = 1\n[[script]]\ntitle = "x"\nsteps = ["touch", "fly away"]\n')
    assert main(["simulate", "--scenario", str(scenario), "--config", str(config_path)]) == 2
    err = capsys.readouterr().err
    assert "s.toml: script[0].steps[1]: unknown step 'fly away'" in err


def test_a_failed_expectation_stops_the_simulation_with_the_step(tmp_path, capsys, config_path):
    scenario = tmp_path / "s.toml"
    scenario.write_text('version = 1\n[[script]]\ntitle = "x"\nsteps = ["touch", "expect receipt"]\n')
    assert main(["simulate", "--scenario", str(scenario), "--config", str(config_path)]) == 2
    assert "expected state receipt, the session is in category" in capsys.readouterr().err


def test_journal_of_a_newer_schema_is_refused_clearly(tmp_path, capsys, config_path):
    import sqlite3

    conn = sqlite3.connect(tmp_path / "journal.sqlite")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    assert main(["journal", "show", "--config", str(config_path)]) == 2
    assert "written by a newer kiosk" in capsys.readouterr().err


def test_session_diagram(capsys):
    assert main(["session", "diagram"]) == 0
    assert "digraph session" in capsys.readouterr().out
    assert main(["session", "diagram", "--format", "mermaid"]) == 0
    assert "stateDiagram-v2" in capsys.readouterr().out


def test_service_encashment_reports_a_difference_from_what_was_counted(tmp_path, capsys, config_path):
    from kiosk.config import load_config
    from kiosk.journal_cli import open_journal

    journal = open_journal(load_config(config_path))
    op = journal.open_operation("mts", "9123456789", {}, max_cash=10**7)
    journal.record_bill(op.operation, 10000, "virtual", "a")
    journal.close()
    assert main(["journal", "encash", "--config", str(config_path), "--counted", "100x1,500x1"]) == 1
    record = json.loads(capsys.readouterr().out)
    assert record["counts"] == {"10000": 1} and record["difference"] == {"50000": 1}
    assert main(["journal", "encash", "--config", str(config_path), "--counted", "lots"]) == 2
    assert "expected ROUBLESxBILLS" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["emulate", "gateway", "--protocol", "json", "--port", "0"],
                                  ["emulate", "validator", "--protocol", "cctalk"],
                                  ["emulate", "validator", "--protocol", "id003"],
                                  ["emulate", "validator", "--protocol", "essp"],
                                  ["emulate", "printer", "--port", "0", "--out", "{tmp}"]])
def test_emulators_start_from_the_kiosk_command_and_print_their_port_first(args, tmp_path):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = subprocess.run([sys.executable, "-m", "kiosk.cli", *args], input="quit\n", capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith(("PORT=", "TTY="))


@pytest.mark.parametrize("step, expected", [("wait soon", "expected a number of seconds"),
                                            ("insert 12.345", "not an amount"),
                                            ("expect flying", "unknown state 'flying'")])
def test_bad_step_arguments_are_named_before_anything_runs(tmp_path, capsys, config_path, step, expected):
    scenario = tmp_path / "s.toml"
    scenario.write_text(f'version = 1\n[[script]]\ntitle = "x"\nsteps = ["touch", "{step}"]\n')
    assert main(["simulate", "--scenario", str(scenario), "--config", str(config_path)]) == 2
    err = capsys.readouterr().err
    assert "s.toml: script[0].steps[1]" in err and expected in err
