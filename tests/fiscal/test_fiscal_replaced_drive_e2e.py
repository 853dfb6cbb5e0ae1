"""End to end, with the registrar as `kiosk emulate fiscal` processes: the terminal is killed (SIGKILL) right after
the old drive signed a receipt, the drive is replaced before it restarts, receipts wait for a person, support reads
the old drive and settles the intent with `kiosk fiscal resolve`, and every payment ends with exactly one fiscal
receipt across the two drives."""

from __future__ import annotations

import json
import sqlite3
import subprocess

import pytest

from kiosk.cli import main
from kiosk.drivers import shtrih_frame as sf
from kiosk.emulators.fiscal_kill_trials import RUN_LIMIT
from kiosk.emulators.fiscal_rig import DRIVER_OPTIONS, FiscalRig
from kiosk.emulators.kill_trials import _child
from kiosk.emulators.payer_process import write_config
from kiosk.fiscal.demo_settings import make_fiscal

NEW_FN = "9999078900055555"


def _run(directory, *args: str) -> None:
    child, output = _child(directory, *args)
    child.wait(RUN_LIMIT * 3)
    output.close()


def _receipts(rows):
    return {(fn, fd): op for op, kind, state, fn, fd in rows if kind == "receipt" and state == "done"}


@pytest.mark.slow
def test_a_drive_replaced_after_a_kill_at_the_signing_is_settled_by_support(tmp_path, capsys):
    config_path = write_config(tmp_path, gateway_mode="ok")
    with FiscalRig(tmp_path / "old") as old:
        make_fiscal(config_path, old.port, **DRIVER_OPTIONS)
        child, output = _child(tmp_path, "--seed", "3", "--payments", "3")
        old.command(f"kill-host {child.pid} after 2 {sf.FN_CLOSE_RECEIPT:X}")  # dies once the 2nd receipt is signed
        try:
            child.wait(RUN_LIMIT)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        output.close()
        assert old.status()["host_kill"] == "FF45 after"
        old_receipts = [d for d in old.documents() if d["kind"] == "receipt"]
        old_fn = json.loads(old.state_file.read_text(encoding="utf-8"))["fn_number"]
    assert len(old_receipts) == 2 and old_fn != NEW_FN  # the second was signed; the terminal never heard its answer

    with FiscalRig(tmp_path / "new", "--fn", NEW_FN) as new:  # a new drive on the same port's place
        make_fiscal(config_path, new.port, **DRIVER_OPTIONS)
        _run(tmp_path, "--seed", "4", "--payments", "1")  # one more payer: paid, its receipt must wait
        assert [d for d in new.documents() if d["kind"] == "receipt"] == []

        assert main(["fiscal", "intents", "--config", str(config_path)]) == 1
        [intent] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert intent["replaced"] and intent["fn"] == old_fn
        signed = old_receipts[1]  # what support reads from the old drive's archive
        assert main(["fiscal", "resolve", "--config", str(config_path), "--intent", str(intent["intent"]), "--made",
                     "--fd", str(signed["fd"]), "--fp", str(signed["fp"]), "--at", signed["at"],
                     "--who", "Ivanova (service centre)"]) == 0
        _run(tmp_path, "--drain")
        new_receipts = [d for d in new.documents() if d["kind"] == "receipt"]

    conn = sqlite3.connect(tmp_path / "journal.sqlite")
    rows = conn.execute("SELECT operation, kind, state, fn, fd FROM fiscal_documents").fetchall()
    paid = [op for (op,) in conn.execute("SELECT operation FROM operations WHERE cash > 0 AND state NOT IN "
                                         "('collecting', 'cancelled')")]
    audit = conn.execute("SELECT detail FROM incidents WHERE kind='fiscal_intent_resolved'").fetchall()
    conn.close()
    journaled = _receipts(rows)
    drives = {(old_fn, d["fd"]) for d in old_receipts}
    drives |= {(NEW_FN, d["fd"]) for d in new_receipts}
    assert set(journaled) == drives  # every document of both drives is journaled, none invented
    assert sorted(journaled.values()) == sorted(paid)  # and each payment has exactly one
    assert len(paid) == 3 and len(new_receipts) == 1
    assert len(audit) == 1 and "Ivanova" in audit[0][0]
