"""CCNET framing: CRC-16/KERMIT, every frame from the protocol notes, and a parser that survives noise."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.drivers import ccnet_frame as cf
from kiosk.drivers.ccnet import parse_bill_table
from kiosk.emulators.ccnet import bill_table_for, encode_bill_table, mask_bytes, mask_types

HOST_FRAMES = [
    ("RESET", cf.RESET, b"", "02 03 06 30 41 B3"),
    ("POLL", cf.POLL, b"", "02 03 06 33 DA 81"),
    ("ACK", cf.ACK, b"", "02 03 06 00 C2 82"),
    ("NAK", cf.NAK, b"", "02 03 06 FF BA 8D"),
    ("STACK", cf.STACK, b"", "02 03 06 35 EC E4"),
    ("RETURN", cf.RETURN, b"", "02 03 06 36 77 D6"),
    ("IDENTIFICATION", cf.IDENTIFICATION, b"", "02 03 06 37 FE C7"),
    ("HOLD", cf.HOLD, b"", "02 03 06 38 09 3F"),
    ("GET BILL TABLE", cf.GET_BILL_TABLE, b"", "02 03 06 41 4F D1"),
    ("ENABLE BILL TYPES", cf.ENABLE_BILL_TYPES, bytes.fromhex("0000FC000000"), "02 03 0C 34 00 00 FC 00 00 00 08 EC"),
]
DEVICE_FRAMES = [("IDLING", b"\x14", "02 03 06 14 67 D4"), ("ESCROW type 2", b"\x80\x02", "02 03 07 80 02 9E 10")]


def test_crc16_kermit_check_value():
    assert cf.crc16_kermit(b"123456789") == 0x2189


@pytest.mark.parametrize(("name", "code", "data", "wire"), HOST_FRAMES, ids=[f[0] for f in HOST_FRAMES])
def test_host_frame_bytes_match_protocol_notes(name, code, data, wire):
    assert cf.command(code, data) == bytes.fromhex(wire)
    (frame,) = cf.FrameParser().feed(bytes.fromhex(wire))
    assert frame == cf.Frame(cf.ADDR_BILL_VALIDATOR, bytes((code,)) + data)


@pytest.mark.parametrize(("name", "payload", "wire"), DEVICE_FRAMES, ids=[f[0] for f in DEVICE_FRAMES])
def test_device_frame_bytes_match_protocol_notes(name, payload, wire):
    assert cf.encode(payload) == bytes.fromhex(wire)
    (frame,) = cf.FrameParser().feed(bytes.fromhex(wire))
    assert frame.payload == payload


def test_parser_needs_more_bytes_until_frame_complete():
    parser = cf.FrameParser()
    wire = bytes.fromhex("02 03 07 80 02 9E 10")
    for byte in wire[:-1]:
        assert parser.feed(bytes((byte,))) == []
    assert parser.pending == len(wire) - 1
    assert parser.feed(wire[-1:]) == [cf.Frame(3, b"\x80\x02")]
    assert parser.pending == 0


def test_bad_crc_is_reported_and_next_frame_still_found():
    bad = bytearray(cf.encode(b"\x81\x04"))
    bad[-1] ^= 0xFF
    out = cf.FrameParser().feed(bytes(bad) + cf.encode(b"\x14"))
    assert isinstance(out[0], cf.BadFrame) and out[0].raw == bytes(bad)
    assert out[-1] == cf.Frame(3, b"\x14")
    assert not any(isinstance(o, cf.Frame) and o.payload[0] == 0x81 for o in out)


def test_false_sync_in_noise_does_not_swallow_real_frame():
    noise = bytes.fromhex("FF 02 03 40 11 22")  # a "frame start" claiming 64 bytes
    out = cf.FrameParser().feed(noise + cf.encode(b"\x81\x04") + bytes(60))
    assert cf.Frame(3, b"\x81\x04") in out


def test_short_length_byte_is_not_a_frame():
    assert cf.FrameParser().feed(bytes.fromhex("02 03 05 33 00") + cf.encode(b"\x14")) == [cf.Frame(3, b"\x14")]


def test_payload_size_is_checked():
    with pytest.raises(ValueError):
        cf.encode(b"")
    with pytest.raises(ValueError):
        cf.encode(bytes(246))


def test_bill_table_round_trip_in_kopecks():
    table = bill_table_for((10, 50, 100, 200, 500, 1000, 2000, 5000))
    bills = parse_bill_table(encode_bill_table(table))
    assert {b.bill_type: b.value for b in bills} == table
    assert {b.value for b in bills} == {1000, 5000, 10000, 20000, 50000, 100000, 200000, 500000}
    assert all(b.country == "RUS" for b in bills)


def test_bill_table_negative_power_of_ten():
    entry = bytes((5,)) + b"USA" + bytes((0x81,))  # 5 × 10^-1 = 0.50
    assert parse_bill_table(entry + bytes(115))[0].value == 50


@pytest.mark.parametrize(("order", "wire"), [("y3_first", "00 00 FC"), ("y1_first", "FC 00 00")])
def test_mask_bit_orders(order, wire):
    assert mask_bytes({2, 3, 4, 5, 6, 7}, order) == bytes.fromhex(wire)
    assert mask_types(bytes.fromhex(wire), order) == {2, 3, 4, 5, 6, 7}


# -- property tests ------------------------------------------------------------------------------
payloads = st.binary(min_size=1, max_size=40)


def _feed_split(data: bytes, cuts: list[int]) -> list:
    parser, out, last = cf.FrameParser(), [], 0
    for cut in sorted(c % (len(data) + 1) for c in cuts) + [len(data)]:
        out += parser.feed(data[last:cut])
        last = cut
    return out


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.lists(st.integers(0, 600), max_size=20))
def test_noise_never_crashes_and_never_invents_frames(noise, cuts):
    for item in _feed_split(noise, cuts):
        raw = item.raw if isinstance(item, cf.BadFrame) else None
        if isinstance(item, cf.Frame):
            raw = cf.encode(item.payload, item.address)
        assert raw in noise  # everything reported is literally on the wire, CRC-checked when a Frame


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.binary(max_size=30), payloads), min_size=1, max_size=8),
       st.lists(st.integers(0, 2000), max_size=30))
def test_real_frames_survive_noise_splits_and_merges(chunks, cuts):
    wire = b"".join(noise + cf.encode(payload) for noise, payload in chunks)
    got = [i.payload for i in _feed_split(wire, cuts) if isinstance(i, cf.Frame)]
    it = iter(got)
    assert all(any(p == g for g in it) for _, p in chunks)  # every real frame, in order
