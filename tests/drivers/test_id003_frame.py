"""ID003 framing: the published frames byte for byte, CRC-16/KERMIT, the incremental parser, bill table."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.drivers import id003_frame as jf

VECTORS = [line.split(maxsplit=2) for line in (Path(__file__).parent / "data" / "id003_vectors.txt")
           .read_text().splitlines() if line and not line.startswith("#")]


@pytest.mark.parametrize(("name", "direction", "wire"), VECTORS, ids=[v[0] for v in VECTORS])
def test_published_frames_are_encoded_and_parsed_byte_for_byte(name, direction, wire):
    raw = bytes.fromhex(wire)
    (frame,) = jf.FrameParser().feed(raw)
    assert isinstance(frame, jf.Frame)
    assert jf.encode(frame.code, frame.data) == raw
    assert raw[1] == len(raw)  # LNG is the whole frame's length


def test_crc_is_kermit_with_check_value_2189():
    assert jf.crc16_kermit(b"123456789") == 0x2189


def test_parser_reassembles_frames_split_anywhere_and_skips_noise():
    wire = b"\x00\x13" + jf.encode(jf.ESCROW, b"\x63") + b"\xfc" + jf.encode(jf.VEND_VALID)
    parser = jf.FrameParser()
    got = []
    for byte in wire:
        got += parser.feed(bytes((byte,)))
    assert got == [jf.Frame(jf.ESCROW, b"\x63"), jf.Frame(jf.VEND_VALID)]


def test_a_corrupted_frame_is_reported_and_the_next_one_still_found():
    bad = bytearray(jf.encode(jf.STACKED))
    bad[2] ^= 0x01
    items = jf.FrameParser().feed(bytes(bad) + jf.encode(jf.IDLING))
    assert isinstance(items[0], jf.BadFrame) and items[-1] == jf.Frame(jf.IDLING)


def test_denomination_mask_bit_one_inhibits_code_0x61_plus_bit():
    assert jf.denomination_mask({0x61, 0x68}) == b"\x81\x00"
    assert jf.inhibited_codes(b"\x81\x00") == {0x61, 0x68}
    assert jf.denomination_mask(set()) == b"\x00\x00"


def test_currency_table_records_give_mantissa_times_ten_to_the_exponent_and_skip_empty_slots():
    data = bytes((0x61, 0x27, 1, 1, 0x62, 0x27, 0, 0, 0x63, 0x27, 5, 3))
    records = jf.parse_currency_table(data)
    assert [(r.escrow_code, r.units) for r in records] == [(0x61, 10), (0x63, 5000)]
    assert jf.encode_currency_table(records) == data[:4] + data[8:]
