"""Shtrih-M framing: the protocol notes' worked examples, recomputed vectors, partial input, garbage, resync."""

from __future__ import annotations

import pytest

from kiosk.drivers import shtrih_frame as sf


def test_short_status_with_password_30_matches_the_worked_example() -> None:
    assert sf.request(sf.SHORT_STATUS, 30) == bytes.fromhex("02 05 10 1E 00 00 00 0B")


def test_fn_status_with_password_2_matches_the_worked_example() -> None:
    assert sf.request(sf.FN_STATUS, 2) == bytes.fromhex("02 06 FF 01 02 00 00 00 FA")


def test_recomputed_vectors() -> None:
    # cut (25) with cashier password 1, partial cut: LEN 06, LRC 06^25^01^01 = 23
    assert sf.request(sf.CUT, 1, b"\x01") == bytes.fromhex("02 06 25 01 00 00 00 01 23")
    # device type takes no password: 02 01 FC FD
    assert sf.request(sf.DEVICE_TYPE, None) == bytes.fromhex("02 01 FC FD")
    # an error answer carries CMD and ERR only: 88 refused with 6B → 02 02 88 6B LRC(02^88^6B = E1)
    assert sf.reply(sf.CANCEL_RECEIPT, 0x6B, b"ignored") == bytes.fromhex("02 02 88 6B E1")
    # FN find-document answer, two-byte command: FF 0A 00 + data
    assert sf.reply(sf.FN_FIND_DOCUMENT, 0, b"\x02") == bytes.fromhex("02 04 FF 0A 00 02") + bytes((0x04 ^ 0xFF ^ 0x0A ^ 0x02,))


def test_parse_request_and_answer() -> None:
    parser = sf.FrameParser()
    (frame,) = parser.feed(sf.request(sf.FN_OPERATION, 30, b"\x01\x02"))
    assert isinstance(frame, sf.Frame)
    assert sf.Request.parse(frame) == sf.Request(sf.FN_OPERATION, 30, b"\x01\x02")
    (frame,) = parser.feed(sf.reply(sf.SHORT_STATUS, 0, b"\x1e\x02\x00"))
    assert isinstance(frame, sf.Frame)
    assert sf.Answer.parse(frame) == sf.Answer(sf.SHORT_STATUS, 0, b"\x1e\x02\x00")


def test_frame_split_across_chunks_waits_for_more_bytes() -> None:
    parser = sf.FrameParser()
    wire = sf.request(sf.FULL_STATUS, 1)
    for index in range(len(wire) - 1):
        assert parser.feed(wire[index:index + 1]) == []
    assert parser.pending == len(wire) - 1
    assert parser.feed(wire[-1:]) == [sf.Frame(wire[2:-1])]
    assert parser.pending == 0


def test_handshake_bytes_before_a_frame_are_noise() -> None:
    parser = sf.FrameParser()
    frames = parser.feed(bytes((sf.ACK,)) + sf.reply(sf.OPEN_SHIFT, 0, b"\x1e"))
    assert [sf.Answer.parse(f) for f in frames if isinstance(f, sf.Frame)] == [sf.Answer(sf.OPEN_SHIFT, 0, b"\x1e")]
    assert parser.take_noise() == bytes((sf.ACK,))
    assert parser.take_noise() == b""


def test_bad_lrc_is_reported_whole_and_the_next_frame_still_parses() -> None:
    parser = sf.FrameParser()
    good = sf.reply(sf.CUT, 0, b"\x01")
    bad = bytearray(good)
    bad[-1] ^= 0x55
    out = parser.feed(bytes(bad) + good)
    assert out == [sf.BadFrame(bytes(bad)), sf.Frame(good[2:-1])]


def test_garbage_and_zero_length_stx_are_skipped() -> None:
    parser = sf.FrameParser()
    good = sf.reply(sf.Z_REPORT, 0, b"\x1e")
    out = parser.feed(b"\xaa\x55\x02\x00\x13" + good)
    assert out == [sf.Frame(good[2:-1])]
    assert parser.take_noise() == b"\xaa\x55\x02\x00\x13"


def test_reset_forgets_a_partial_frame() -> None:
    parser = sf.FrameParser()
    good = sf.reply(sf.CUT, 0, b"\x01")
    parser.feed(good[:3])
    parser.reset()
    assert parser.feed(good) == [sf.Frame(good[2:-1])]


def test_limits() -> None:
    with pytest.raises(ValueError):
        sf.encode(b"")
    with pytest.raises(ValueError):
        sf.encode(b"\x00" * 256)
    with pytest.raises(ValueError):
        sf.command_bytes(0x1FF)
    assert len(sf.encode(b"\x00" * 255)) == 258
    with pytest.raises(ValueError, match="password"):
        sf.Request.parse(sf.Frame(b"\x10\x01\x00"))
    with pytest.raises(ValueError, match="error byte"):
        sf.Answer.parse(sf.Frame(b"\xff\x01"))
