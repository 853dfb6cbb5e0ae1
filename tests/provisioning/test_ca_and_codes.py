"""The CA (key encrypted at rest, 0600), terminal certificates (SAN, clientAuth), CRL, and enrollment codes."""

from __future__ import annotations

import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from provisioning.identity import codes
from provisioning.identity.ca import CAFiles, IdentityError, create_ca, terminal_of


def _csr(key: ec.EllipticCurvePrivateKey | None = None) -> bytes:
    from cryptography.hazmat.primitives import serialization

    key = key or ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t")])).sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.PEM)


def test_ca_key_is_encrypted_at_rest_and_private(tmp_path):
    files = CAFiles(tmp_path / "ca")
    ca = create_ca()
    files.save(ca)
    assert b"ENCRYPTED PRIVATE KEY" in files.key.read_bytes()
    assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
    assert stat.S_IMODE(files.passphrase.stat().st_mode) == 0o600
    assert files.load().fingerprint == ca.fingerprint
    with pytest.raises(IdentityError, match="cannot decrypt"):
        files.load(passphrase=b"wrong")


def test_terminal_certificate_names_the_terminal_and_is_for_client_auth():
    ca = create_ca()
    cert = ca.issue_terminal(_csr(), "acme", "10001")
    assert terminal_of(cert) == "acme/10001"
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert ca.issued(cert)
    assert not create_ca().issued(cert)


def test_a_csr_not_signed_by_its_own_key_is_refused():
    with pytest.raises(IdentityError, match="CSR"):
        create_ca().issue_terminal(b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
                                   "acme", "1")


def test_crl_lists_revoked_serials():
    import datetime as dt

    ca = create_ca()
    cert = ca.issue_terminal(_csr(), "acme", "1")
    crl = x509.load_pem_x509_crl(ca.crl([(cert.serial_number, dt.datetime.now(dt.UTC))]))
    assert crl.is_signature_valid(ca.cert.public_key())
    assert crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None


def test_codes_are_typeable_and_only_their_hash_is_kept():
    code = codes.new_code()
    assert len(code.text.split("-")) == 5 and all(len(g) == 5 for g in code.text.split("-"))
    assert code.text.replace("-", "")[5:] not in code.secret_hash
    lookup, secret = codes.split_code(code.text.lower().replace("-", " "))
    assert lookup == code.lookup and codes.secret_matches(secret, code.secret_hash)
    assert not codes.secret_matches(secret[:-1] + ("A" if secret[-1] != "A" else "B"), code.secret_hash)
    with pytest.raises(codes.CodeError, match="expected 25"):
        codes.split_code("ABC")
