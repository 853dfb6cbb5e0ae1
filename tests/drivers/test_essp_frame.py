"""SSP framing and eSSP encryption: the published packets byte for byte, stuffing, CRC, DH, AES and eCOUNT."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.drivers import essp_crypto as ec
from kiosk.drivers import essp_frame as ef

VECTORS = [line.split(maxsplit=2) for line in (Path(__file__).parent / "data" / "essp_vectors.txt")
           .read_text().splitlines() if line and not line.startswith("#")]


@pytest.mark.parametrize(("name", "seq", "wire"), VECTORS, ids=[v[0] for v in VECTORS])
def test_published_packets_are_encoded_and_parsed_byte_for_byte(name, seq, wire):
    raw = bytes.fromhex(wire)
    (packet,) = ef.PacketParser().feed(raw)
    assert isinstance(packet, ef.Packet) and packet.seq == (seq == "1") and packet.address == 0
    assert ef.encode(packet.data, packet.seq) == raw


def test_crc_is_crc16_cms_with_check_value_aee7():
    assert ef.crc16(b"123456789") == 0xAEE7


def test_every_7f_after_the_stx_is_doubled_and_undone_by_the_parser():
    data = bytes((0xF0, 0x7F, 0x01, 0x7F))
    wire = ef.encode(data, True)
    assert wire[:6] == bytes.fromhex("7F 80 04 F0 7F 7F") and wire[6:9] == bytes.fromhex("01 7F 7F")
    assert 0x7F not in wire[1:].replace(b"\x7f\x7f", b"")  # no lone 0x7F after the STX
    parser, got = ef.PacketParser(), []
    for byte in wire:  # split anywhere, even between the two halves of a doubled 0x7F
        got += parser.feed(bytes((byte,)))
    assert got == [ef.Packet(True, 0, data)]


def test_stuffed_crc_bytes_are_undone_too():
    # Search a payload whose CRC contains 0x7F, so the stuffing of the CRC itself is exercised.
    for n in range(2000):
        data = n.to_bytes(2, "big")
        crc = ef.crc16(bytes((0x80, 2)) + data)
        if 0x7F in (crc & 0xFF, crc >> 8):
            break
    else:
        pytest.fail("no payload with 0x7F in its CRC found")
    assert ef.PacketParser().feed(ef.encode(data, True)) == [ef.Packet(True, 0, data)]


def test_a_lone_7f_starts_a_new_packet_and_a_corrupt_one_is_reported():
    poll = bytes.fromhex("7F 80 01 07 12 02")
    broken = bytes.fromhex("7F 80 01 07 12 03")
    items = ef.PacketParser().feed(b"\x7f\x80\x05" + poll + broken + poll)
    assert items[0] == ef.Packet(True, 0, b"\x07") and isinstance(items[1], ef.BadPacket)
    assert items[2] == ef.Packet(True, 0, b"\x07")


def test_default_fixed_key_bytes_are_little_endian():
    assert ec.session_key(ec.DEFAULT_FIXED_KEY, 0)[:8] == bytes.fromhex("67 45 23 01 67 45 23 01")


def test_diffie_hellman_gives_both_sides_the_same_key():
    generator, modulus = ec.dh_primes()
    assert generator > modulus and ec.is_prime(generator) and ec.is_prime(modulus)
    host_secret, slave_secret = ec.random_exponent(), ec.random_exponent()
    host_inter, slave_inter = pow(generator, host_secret, modulus), pow(generator, slave_secret, modulus)
    assert pow(slave_inter, host_secret, modulus) == pow(host_inter, slave_secret, modulus)


def test_is_prime_knows_small_and_64_bit_primes():
    assert [n for n in range(30) if ec.is_prime(n)] == [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]
    assert ec.is_prime(2**61 - 1) and not ec.is_prime(2**61 + 1) and not ec.is_prime(3215031751)


@pytest.mark.parametrize("step", [1, 2])
def test_ecount_is_checked_both_ways_and_a_replayed_command_is_refused(step):
    key = ec.session_key(ec.DEFAULT_FIXED_KEY, 0x1234_5678_9ABC)
    host, slave = ec.Channel(key, step), ec.Channel(key, step)
    first = host.seal_command(b"\x07")
    assert first[0] == ef.STEX and (len(first) - 1) % 16 == 0
    assert slave.open_command(first) == b"\x07"
    reply = slave.seal_reply(b"\xf0\xee\x03")
    assert host.open_reply(reply) == b"\xf0\xee\x03"
    assert host.count == slave.count == step
    with pytest.raises(ec.CryptoError, match="eCOUNT"):
        slave.open_command(first)  # the same command again: replayed
    with pytest.raises(ec.CryptoError, match="eCOUNT"):
        host.open_reply(reply)  # an old reply again
    second = host.seal_command(b"\x07")
    assert slave.open_command(second) == b"\x07"


def test_mismatched_ecount_steps_are_refused():
    key = ec.session_key(ec.DEFAULT_FIXED_KEY, 99)
    host, slave = ec.Channel(key, 1), ec.Channel(key, 2)
    for _ in range(1):
        slave.open_command(host.seal_command(b"\x07"))
        host.open_reply(slave.seal_reply(b"\xf0"))
    with pytest.raises(ec.CryptoError, match="eCOUNT 1, expected 2"):
        slave.open_command(host.seal_command(b"\x07"))


def test_a_wrong_key_or_a_damaged_block_fails_the_ecrc():
    good = ec.Channel(ec.session_key(ec.DEFAULT_FIXED_KEY, 1))
    sealed = good.seal(b"\x05", 0)
    with pytest.raises(ec.CryptoError, match="eCRC"):
        ec.Channel(ec.session_key(ec.DEFAULT_FIXED_KEY, 2)).open(sealed, 0)
    damaged = sealed[:5] + bytes((sealed[5] ^ 1,)) + sealed[6:]
    with pytest.raises(ec.CryptoError):
        good.open(damaged, 0)
    with pytest.raises(ec.CryptoError, match="STEX"):
        good.open(b"\x07", 0)


def test_encrypted_block_layout_matches_the_manual():
    key = ec.session_key(ec.DEFAULT_FIXED_KEY, 7)
    sealed = ec.Channel(key).seal(b"\x0a", 5)
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    dec = Cipher(algorithms.AES(key), modes.ECB()).decryptor()
    plain = dec.update(sealed[1:]) + dec.finalize()
    assert plain[0] == 1 and plain[1:5] == (5).to_bytes(4, "little") and plain[5] == 0x0A
    # The eCRC covers eLENGTH..packing and is sent low byte first, like the outer CRC.
    assert len(plain) == 16 and ef.crc16(plain[:-2]) == plain[-2] | plain[-1] << 8


def test_fixed_key_from_configuration():
    assert ec.parse_fixed_key("0123456701234567") == ec.DEFAULT_FIXED_KEY
    with pytest.raises(ValueError, match="fixed_key"):
        ec.parse_fixed_key("not hex")
