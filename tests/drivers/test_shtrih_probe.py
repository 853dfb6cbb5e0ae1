"""`devices probe` finds a Shtrih-M registrar (ENQ, then FC device type) next to bill validators."""

from __future__ import annotations

import json

import pytest

from kiosk.drivers import probe, probe_shtrih
from kiosk.emulators.ccnet import CcnetEmulator
from kiosk.emulators.shtrih import ShtrihEmulator

pytestmark = pytest.mark.usefixtures("no_leaks")  # no thread or file descriptor left behind


def test_probe_finds_the_registrar_and_its_name_among_validators(tmp_path, capsys):
    registrar = ShtrihEmulator(tmp_path / "fn.json").start()
    validator = CcnetEmulator().start()
    try:
        code = probe.main(["--timeout", "0.2", "--baud", "9600", validator.path, registrar.path])
        results = json.loads(capsys.readouterr().out)
    finally:
        registrar.stop()
        validator.stop()
    assert code == 0 and [r["protocol"] for r in results] == ["ccnet", "shtrih"]
    found = results[1]
    assert found["kind"] == "fiscal_registrar" and found["baudrate"] == 115200
    assert found["identity"]["model"] == "ШТРИХ-М-01Ф ЭМУЛЯТОР"
    assert registrar.commands == 1 and not (tmp_path / "fn.json").exists()  # one question, nothing written


def test_probe_skips_a_mute_registrar_and_validators_do_not_pass_for_one(tmp_path):
    registrar = ShtrihEmulator().start()
    registrar.wire.silent = True
    validator = CcnetEmulator().start()
    try:
        assert probe_shtrih.probe(registrar.path, 0.1) is None
        assert probe_shtrih.probe(validator.path, 0.1) is None
    finally:
        registrar.stop()
        validator.stop()


def test_registry_names_the_shtrih_driver():
    from kiosk.drivers.shtrih import ShtrihRegistrar
    from kiosk.registry import FISCAL_REGISTRARS, load

    assert load("fiscal registrar", FISCAL_REGISTRARS, "shtrih") is ShtrihRegistrar
