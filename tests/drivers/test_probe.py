"""`devices probe`: finds which protocol answers on each port, with identity, without resetting anything."""

from __future__ import annotations

import json

import pytest

from kiosk.drivers import probe
from kiosk.emulators.ccnet import CcnetEmulator
from kiosk.emulators.cctalk import CctalkEmulator


@pytest.fixture
def emulators(no_leaks):
    started = []

    def start(emu):
        started.append(emu.start())
        return emu
    yield start
    for emu in started:
        emu.stop()


def _run(capsys, *argv):
    code = probe.main(["--timeout", "0.15", *argv])
    return code, json.loads(capsys.readouterr().out)


def test_probe_finds_ccnet_and_its_identity(emulators, capsys):
    emu = emulators(CcnetEmulator())
    code, (result,) = _run(capsys, emu.path)
    assert code == 0 and result["protocol"] == "ccnet" and result["baudrate"] == 9600
    assert result["identity"] == {"model": "SM-RU1353", "serial": "41K012345"}
    assert emu.status()["phase"] == "power_up"  # nothing was reset


@pytest.mark.parametrize(("checksum", "placement"), [("simple", "lo_in_source"), ("crc16", "hi_in_source")])
def test_probe_finds_cctalk_in_either_checksum_mode(emulators, capsys, checksum, placement):
    emu = CctalkEmulator(checksum=checksum, crc_placement=placement)
    emu.echo = True
    emulators(emu)
    code, (result,) = _run(capsys, emu.path)
    assert code == 0 and result["protocol"] == "cctalk" and result["checksum"] == checksum
    assert result["identity"] == {"model": "KSK EMU-BV", "serial": "12345678", "firmware": "EMU1.0"}


def test_probe_reports_silence_and_missing_ports(emulators, capsys, tmp_path):
    emu = CcnetEmulator()
    emu.wire.silent = True
    emulators(emu)
    code, (silent, missing) = _run(capsys, "--baud", "9600", emu.path, str(tmp_path / "ttyUSB9"))
    assert code == 1
    assert silent["protocol"] is None and "pulse mode" in silent["note"]
    assert missing["protocol"] is None and "cannot open" in missing["error"]


def test_probe_tells_all_four_protocols_apart(emulators, capsys):
    from kiosk.emulators.essp import EsspEmulator
    from kiosk.emulators.id003 import Id003Emulator

    units = [emulators(CcnetEmulator()), emulators(CctalkEmulator()), emulators(Id003Emulator()),
             emulators(EsspEmulator())]
    code, results = _run(capsys, "--baud", "9600", *(u.path for u in units))
    assert code == 0 and [r["protocol"] for r in results] == ["ccnet", "cctalk", "id003", "essp"]
    id003, essp = results[2], results[3]
    assert id003["state"] == "power up" and id003["identity"]["firmware"].startswith("i(RUS)-100-SS ID003")
    assert essp["encryption_required"] and essp["identity"]["serial"] == str(0x00BC614E)
    assert essp["identity"]["channels"]["1"] == 1000  # one-byte values: the probe sets no protocol version
    assert units[2].status()["phase"] == "power_up" and not units[3].status()["enabled"]  # nothing moved


def test_probe_finds_plain_ssp_without_a_key_exchange(emulators, capsys):
    from kiosk.emulators.essp import EsspEmulator

    emu = emulators(EsspEmulator(require_encryption=False))
    code, (result,) = _run(capsys, "--baud", "9600", emu.path)
    assert result["protocol"] == "essp" and not result["encryption_required"] and not emu.status()["encrypted"]
