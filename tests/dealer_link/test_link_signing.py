"""The terminal's side of the link without a service: signatures, identity files, fingerprints, CLI errors."""

from __future__ import annotations

import stat

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from http_message_signatures import HTTPMessageVerifier, HTTPSignatureKeyResolver, InvalidSignature

from kiosk.cli import main as kiosk_main
from kiosk.dealer_link.identity import LinkError, normalize_fingerprint, write_private
from kiosk.dealer_link.signing import ALGORITHM, COVERED, TAG, Message, sign


class _Key(HTTPSignatureKeyResolver):
    def __init__(self, key):
        self.key = key

    def resolve_public_key(self, key_id):
        return self.key.public_key()


def _verify(key, method, url, headers, body):
    verifier = HTTPMessageVerifier(signature_algorithm=ALGORITHM, key_resolver=_Key(key))
    return verifier.verify(Message(method, url, headers), body=body, expect_tag=TAG, require_components=COVERED)


def test_signature_covers_method_path_digest_created_and_nonce():
    key = ec.generate_private_key(ec.SECP256R1())
    headers = sign("POST", "https://dealer:8441/api/v1/terminals/acme/1/heartbeat", b"{}", key, "kid")
    result = _verify(key, "POST", "https://proxy.example/api/v1/terminals/acme/1/heartbeat", headers, b"{}")[0]
    assert result.parameters["keyid"] == "kid" and result.nonce and isinstance(result.parameters["created"], int)
    assert headers["Content-Digest"].startswith("sha-256=:")
    with pytest.raises(InvalidSignature):
        _verify(key, "POST", "https://dealer:8441/api/v1/terminals/acme/2/heartbeat", headers, b"{}")
    with pytest.raises(InvalidSignature):
        _verify(key, "PUT", "https://dealer:8441/api/v1/terminals/acme/1/heartbeat", headers, b"{}")


def test_two_signatures_never_share_a_nonce():
    key = ec.generate_private_key(ec.SECP256R1())
    one = sign("GET", "https://d/x", b"", key, "k")["Signature-Input"]
    two = sign("GET", "https://d/x", b"", key, "k")["Signature-Input"]
    assert one.split("nonce=")[1] != two.split("nonce=")[1]


def test_private_files_are_0600_and_public_ones_widened_after(tmp_path):
    write_private(tmp_path / "id" / "identity.pem", b"secret")
    write_private(tmp_path / "id" / "ca.pem", b"public", 0o644)
    assert stat.S_IMODE((tmp_path / "id" / "identity.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "id" / "ca.pem").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "id").stat().st_mode) == 0o700


def test_fingerprint_forms_are_accepted_and_nonsense_named():
    hexa = "ab" * 32
    assert normalize_fingerprint(f"sha256:{hexa}") == "SHA256:" + hexa.upper()
    assert normalize_fingerprint(":".join(["AB"] * 32)) == "SHA256:" + hexa.upper()
    with pytest.raises(LinkError, match="--ca-fingerprint 'SHA256:12'"):
        normalize_fingerprint("SHA256:12")


def test_kiosk_enroll_says_what_is_wrong(tmp_path, capsys):
    code = kiosk_main(["enroll", "--dealer", "http://127.0.0.1:9", "--code", "AAAAA-AAAAA-AAAAA-AAAAA-AAAAA",
                       "--ca-fingerprint", "SHA256:" + "00" * 32, "--identity", str(tmp_path / "id")])
    assert code == 1 and "cannot reach the dealer service at http://127.0.0.1:9" in capsys.readouterr().err
    code = kiosk_main(["enroll", "--dealer", "http://127.0.0.1:9", "--code", "x", "--ca-fingerprint", "nope",
                       "--identity", str(tmp_path / "id")])
    assert code == 1 and "expected SHA256:" in capsys.readouterr().err
    assert not (tmp_path / "id" / "identity.pem").exists()


def test_heartbeat_without_enrollment_names_the_command(tmp_path, capsys):
    assert kiosk_main(["link", "heartbeat", "--identity", str(tmp_path), "--once"]) == 2
    assert "not enrolled; run `kiosk enroll" in capsys.readouterr().err
