"""The terminal's side of the link without a service: signatures, identity files, fingerprints, CLI errors."""

from __future__ import annotations

import stat
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from http_message_signatures import HTTPMessageVerifier, HTTPSignatureKeyResolver, InvalidSignature

from kiosk.cli import main as kiosk_main
from kiosk.dealer_link.identity import LinkError, normalize_fingerprint, write_private
from kiosk.dealer_link.signing import ALGORITHM, COVERED, TAG, Message, sign, sign_reference


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


@pytest.mark.parametrize("method,url,body,nonce", [
    ("POST", "https://dealer:8441/api/v1/terminals/acme/1/heartbeat", b'{"uptime_s": 5}', "abc-_DEF"),
    ("get", "https://127.0.0.1:9/api/v1/terminals/acme/1/commands?wait=25", b"", "n"),
    ("PUT", "http://[::1]:8441", b"\x00\xff" * 300, "with space!#"),
    ("POST", "https://d/a/b;c=d/e~f", "привет".encode(), "x" * 64),
])
def test_direct_signer_writes_the_librarys_headers_and_the_library_verifies_them(method, url, body, nonce):
    key = ec.generate_private_key(ec.SECP256R1())
    created = datetime(2026, 11, 30, 5, 0, 7, 900_000, tzinfo=UTC)
    ours = sign(method, url, body, key, "f" * 64, created=created, nonce=nonce)
    reference = sign_reference(method, url, body, key, "f" * 64, created, nonce)
    assert {k: ours[k] for k in ("Content-Digest", "Signature-Input")} == {
        k: reference[k] for k in ("Content-Digest", "Signature-Input")}
    assert ours["Signature"] != reference["Signature"]  # ECDSA draws a fresh k: equal would mean a copy
    result = _verify(key, method.upper(), url, ours, body)[0]
    assert result.nonce == nonce and result.parameters["created"] == 1796014807
    with pytest.raises(InvalidSignature):  # another body is refused: the digest is the one covered
        _verify(key, method.upper(), url, ours, body + b" ")
    with pytest.raises(InvalidSignature):  # another key: the signature is the key's
        _verify(ec.generate_private_key(ec.SECP256R1()), method.upper(), url, ours, body)


@pytest.mark.parametrize("url,key_id,nonce", [
    ("https://d/caf%C3%A9", "k", "n"),  # an escaped path: the library decides what @path is
    ("https://d/x", 'k"quoted', "n"),  # a key id that needs escaping as a structured-field string
    ("https://d/x", "k", "back\\slash"),
])
def test_unusual_requests_are_signed_by_the_library(url, key_id, nonce):
    key = ec.generate_private_key(ec.SECP256R1())
    created = datetime(2026, 11, 30, tzinfo=UTC)
    ours = sign("POST", url, b"{}", key, key_id, created=created, nonce=nonce)
    assert ours["Signature-Input"] == sign_reference("POST", url, b"{}", key, key_id, created, nonce)["Signature-Input"]
    assert _verify(key, "POST", url, ours, b"{}")[0].nonce == nonce
