"""CyberPlat IPRIV: the vendor's test vectors (keys, a document its library signed) and our signer and keys."""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.gateways.cyberplat_sign import SignatureError, sign, verify
from kiosk.gateways.ipriv_envelope import Document, EnvelopeError, KeyId, parse_documents
from kiosk.gateways.ipriv_keygen import generate_key, write_key_files
from kiosk.gateways.ipriv_keys import (
    KeyFileError,
    UnknownKeyError,
    WrongPasswordError,
    load_public_ring,
    load_secret_key,
)
from kiosk.gateways.ipriv_packets import IdeaCfb, armour, crc24, dearmour

VECTORS = Path(__file__).parent / "data" / "cyberplat"
PASSWORD = "1111111111"
SAMPLE = (VECTORS / "signed-hello.txt").read_bytes()
SAMPLE_TIME = 1352478986  # the time inside the vendor's signature of the sample


@pytest.fixture(scope="module")
def ring():
    return load_public_ring(VECTORS / "pubkeys.key")


@pytest.fixture(scope="module")
def vendor_secret():
    return load_secret_key(VECTORS / "secret.key", PASSWORD)


def test_vendor_sample_verifies_with_key_17033_from_the_ring(ring):
    assert verify(SAMPLE, ring) == (b"Hello world", KeyId("api17032", 17033))


def test_ring_holds_both_vendor_keys_each_certified_by_its_ca(ring):
    assert sorted(ring) == [17033, 64182]
    assert ring.entry(17033).key_id == KeyId("api17032", 17033) and ring.entry(17033).certified_by == 17033
    assert ring.entry(64182).key_id == KeyId("0J0005", 64182) and ring.entry(64182).certified_by == 17033


@pytest.mark.parametrize("tamper", [
    lambda d: d.replace(b"world", b"wor1d"),  # same length: only the signature can tell
    lambda d: d.replace(b"iQBRAwkBAABCiVCd", b"iQBRAwkBAABCiVCe"),  # the signature packet itself (time byte)
    lambda d: d.replace(b"00017033", b"00064182", 1),  # claims the other key of the ring
    lambda d: d.replace(b"0000027201SM00000011", b"0000027201SM00000012"),  # body length
    lambda d: d.replace(b"=z1vE", b"=z1vF"),  # armour checksum
    lambda d: d[:-40],  # cut short
])
def test_vendor_sample_altered_in_any_part_is_refused(ring, tamper):
    with pytest.raises(SignatureError):
        verify(tamper(SAMPLE), ring)


def test_vendor_sample_with_wor1d_says_the_signature_does_not_verify(ring):
    with pytest.raises(SignatureError, match="by key 17033 does not verify"):
        verify(SAMPLE.replace(b"world", b"wor1d"), ring)


def test_our_signature_of_the_sample_is_byte_for_byte_the_vendors(vendor_secret):
    # PKCS#1 v1.5 is deterministic: same key, data and time must give exactly the vendor library's document
    assert sign(b"Hello world", vendor_secret, now=SAMPLE_TIME) == SAMPLE


def test_round_trip_with_the_vendor_secret_key_in_windows_1251(vendor_secret, ring):
    data = "SESSION=A1\r\nCOMMENT=Оплата за май".encode("cp1251")
    document = sign(data, vendor_secret)
    header = document[:36].decode()
    assert int(header[:8]) == len(document) - 10 and header[8:12] == "01SM"
    assert int(header[12:20]) == int(header[20:28]) == len(data)
    assert document.split(b"\r\n")[1:3] == [b"api17032            00017033", b" " * 20 + b"00000000"]
    assert verify(document, ring) == (data, KeyId("api17032", 17033))
    with pytest.raises(SignatureError):
        verify(document.replace("май".encode("cp1251"), "мая".encode("cp1251")), ring)


def test_wrong_or_missing_password_is_a_clear_error():
    with pytest.raises(WrongPasswordError, match=r"secret\.key: wrong password"):
        load_secret_key(VECTORS / "secret.key", "1111111112")
    with pytest.raises(WrongPasswordError, match="no password was given"):
        load_secret_key(VECTORS / "secret.key", None)


def test_unknown_serial_is_a_clear_error(ring, vendor_secret):
    with pytest.raises(UnknownKeyError, match=r"pubkeys\.key: no key with serial 12345 \(the ring holds 17033, 64182\)"):
        ring.entry(12345)
    with pytest.raises(SignatureError, match="signed by key serial 17033 .* not in our key ring"):
        verify(SAMPLE, {64182: ring[64182]})


def altered_ring(tmp_path: Path, index: int, alter: Callable[[bytes], bytes]) -> Path:
    """The vendor ring with one key's packets altered, re-armoured so only its certificate can tell."""
    documents = parse_documents((VECTORS / "pubkeys.key").read_bytes(), "ring")
    packets = alter(dearmour(documents[index].body, "key"))
    documents[index] = Document("NS", documents[index].subject, documents[index].ca, armour(bytes(packets)),
                                len(packets), documents[index].signature)
    (tmp_path / "pubkeys.key").write_bytes(b"".join(d.render() for d in documents))
    return tmp_path / "pubkeys.key"


def test_a_key_altered_in_the_ring_is_refused_with_the_reason_and_the_others_still_work(tmp_path):
    ring = load_public_ring(altered_ring(tmp_path, 1, lambda p: p[:40] + bytes([p[40] ^ 1]) + p[41:]))  # modulus
    with pytest.raises(KeyFileError, match="key 64182: the certificate by key 17033 does not verify"):
        ring.entry(64182)
    assert list(ring) == [17033] and verify(SAMPLE, ring)[1].serial == 17033


def test_keys_certified_by_a_ca_whose_own_certificate_fails_are_refused_too(tmp_path):
    # the CA's user id is changed: its modulus (which certifies 64182) is intact, its self-certificate is not
    ring = load_public_ring(altered_ring(tmp_path, 0, lambda p: p.replace(b"api17032", b"api17033")))
    with pytest.raises(KeyFileError, match="key 64182: its CA key 17033 is refused"):
        ring.entry(64182)
    with pytest.raises(SignatureError, match="17033, which the ring refuses: .* does not verify"):
        verify(SAMPLE, ring)


@pytest.mark.parametrize("content, message", [
    (None, "cannot read the key file"),
    (b"", "empty, no IPRIV document"),
    (b"-----BEGIN PUBLIC KEY-----\n", "no 36-character IPRIV header"),
    ((VECTORS / "secret.key").read_bytes(), r"no public key \(NS\) documents"),
])
def test_unusable_ring_files_name_the_file_and_the_problem(tmp_path, content, message):
    path = tmp_path / "pubkeys.key"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(KeyFileError, match=message) as caught:
        load_public_ring(path)
    assert str(path) in str(caught.value)


def test_generated_key_files_load_like_the_vendors_and_sign_across(tmp_path):
    dealer, centre = generate_key("DEALER", 17040, 1024), generate_key("CYBERPLAT", 64200, 1024)
    write_key_files(tmp_path / "t", dealer, "секрет", [(dealer, dealer), (centre, dealer)])
    write_key_files(tmp_path / "c", centre, PASSWORD, [(dealer, dealer), (centre, dealer)])
    ring = load_public_ring(tmp_path / "t" / "pubkeys.key")
    assert ring.entry(64200).certified_by == 17040
    ours = load_secret_key(tmp_path / "t" / "secret.key", "секрет")
    theirs = load_secret_key(tmp_path / "c" / "secret.key", PASSWORD)
    assert ours.key.private_numbers().d == dealer.secret.key.private_numbers().d
    assert verify(sign(b"A=1", theirs), ring) == (b"A=1", KeyId("CYBERPLAT", 64200))
    assert (tmp_path / "t" / "secret.key").stat().st_mode & 0o077 == 0
    with pytest.raises(WrongPasswordError):
        load_secret_key(tmp_path / "t" / "secret.key", PASSWORD)


def test_idea_cfb_starts_each_mpi_on_a_fresh_block_with_the_last_eight_cipher_bytes():
    key, iv = bytes(range(16)), b"\x01" * 8
    chunks = [b"a" * 13, b"b" * 3, b"c" * 16]  # partial blocks force the resynchronisation
    encrypting = IdeaCfb(key, iv)
    sealed = [encrypting.encrypt(c) for c in chunks]
    decrypting = IdeaCfb(key, iv)
    assert [decrypting.decrypt(c) for c in sealed] == chunks
    # the second chunk's keystream comes from the last 8 ciphertext bytes (iv tail + first chunk), not zeros
    assert IdeaCfb(key, (iv + sealed[0])[-8:]).decrypt(sealed[1]) == chunks[1]


def test_crc24_and_armour_match_the_vendor_sample():
    assert crc24(b"") == 0xB704CE
    signature_block = parse_documents(SAMPLE, "sample")[0].signature
    packets = dearmour(signature_block, "sample")
    assert armour(packets) == signature_block
    assert base64.b64encode(crc24(packets).to_bytes(3, "big")) == b"z1vE"


@pytest.mark.parametrize("garbage", [b"", b"hello", b"0" * 36 + b"\r\n", b"<html>500</html>",
                                     SAMPLE.replace(b"\r\n", b"\n")])
def test_garbage_documents_are_signature_errors(ring, garbage):
    with pytest.raises(SignatureError):
        verify(garbage, ring)


def test_envelope_errors_say_what_was_expected():
    with pytest.raises(EnvelopeError, match="envelope lengths do not add up"):
        parse_documents(SAMPLE.replace(b"00000272", b"00000273"), "sample")
    with pytest.raises(EnvelopeError, match="the CA line"):
        parse_documents(SAMPLE.replace(b" " * 20 + b"00000000", b" " * 20 + b"0000000"), "sample")


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(edits=st.lists(st.tuples(st.integers(0, len(SAMPLE) - 1), st.integers(0, 255), st.sampled_from("sid")),
                      min_size=1, max_size=4))
def test_a_damaged_document_is_always_a_signature_error_never_another_exception(ring, edits):
    document = bytearray(SAMPLE)
    for position, byte, how in edits:
        position = min(position, len(document) - 1)
        if how == "s":
            document[position] = byte
        elif how == "i":
            document.insert(position, byte)
        elif len(document) > 1:
            del document[position]
    try:
        data, signer = verify(bytes(document), ring)
    except SignatureError:
        return
    # what verifies must be what was signed: the data, and the signer's serial (in the signed metadata); the
    # key-id lines' names and the CA line are outside the signature in the vendor's format, as in its library
    assert (data, signer.serial) == (b"Hello world", 17033)


def test_a_key_id_line_with_bytes_windows_1251_lacks_is_still_read():
    document = SAMPLE.replace(b"api17032", b"api\x98\x98032")  # 0x98 has no character in Windows-1251
    assert parse_documents(document, "sample")[0].subject.serial == 17033


def damaged(original: bytes, edits: list[tuple[int, int]]) -> bytes:
    """original with the byte at each position replaced."""
    data = bytearray(original)
    for position, byte in edits:
        data[position % len(data)] = byte
    return bytes(data)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(which=st.sampled_from(["pubkeys.key", "secret.key"]),
       edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=3))
def test_a_damaged_key_file_is_always_a_key_file_error_never_another_exception(which, edits):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / which
        path.write_bytes(damaged((VECTORS / which).read_bytes(), edits))
        try:
            if which == "secret.key":
                assert load_secret_key(path, PASSWORD).key_id.serial == 17033
            else:
                load_public_ring(path)
        except KeyFileError:
            pass
