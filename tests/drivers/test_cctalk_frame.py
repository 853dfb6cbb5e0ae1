"""ccTalk packets: both checks, both CRC placements, every packet from the protocol notes, noise."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.drivers import cctalk_frame as cc
from kiosk.drivers.cctalk import new_events

SIMPLE = cc.Codec("simple")
NOTES = [
    ("request serial to coin acceptor", cc.Packet(2, 1, 242), "02 00 01 F2 0B"),
    ("serial reply", cc.Packet(1, 2, 0, bytes.fromhex("4E 61 BC")), "01 03 02 00 4E 61 BC 8F"),
    ("simple poll", cc.Packet(40, 1, 254), "28 00 01 FE D9"),
    ("read buffered bill events", cc.Packet(40, 1, 159), "28 00 01 9F 38"),
    ("route bill to stack", cc.Packet(40, 1, 154, b"\x01"), "28 01 01 9A 01 3B"),
    ("enable all 16 bill types", cc.Packet(40, 1, 231, b"\xff\xff"), "28 02 01 E7 FF FF F0"),
    ("master enable", cc.Packet(40, 1, 228, b"\x01"), "28 01 01 E4 01 F1"),
    ("ACK to host", cc.Packet(1, 40, 0), "01 00 28 00 D7"),
]


@pytest.mark.parametrize(("name", "packet", "wire"), NOTES, ids=[n[0] for n in NOTES])
def test_simple_checksum_packets_match_protocol_notes(name, packet, wire):
    assert SIMPLE.encode(packet) == bytes.fromhex(wire)
    assert SIMPLE.decode(bytes.fromhex(wire)) == packet


def test_serial_number_example_decodes_lsb_first():
    reply = SIMPLE.decode(bytes.fromhex("01 03 02 00 4E 61 BC 8F"))
    assert int.from_bytes(reply.data, "little") == 12_345_678


def test_crc16_xmodem_check_value_and_reset_example():
    assert cc.crc16_xmodem(b"123456789") == 0x31C3
    assert cc.crc16_xmodem(bytes.fromhex("28 00 01")) == 0x3F46


@pytest.mark.parametrize(("placement", "wire"), [("lo_in_source", "28 00 46 01 3F"), ("hi_in_source", "28 00 3F 01 46")])
def test_crc16_reset_packet_both_placements(placement, wire):
    codec = cc.Codec("crc16", placement)
    assert codec.encode(cc.Packet(40, 1, cc.RESET)) == bytes.fromhex(wire)
    assert codec.decode(bytes.fromhex(wire)) == cc.Packet(40, None, cc.RESET)
    other = cc.Codec("crc16", "hi_in_source" if placement == "lo_in_source" else "lo_in_source")
    assert other.decode(bytes.fromhex(wire)) is None


def test_bad_checksum_is_refused():
    assert SIMPLE.decode(bytes.fromhex("28 00 01 FE D8")) is None
    assert SIMPLE.decode(bytes.fromhex("28 01 01 FE D9")) is None  # length disagrees


def test_bad_options_are_refused():
    with pytest.raises(ValueError):
        cc.Codec("xor")
    with pytest.raises(ValueError):
        cc.Codec("crc16", "middle")


def test_parser_split_bytes_and_resync_after_garbage():
    parser = cc.PacketParser(SIMPLE)
    wire = bytes.fromhex("01 03 02 00 4E 61 BC 8F")
    assert all(parser.feed(bytes((b,)), now=1.0) == [] for b in wire[:-1])
    assert parser.feed(wire[-1:], now=1.0) == [SIMPLE.decode(wire)]
    assert parser.feed(bytes.fromhex("77 00") + wire, now=1.0) == [SIMPLE.decode(wire)]


def test_parser_drops_a_partial_packet_after_the_inter_byte_gap():
    parser = cc.PacketParser(SIMPLE)
    assert parser.feed(bytes.fromhex("01 40 02"), now=1.0) == []  # claims 64 data bytes
    wire = bytes.fromhex("01 00 28 00 D7")
    assert parser.feed(wire, now=1.5) == [cc.Packet(1, 40, 0)]


@pytest.mark.parametrize(("last", "counter", "new"), [
    (0, 0, 0), (0, 3, 3), (3, 3, 0), (3, 5, 2), (254, 255, 1), (255, 1, 1), (250, 3, 8), (1, 1, 0), (5, 4, 254),
])
def test_event_counter_arithmetic_wraps_255_to_1(last, counter, new):
    assert new_events(last, counter) == new


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([("simple", "lo_in_source"), ("crc16", "lo_in_source"), ("crc16", "hi_in_source")]),
       st.binary(max_size=400), st.lists(st.integers(0, 400), max_size=20))
def test_noise_never_crashes_and_every_packet_is_on_the_wire(mode, noise, cuts):
    codec = cc.Codec(*mode)
    parser, last = cc.PacketParser(codec), 0
    for cut in sorted(c % (len(noise) + 1) for c in cuts) + [len(noise)]:
        for packet in parser.feed(noise[last:cut], now=0.0):
            assert codec.encode(packet) in noise or packet.source is None
        last = cut


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([("simple", "lo_in_source"), ("crc16", "lo_in_source"), ("crc16", "hi_in_source")]),
       st.lists(st.tuples(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=20)), min_size=1, max_size=6),
       st.lists(st.integers(0, 500), max_size=20), st.binary(max_size=30))
def test_packets_survive_splits_merges_and_noise_before_a_gap(mode, specs, cuts, noise):
    codec = cc.Codec(*mode)
    packets = [cc.Packet(d, None if mode[0] == "crc16" else s, h, data) for d, s, (h, data) in
               ((d, s, (h, data)) for d, h, data in specs for s in (40,))]
    wire = b"".join(codec.encode(p) for p in packets)
    parser = cc.PacketParser(codec)
    parser.feed(noise, now=0.0)  # garbage on the line, then silence longer than the inter-byte gap
    got, last = [], 0
    for cut in sorted(c % (len(wire) + 1) for c in cuts) + [len(wire)]:
        got += parser.feed(wire[last:cut], now=1.0)
        last = cut
    assert got == packets
