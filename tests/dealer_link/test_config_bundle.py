"""The terminal's check of a configuration bundle (signer through the pinned CA, dealer, terminal, signature,
format) and the files it keeps: a crash between the two atomic writes leaves a complete configuration, and a
stored bundle that no longer checks out gives way to the previous one."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from kiosk.config import load_config
from kiosk.config_document import starter
from kiosk.dealer_link import config_sync
from kiosk.dealer_link.bundle import FORMAT, BundleRefused, canonical, envelope, open_bundle
from kiosk.dealer_link.identity import LinkSettings, TerminalIdentity
from kiosk.emulators.payer_process import write_config
from provisioning.config.bundles import certify
from provisioning.identity.ca import create_ca

CA = create_ca()
KEY = ed25519.Ed25519PrivateKey.generate()


def _pem(cert: Any) -> bytes:
    return bytes(cert.public_bytes(serialization.Encoding.PEM))


def _bundle(version: int = 1, dealer: str = "acme", number: str = "10001", signer_dealer: str = "acme",
            ca: Any = CA, days: int = 30, change: Any = None, **payload: Any) -> bytes:
    document = starter()
    if change is not None:
        change(document)
    body = canonical({"format": FORMAT, "dealer": dealer, "terminal": number, "version": version,
                      "label": f"fleet v{version}", "document": document, "secrets": {}} | payload)
    cert = certify(ca, signer_dealer, KEY.public_key(), days=days)
    return envelope(body, KEY.sign(body), _pem(cert))


def _tampered() -> bytes:
    outer = json.loads(_bundle())
    outer["signature"] = json.loads(_bundle(version=2))["signature"]  # a real signature, of other bytes
    return json.dumps(outer).encode()


@pytest.mark.parametrize(("body", "reason"), [
    (_bundle(ca=create_ca()), "not issued by the pinned CA"),
    (_bundle(signer_dealer="rival"), "not for this terminal's dealer"),
    (_bundle(days=0), "not valid now"),
    (_bundle(number="10002"), "not acme/10001"),
    (_bundle(dealer="rival", signer_dealer="rival"), "not for this terminal's dealer"),
    (_bundle(format=FORMAT + 1), "this terminal reads 1"),
    (_tampered(), "signature does not verify"),
    (b"<html>proxy error</html>", "not a signed bundle"),
])
def test_a_bundle_is_refused_with_the_reason(body, reason):
    with pytest.raises(BundleRefused, match=reason):
        open_bundle(body, _pem(CA.cert), "acme", "10001")


def test_a_good_bundle_opens():
    payload = open_bundle(_bundle(version=7), _pem(CA.cert), "acme", "10001")
    assert payload["version"] == 7 and payload["document"]["catalog"]["providers"]


@pytest.fixture
def base(tmp_path: Path) -> Any:
    """A terminal configuration with an identity folder that pins CA (as `kiosk enroll` leaves it)."""
    config = load_config(write_config(tmp_path, gateway_mode="ok"))
    identity = TerminalIdentity(tmp_path / "dealer-link")
    identity.folder.mkdir()
    identity.ca.write_bytes(_pem(CA.cert))
    identity.identity.write_text("not read by the bundle check")
    identity.settings_file.write_text(json.dumps(LinkSettings("https://d", "https://l", "acme", config.terminal,
                                                              "SHA256:" + "0" * 64).__dict__))
    return config


def _fee(amount: int) -> Any:
    def change(document: dict[str, Any]) -> None:
        document["catalog"]["providers"][0]["fee"] = {"kind": "fixed", "amount": amount}
    return change


def test_a_crash_between_the_two_writes_leaves_the_old_complete_configuration(base, monkeypatch):
    folder = base.journal_path.parent / config_sync.FOLDER
    config_sync.install(folder, _bundle(1, change=_fee(1)))
    writes: list[Path] = []
    real = config_sync.write_private

    def power_cut_before_the_second(path: Path, data: bytes, mode: int = 0o600) -> None:
        writes.append(path)
        if len(writes) == 2:
            raise OSError("power cut")
        real(path, data, mode)

    monkeypatch.setattr(config_sync, "write_private", power_cut_before_the_second)
    with pytest.raises(OSError):
        config_sync.install(folder, _bundle(2, change=_fee(2)))
    assert [p.name for p in writes] == [config_sync.PREVIOUS, config_sync.CURRENT]
    config, catalog, checked = config_sync.pushed_at_start(base, None)
    assert checked is not None and checked.version == 1 and catalog is not None
    assert catalog.providers["mts"].fee.split(config.min_operation).fee.minor == 100

    monkeypatch.setattr(config_sync, "write_private", real)
    config_sync.install(folder, _bundle(2, change=_fee(2)))
    assert config_sync.pushed_at_start(base, None)[2].version == 2  # type: ignore[union-attr]
    previous = open_bundle((folder / config_sync.PREVIOUS).read_bytes(), _pem(CA.cert), "acme", base.terminal)
    assert previous["version"] == 1  # the one in force before is kept


def test_a_stored_bundle_this_terminal_can_no_longer_run_gives_way_to_the_previous(base):
    folder = base.journal_path.parent / config_sync.FOLDER
    config_sync.install(folder, _bundle(1))

    def route_to_a_removed_gateway(document: dict[str, Any]) -> None:
        document["catalog"]["providers"][0]["routes"][0]["gateway"] = "removed"

    config_sync.install(folder, _bundle(2, change=route_to_a_removed_gateway))
    config, catalog, checked = config_sync.pushed_at_start(base, None)
    assert checked is not None and checked.version == 1
    (folder / config_sync.PREVIOUS).write_bytes(b"damaged")
    config, catalog, checked = config_sync.pushed_at_start(base, "the terminal's own catalog")  # type: ignore[arg-type]
    assert checked is None and config is base and catalog == "the terminal's own catalog"


def test_what_the_terminal_set_up_beyond_its_file_stays_and_secrets_join_their_gateway(base):
    # the demo points its gateways at emulators on loopback ports after reading its file
    main = base.gateways["main"]
    running = dataclasses.replace(base, gateways={**base.gateways, "main": dataclasses.replace(
        main, options={**main.options, "port": 4242})})

    def stricter(document: dict[str, Any]) -> None:
        document["limits"]["max_operation"] = 9000

    body = _bundle(3, change=stricter, secrets={"main": {"password": "s"}})
    payload = open_bundle(body, _pem(CA.cert), "acme", base.terminal)
    assert payload["secrets"] == {"main": {"password": "s"}}
    config_sync.install(base.journal_path.parent / config_sync.FOLDER, body)
    config, _, checked = config_sync.pushed_at_start(running, None)
    assert checked is not None and config.max_operation.minor == 900_000
    assert config.gateways["main"].options["port"] == 4242 and config.gateways["main"].options["password"] == "s"
    assert config.gateways["backup"] == base.gateways["backup"] and config.journal_path == base.journal_path
